//! Watching a set of pods (by label selector) with the kube-runtime watcher, publishing the
//! current set after every change. Used for the job pods and for the manager's pods.

use std::collections::BTreeMap;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the watcher knows about the selected pods.
#[derive(Debug, Clone, Default)]
pub enum PodView {
    /// The initial list has not arrived yet.
    #[default]
    Starting,
    /// Every selected pod, by name.
    Known(BTreeMap<String, Pod>),
    /// Watching failed in a way retrying cannot fix (401/403): the message says what to do.
    Failed(String),
}

/// Watches pods matching `label_selector` in `namespace` until `cancel` fires or nobody listens.
/// Transient failures are retried with kube-runtime's default backoff (and logged).
pub async fn watch_pods(
    client: kube::Client,
    namespace: String,
    label_selector: String,
    sender: watch::Sender<PodView>,
    cancel: CancellationToken,
) {
    let api: Api<Pod> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().labels(&label_selector);
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut current: BTreeMap<String, Pod> = BTreeMap::new();
    let mut buffer: BTreeMap<String, Pod> = BTreeMap::new();
    let mut listed = false;
    loop {
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = sender.closed() => return,
            next = stream.next() => next,
        };
        let Some(result) = next else { return };
        let changed = match result {
            Ok(Event::Init) => {
                buffer.clear();
                false
            }
            Ok(Event::InitApply(pod)) => {
                buffer.insert(pod_name(&pod), pod);
                false
            }
            Ok(Event::InitDone) => {
                current = std::mem::take(&mut buffer);
                listed = true;
                true
            }
            Ok(Event::Apply(pod)) => {
                current.insert(pod_name(&pod), pod);
                listed
            }
            Ok(Event::Delete(pod)) => {
                current.remove(&pod_name(&pod));
                listed
            }
            Err(error) => {
                if let Some(message) = fatal_watch_error(&error, &namespace) {
                    let _ = sender.send(PodView::Failed(message));
                    return;
                }
                tracing::warn!(
                    namespace = %namespace,
                    selector = %label_selector,
                    error = %error,
                    "watching pods failed; retrying"
                );
                false
            }
        };
        if changed && sender.send(PodView::Known(current.clone())).is_err() {
            return;
        }
    }
}

fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// A message for watch failures that retrying cannot fix.
fn fatal_watch_error(error: &watcher::Error, namespace: &str) -> Option<String> {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.as_ref(),
        watcher::Error::WatchError(status) => status.as_ref(),
        _ => return None,
    };
    match status.code {
        401 => Some(format!(
            "the Kubernetes API refused the credentials (401 Unauthorized) while watching pods in \
             namespace {namespace}: check the provider's kubernetes block"
        )),
        403 => Some(format!(
            "the Kubernetes API forbids watching pods in namespace {namespace} (403 Forbidden: \
             {}): grant the provider's identity list and watch on pods there",
            status.message
        )),
        _ => None,
    }
}

/// Starts [`watch_pods`] on its own task and returns the receiving end.
pub fn spawn_pod_watch(
    client: &kube::Client,
    namespace: &str,
    label_selector: &str,
    cancel: &CancellationToken,
) -> watch::Receiver<PodView> {
    let (sender, receiver) = watch::channel(PodView::Starting);
    tokio::spawn(watch_pods(
        client.clone(),
        namespace.to_owned(),
        label_selector.to_owned(),
        sender,
        cancel.clone(),
    ));
    receiver
}
