//! The object store: every object as JSON, one cluster-wide resourceVersion counter,
//! a bounded event history for watches, and a broadcast of new events.
//!
//! All state sits behind one mutex that is only held for in-memory work (never across I/O).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::resources::ResourceType;

/// How many past events are kept for watches that resume from a resourceVersion …
const HISTORY_LIMIT: usize = 50_000;
/// … and how many bytes of JSON they may hold (release Secrets are large).
const HISTORY_BYTES_LIMIT: usize = 64 * 1024 * 1024;

/// Timing knobs of the built-in controllers.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// How long a new pod stays Pending before it is Running and Ready.
    pub ready_delay: Duration,
    /// How long a deleted pod lingers with a deletionTimestamp before it vanishes.
    pub pod_termination_grace: Duration,
    /// Whether the kubelet refuses to start a pod whose Secret/ConfigMap volume is missing
    /// (`FailedMount`), as a real one always does. On by default; the admin surface can turn it
    /// off (`POST /behaviour {"check_volumes": false}`).
    pub check_volumes: bool,
}

/// A watch event as stored and broadcast.
#[derive(Debug)]
pub struct WatchEvent {
    pub rv: u64,
    pub resource: &'static ResourceType,
    pub namespace: String,
    pub event_type: &'static str,
    pub object: Value,
    /// The state before a MODIFIED event (lets filtered watches see objects enter or leave).
    pub previous: Option<Value>,
}

/// Delayed work the controllers schedule.
#[derive(Debug, Clone)]
pub enum Timer {
    PodReady {
        namespace: String,
        name: String,
        uid: String,
    },
    PodGone {
        namespace: String,
        name: String,
        uid: String,
    },
}

/// Everything the API operates on.
pub struct State {
    rv: u64,
    objects: HashMap<String, BTreeMap<(String, String), Value>>,
    history: VecDeque<(Arc<WatchEvent>, usize)>,
    history_bytes: usize,
    /// Events up to this resourceVersion were evicted from the history.
    evicted_through: u64,
    events: broadcast::Sender<Arc<WatchEvent>>,
    pub(crate) timers: Vec<(Duration, Timer)>,
    pub behaviour: Behaviour,
    /// What container images do when a pod runs them (the kubelet's test hook).
    pub images: HashMap<String, crate::kubelet::ImageBehaviour>,
}

/// Rough size of an object in memory, for bounding the event history.
fn approximate_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 24,
        Value::Array(items) => 24 + items.iter().map(approximate_size).sum::<usize>(),
        Value::Object(m) => {
            48 + m
                .iter()
                .map(|(k, v)| k.len() + 32 + approximate_size(v))
                .sum::<usize>()
        }
        _ => 16,
    }
}

/// RFC 3339 timestamp with second precision, as Kubernetes writes them.
pub fn now_timestamp() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl State {
    fn new(behaviour: Behaviour) -> Self {
        let (events, _) = broadcast::channel(8192);
        State {
            rv: 0,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_bytes: 0,
            evicted_through: 0,
            events,
            timers: Vec::new(),
            behaviour,
            images: HashMap::new(),
        }
    }

    /// The current (latest) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&rt.id())
            .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
    }

    /// Objects of a type, sorted by namespace and name; `None` namespace means all.
    pub fn list(&self, rt: &ResourceType, namespace: Option<&str>) -> Vec<&Value> {
        let Some(map) = self.objects.get(&rt.id()) else {
            return Vec::new();
        };
        match namespace {
            Some(ns) => map
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, v)| v)
                .collect(),
            None => map.values().collect(),
        }
    }

    fn emit(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        event_type: &'static str,
        object: Value,
        previous: Option<Value>,
    ) {
        let event = Arc::new(WatchEvent {
            rv: self.rv,
            resource: rt,
            namespace: namespace.to_string(),
            event_type,
            object,
            previous,
        });
        let size =
            approximate_size(&event.object) + event.previous.as_ref().map_or(0, approximate_size);
        while self.history.len() >= HISTORY_LIMIT
            || (self.history_bytes + size > HISTORY_BYTES_LIMIT && !self.history.is_empty())
        {
            if let Some((old, old_size)) = self.history.pop_front() {
                self.history_bytes -= old_size;
                self.evicted_through = old.rv;
            }
        }
        self.history_bytes += size;
        self.history.push_back((event.clone(), size));
        let _ = self.events.send(event);
    }

    /// Stores an object under a new resourceVersion and emits ADDED or MODIFIED.
    pub fn put(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        mut object: Value,
    ) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let key = (namespace.to_string(), name.to_string());
        let previous = self
            .objects
            .entry(rt.id())
            .or_default()
            .insert(key, object.clone());
        let event_type = if previous.is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        self.emit(rt, namespace, event_type, object.clone(), previous);
        object
    }

    /// Removes an object, emitting DELETED with a fresh resourceVersion.
    pub fn remove(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let mut object = self
            .objects
            .get_mut(&rt.id())?
            .remove(&(namespace.to_string(), name.to_string()))?;
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.emit(rt, namespace, "DELETED", object.clone(), None);
        Some(object)
    }

    /// Schedules delayed controller work.
    pub fn schedule(&mut self, delay: Duration, timer: Timer) {
        self.timers.push((delay, timer));
    }

    /// Subscribes to new events (events are broadcast while the lock is held, so a
    /// subscription taken under the lock sees exactly the events after `resource_version()`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<WatchEvent>> {
        self.events.subscribe()
    }

    /// Past events newer than `rv`, or `None` if the history no longer reaches back that far.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<WatchEvent>>> {
        if rv < self.evicted_through {
            return None;
        }
        Some(
            self.history
                .iter()
                .filter(|(e, _)| e.rv > rv)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }

    /// Every stored object (for state dumps).
    pub fn all_objects(&self) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .objects
            .values()
            .flat_map(|m| m.values().cloned())
            .collect();
        out.sort_by_key(|o| {
            (
                o["kind"].as_str().unwrap_or("").to_string(),
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                o["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        });
        out
    }
}

/// The shared store; controllers' timers run on the given runtime.
pub struct Store {
    state: Mutex<State>,
    runtime: tokio::runtime::Handle,
}

impl Store {
    pub fn new(behaviour: Behaviour, runtime: tokio::runtime::Handle) -> Arc<Self> {
        Arc::new(Store {
            state: Mutex::new(State::new(behaviour)),
            runtime,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs `f` with the state locked, then starts any timers it scheduled.
    pub fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, timers) = {
            let mut state = self.lock();
            let result = f(&mut state);
            (result, std::mem::take(&mut state.timers))
        };
        self.spawn_timers(timers);
        result
    }

    fn spawn_timers(self: &Arc<Self>, timers: Vec<(Duration, Timer)>) {
        for (delay, timer) in timers {
            let store = Arc::clone(self);
            self.runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                store.fire(&timer);
            });
        }
    }

    fn fire(self: &Arc<Self>, timer: &Timer) {
        let timers = {
            let mut state = self.lock();
            crate::controller::fire(&mut state, timer);
            std::mem::take(&mut state.timers)
        };
        self.spawn_timers(timers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_kind;

    fn state() -> State {
        State::new(Behaviour {
            ready_delay: Duration::ZERO,
            pod_termination_grace: Duration::ZERO,
            check_volumes: false,
        })
    }

    #[test]
    fn resource_versions_increase_and_events_are_kept() {
        let mut st = state();
        let cm = by_kind("ConfigMap").expect("type");
        let a = st.put(cm, "ns", "a", json!({"metadata": {"name": "a"}}));
        let b = st.put(
            cm,
            "ns",
            "a",
            json!({"metadata": {"name": "a"}, "data": {"k": "v"}}),
        );
        let gone = st.remove(cm, "ns", "a").expect("removed");
        let rv = |v: &Value| {
            v["metadata"]["resourceVersion"]
                .as_str()
                .expect("rv")
                .parse::<u64>()
                .expect("num")
        };
        assert!(rv(&a) < rv(&b) && rv(&b) < rv(&gone));
        let events = st.events_since(0).expect("history");
        let kinds: Vec<&str> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
        assert!(events[1].previous.is_some());
    }

    #[test]
    fn history_is_bounded_by_size() {
        let mut st = state();
        let cm = by_kind("ConfigMap").expect("type");
        let big = "x".repeat(1024 * 1024);
        for i in 0..100 {
            st.put(
                cm,
                "ns",
                &format!("o{i}"),
                json!({"metadata": {"name": "o"}, "data": {"k": big}}),
            );
        }
        assert!(st.history_bytes <= HISTORY_BYTES_LIMIT);
        assert!(
            st.events_since(0).is_none(),
            "the oldest events were evicted"
        );
        let recent = st.resource_version() - 3;
        assert_eq!(st.events_since(recent).expect("recent events").len(), 3);
    }
}
