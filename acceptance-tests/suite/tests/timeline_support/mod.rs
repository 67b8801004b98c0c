//! When did objects in a namespace change? Watches (through the real API, so it works on a real
//! cluster as on the test server) record each Deployment scale to zero and each deletion of a
//! Deployment, Role, RoleBinding, ServiceAccount, ConfigMap or Secret, with the time the event
//! arrived. Tests that cannot read the test server's request log order operations by it.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::serde::de::DeserializeOwned;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// What happened to an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A Deployment's `spec.replicas` became 0.
    ScaledToZero,
    Deleted,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub at: DateTime<Utc>,
    /// Lower-case kind: `deployment`, `role`, `rolebinding`, `serviceaccount`, `configmap`,
    /// `secret`.
    pub kind: &'static str,
    pub name: String,
    pub change: Change,
}

/// The changes seen since [`Timeline::start`].
#[derive(Clone, Default)]
pub struct Timeline {
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl Timeline {
    /// Starts watching `namespace` on `runtime`; only changes after this call are recorded
    /// (each watch starts from its list's resourceVersion).
    pub fn start(runtime: &tokio::runtime::Runtime, kubeconfig: &Path, namespace: &str) -> Self {
        let timeline = Timeline::default();
        let client = runtime.block_on(async {
            let kc = Kubeconfig::read_from(kubeconfig).expect("read kubeconfig");
            let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .expect("kube config");
            kube::Client::try_from(config).expect("kube client")
        });
        let ready = runtime.block_on(async {
            let mut ready = Vec::new();
            ready.push(
                watch::<Deployment>(&client, namespace, "deployment", &timeline, |d| {
                    d.spec.as_ref().and_then(|s| s.replicas) == Some(0)
                })
                .await,
            );
            ready.push(watch::<Role>(&client, namespace, "role", &timeline, |_| false).await);
            ready.push(
                watch::<RoleBinding>(&client, namespace, "rolebinding", &timeline, |_| false).await,
            );
            ready.push(
                watch::<ServiceAccount>(&client, namespace, "serviceaccount", &timeline, |_| false)
                    .await,
            );
            ready.push(
                watch::<ConfigMap>(&client, namespace, "configmap", &timeline, |_| false).await,
            );
            ready.push(watch::<Secret>(&client, namespace, "secret", &timeline, |_| false).await);
            ready
        });
        for (rv, task) in ready {
            runtime.spawn(task(rv));
        }
        timeline
    }

    /// When `kind`/`name` first changed so.
    pub fn when(&self, kind: &str, name: &str, change: &Change) -> Option<DateTime<Utc>> {
        self.entries()
            .into_iter()
            .find(|e| e.kind == kind && e.name == name && &e.change == change)
            .map(|e| e.at)
    }

    /// Whether anything was deleted.
    pub fn any_deleted(&self) -> bool {
        self.entries().iter().any(|e| e.change == Change::Deleted)
    }

    /// Whether a Deployment was scaled to zero.
    pub fn any_scaled_to_zero(&self) -> bool {
        self.entries()
            .iter()
            .any(|e| e.change == Change::ScaledToZero)
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn record(&self, kind: &'static str, name: String, change: Change) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !entries
            .iter()
            .any(|e| e.kind == kind && e.name == name && e.change == change)
        {
            entries.push(Entry {
                at: Utc::now(),
                kind,
                name,
                change,
            });
        }
    }
}

type WatchTask = Box<dyn FnOnce(String) -> futures::future::BoxFuture<'static, ()> + Send>;

/// Lists `K` in `namespace` (for a starting resourceVersion) and returns a task that watches
/// from there, re-watching when the server ends a watch.
async fn watch<K>(
    client: &kube::Client,
    namespace: &str,
    kind: &'static str,
    timeline: &Timeline,
    scaled_to_zero: fn(&K) -> bool,
) -> (String, WatchTask)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let list = api.list(&ListParams::default()).await.expect("list");
    let rv = list.metadata.resource_version.unwrap_or_default();
    let timeline = timeline.clone();
    let task: WatchTask = Box::new(move |rv: String| {
        Box::pin(async move {
            let mut rv = rv;
            loop {
                let Ok(stream) = api.watch(&WatchParams::default().timeout(290), &rv).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                let mut stream = stream.boxed();
                while let Ok(Some(event)) = stream.try_next().await {
                    let (object, deleted) = match event {
                        WatchEvent::Added(o) | WatchEvent::Modified(o) => (o, false),
                        WatchEvent::Deleted(o) => (o, true),
                        WatchEvent::Bookmark(b) => {
                            rv = b.metadata.resource_version;
                            continue;
                        }
                        WatchEvent::Error(_) => break,
                    };
                    let name = object.meta().name.clone().unwrap_or_default();
                    if let Some(v) = object.meta().resource_version.clone() {
                        rv = v;
                    }
                    if deleted {
                        timeline.record(kind, name, Change::Deleted);
                    } else if scaled_to_zero(&object) {
                        timeline.record(kind, name, Change::ScaledToZero);
                    }
                }
            }
        })
    });
    (rv, task)
}
