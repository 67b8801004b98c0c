//! A value kept once per distinct connection (and tokio runtime) for the provider process: the
//! client and the shared reads. Keyed by the runtime too, because a client's buffer worker lives
//! on the runtime that built it: tests that run resources in several runtimes never get one
//! whose runtime has shut down.

use std::sync::{Arc, Mutex, PoisonError};

use kube_connection::KubernetesConnection;
use tokio::runtime::{Handle, Id as RuntimeId};

type Entry<T> = (Option<RuntimeId>, KubernetesConnection, Arc<T>);

pub struct PerConnection<T> {
    entries: Mutex<Vec<Entry<T>>>,
}

impl<T: Default> PerConnection<T> {
    pub const fn new() -> PerConnection<T> {
        PerConnection {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// The value of `connection` on the current runtime (if any), made with `T::default()` the
    /// first time.
    pub fn get(&self, connection: &KubernetesConnection) -> Arc<T> {
        let runtime = Handle::try_current().ok().map(|h| h.id());
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, value)) = entries
            .iter()
            .find(|(r, c, _)| *r == runtime && c == connection)
        {
            return Arc::clone(value);
        }
        let value = Arc::new(T::default());
        entries.push((runtime, connection.clone(), Arc::clone(&value)));
        value
    }

    /// Calls `f` with every value kept.
    pub fn for_each(&self, mut f: impl FnMut(&T)) {
        for (_, _, value) in self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            f(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_on_one_runtime_has_one_value_and_another_connection_its_own() {
        static VALUES: PerConnection<std::sync::atomic::AtomicUsize> = PerConnection::new();
        let here = KubernetesConnection {
            host: Some("https://shared.example:6443".into()),
            ..KubernetesConnection::default()
        };
        let elsewhere = KubernetesConnection {
            host: Some("https://other.example:6443".into()),
            ..KubernetesConnection::default()
        };
        let first = VALUES.get(&here);
        assert!(Arc::ptr_eq(&first, &VALUES.get(&here)));
        assert!(!Arc::ptr_eq(&first, &VALUES.get(&elsewhere)));
        let mut seen = 0;
        VALUES.for_each(|_| seen += 1);
        assert_eq!(seen, 2);
    }
}
