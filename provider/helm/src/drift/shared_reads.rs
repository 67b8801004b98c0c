//! Reads shared by the releases one process inspects: one LIST per (namespace, kind) and one LIST
//! of helm's release Secrets per namespace, instead of one list and one GET per manifest object
//! for every release. N releases in a namespace then cost O(kinds) requests, not O(N × objects).
//!
//! A [`ReadCache`] is meant for the reads of one refresh (Terraform's plan phase, one provider
//! process): a listing, once made, is served to every later reader until [`ReadCache::invalidate`]
//! — which anything that writes to the cluster must call. Concurrent first readers of the same
//! key share one in-flight LIST (a [`OnceCell`] per key); a failed LIST is not kept, so the next
//! reader (or a retry) lists again. A listing older than [`MAX_AGE`] is made again.
//!
//! When a kind may not be listed (403, 405), its objects are read one by one with GET, as
//! without the cache: credentials that allow `get` only keep working. Cluster-scoped objects are
//! always read with GET (listing them would read the whole cluster).
//!
//! Listings are kept in memory only (they include other objects of the namespace, Secrets'
//! data too); nothing from them is logged or returned except the objects asked for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::value::RawValue;
use tokio::sync::OnceCell;

use super::{DriftError, get_live};
use crate::manifest::ManifestObject;
use crate::release::{
    ListedRecord, ReleaseHistory, ReleaseReadError, ReleaseSecret, newest_release_of,
};

/// What one shared LIST is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// Every helm release Secret (`owner=helm`) of a namespace.
    ReleaseSecrets { namespace: String },
    /// Every object of one kind in a namespace.
    Objects {
        namespace: String,
        group: String,
        version: String,
        plural: String,
    },
}

/// The answer of one shared LIST.
enum Listing {
    /// helm's release Secrets, kept light (payloads decoded only when read).
    Secrets(Vec<ListedRecord>),
    /// Live objects by name, parsed when first read (see [`ListedObject`]).
    Objects(HashMap<String, ListedObject>),
    /// The kind may not be listed: read its objects with GET.
    NotListable,
}

type Cell = Arc<OnceCell<Arc<Listing>>>;

/// One object of a shared listing: its JSON as the API sent it, parsed (managedFields included)
/// by the first read that asks for it, in that read's own task, then shared with later readers
/// (never copied per release). Parsing a whole listing up front held up every release of the
/// namespace until the last object was parsed, one core working and the other idle.
struct ListedObject {
    raw: Box<RawValue>,
    parsed: OnceLock<Arc<serde_json::Value>>,
}

impl ListedObject {
    fn new(raw: Box<RawValue>) -> ListedObject {
        ListedObject {
            raw,
            parsed: OnceLock::new(),
        }
    }

    fn value(&self) -> Result<Arc<serde_json::Value>, serde_json::Error> {
        if let Some(parsed) = self.parsed.get() {
            return Ok(Arc::clone(parsed));
        }
        let parsed = Arc::new(serde_json::from_str(self.raw.get())?);
        // Two first readers at once both parse; either result is the same, one is kept.
        Ok(Arc::clone(self.parsed.get_or_init(|| parsed)))
    }
}

/// What a listing needs of an object before it is read: its name.
#[derive(serde::Deserialize)]
struct Named {
    #[serde(default)]
    metadata: NameOnly,
}

#[derive(Default, serde::Deserialize)]
struct NameOnly {
    #[serde(default)]
    name: String,
}

/// A listing older than this is made again: a refresh takes seconds, and a provider process
/// kept running across several Terraform commands (debug/reattach mode) must not serve one
/// command's listing to the next.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// Listings shared by the reads of one refresh. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct ReadCache {
    entries: Mutex<HashMap<Key, (Instant, Cell)>>,
    requests: AtomicUsize,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

impl ReadCache {
    pub fn new() -> ReadCache {
        ReadCache::default()
    }

    /// Forgets every listing: the next read lists again. Call it before and after any write.
    pub fn invalidate(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// API requests this cache made since it was built.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    fn cell(&self, key: Key) -> Cell {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries
            .entry(key)
            .or_insert_with(|| (Instant::now(), Cell::default()));
        if entry.0.elapsed() > MAX_AGE {
            *entry = (Instant::now(), Cell::default());
        }
        entry.1.clone()
    }

    /// The release's revisions (newest decoded) from the namespace's shared release-Secret
    /// list; `Ok(None)` when the release has no Secret. `requests` counts the LIST if this call
    /// made it.
    pub async fn release_history(
        &self,
        client: &kube::Client,
        namespace: &str,
        release: &str,
        requests: &AtomicUsize,
    ) -> Result<Option<ReleaseHistory>, ReleaseReadError> {
        let cell = self.cell(Key::ReleaseSecrets {
            namespace: namespace.to_owned(),
        });
        let listing = cell
            .get_or_try_init(|| async {
                self.count(requests);
                let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
                let records = list_items::<ListedRecord>(
                    client,
                    api.resource_url(),
                    &ListParams::default().labels("owner=helm"),
                )
                .await?;
                Ok::<_, kube::Error>(Arc::new(Listing::Secrets(records)))
            })
            .await
            .map_err(|error| ReleaseReadError::Api {
                namespace: namespace.to_owned(),
                release: release.to_owned(),
                cause: Box::new(error),
            })?;
        let Listing::Secrets(secrets) = listing.as_ref() else {
            return Ok(None);
        };
        newest_release_of(
            secrets
                .iter()
                .filter(|secret| is_record_of(*secret, release)),
        )
    }

    /// The live copy of a manifest object (`None` when it does not exist), managedFields
    /// included: from the shared LIST of its kind, or one GET when the kind is cluster-scoped or
    /// may not be listed. `requests` counts the requests this call made.
    pub async fn live_object(
        &self,
        client: &kube::Client,
        object: &ManifestObject,
        requests: &AtomicUsize,
    ) -> Result<Option<Arc<serde_json::Value>>, DriftError> {
        let Some(namespace) = object.namespace.as_deref() else {
            self.count(requests);
            return Ok(get_live(client, object).await?.map(Arc::new));
        };
        let resource = &object.resolved.resource;
        let cell = self.objects_cell(namespace, resource);
        let listing = cell
            .get_or_try_init(|| async {
                self.count(requests);
                list_objects(client, namespace, resource, &object.kind)
                    .await
                    .map(Arc::new)
                    .map_err(|error| DriftError::Api {
                        kind: object.kind.clone(),
                        api: Box::new(resource.clone()),
                        namespace: object.namespace.clone(),
                        name: object.name.clone(),
                        cause: Box::new(error),
                    })
            })
            .await?;
        match listing.as_ref() {
            Listing::Objects(by_name) => by_name
                .get(&object.name)
                .map(ListedObject::value)
                .transpose()
                .map_err(|error| DriftError::Api {
                    kind: object.kind.clone(),
                    api: Box::new(resource.clone()),
                    namespace: object.namespace.clone(),
                    name: object.name.clone(),
                    cause: Box::new(kube::Error::SerdeError(error)),
                }),
            Listing::Secrets(_) | Listing::NotListable => {
                self.count(requests);
                Ok(get_live(client, object).await?.map(Arc::new))
            }
        }
    }

    /// Starts the listings of `kinds` (pairs of a kind's name and a namespace, e.g. from a
    /// release's `manifest_objects` of its previous refresh) without waiting for them: the reads
    /// that need them then find them made or in flight, instead of each kind being listed only
    /// after the first release's record was listed, decoded and parsed. A hint only: kinds not
    /// resolvable by name, cluster-scoped ones, and failures (not kept) are left to the reads.
    pub fn prefetch<'a>(
        self: &Arc<Self>,
        client: &kube::Client,
        kinds: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let mut started: Vec<(&str, &str)> = Vec::new();
        for (kind, namespace) in kinds {
            if started.contains(&(kind, namespace)) {
                continue;
            }
            started.push((kind, namespace));
            let Some(resolved) = crate::kinds::known_kind(kind).filter(|k| k.namespaced) else {
                continue;
            };
            let cell = self.objects_cell(namespace, &resolved.resource);
            if cell.initialized() {
                continue;
            }
            let (reads, client, namespace, kind) = (
                Arc::clone(self),
                client.clone(),
                namespace.to_owned(),
                kind.to_owned(),
            );
            tokio::spawn(async move {
                let listing = cell.get_or_try_init(|| async {
                    reads.requests.fetch_add(1, Ordering::Relaxed);
                    list_objects(&client, &namespace, &resolved.resource, &kind)
                        .await
                        .map(Arc::new)
                });
                // Bounded like a listing's life: a prefetch never outlives it.
                let _ = tokio::time::timeout(MAX_AGE, listing).await;
            });
        }
    }

    fn objects_cell(&self, namespace: &str, resource: &ApiResource) -> Cell {
        self.cell(Key::Objects {
            namespace: namespace.to_owned(),
            group: resource.group.clone(),
            version: resource.version.clone(),
            plural: resource.plural.clone(),
        })
    }

    fn count(&self, requests: &AtomicUsize) {
        requests.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// A LIST answer's items, decoded straight into what the reads keep (JSON for live objects, a
/// [`ListedRecord`] for helm's Secrets): a typed detour (`DynamicObject`, then back to JSON; a
/// full `Secret` with every payload decoded) cost more than the rest of a release's read.
#[derive(serde::Deserialize)]
struct Items<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
}

/// The items of one LIST request to `url` (a collection path).
async fn list_items<T: serde::de::DeserializeOwned>(
    client: &kube::Client,
    url: &str,
    params: &ListParams,
) -> Result<Vec<T>, kube::Error> {
    let mut request = kube::core::Request::new(url)
        .list(params)
        .map_err(kube::Error::BuildRequest)?;
    request.extensions_mut().insert("list");
    Ok(client.request::<Items<T>>(request).await?.items)
}

/// Every object of `resource`'s kind in `namespace`, kept raw and named; a kind that may not be
/// listed (403 Forbidden, 404 Not Found: not served, 405 Method Not Allowed) is
/// [`Listing::NotListable`], its objects then read one by one.
async fn list_objects(
    client: &kube::Client,
    namespace: &str,
    resource: &ApiResource,
    kind: &str,
) -> Result<Listing, kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let listed = list_items::<Box<RawValue>>(client, api.resource_url(), &ListParams::default())
        .await
        .and_then(|items| {
            items
                .into_iter()
                .map(|raw| {
                    let named: Named = serde_json::from_str(raw.get())?;
                    Ok((named.metadata.name, ListedObject::new(raw)))
                })
                .collect::<Result<HashMap<_, _>, serde_json::Error>>()
                .map_err(kube::Error::SerdeError)
        });
    match listed {
        Ok(by_name) => Ok(Listing::Objects(by_name)),
        Err(kube::Error::Api(status)) if (403..=405).contains(&status.code) => {
            tracing::debug!(
                kind,
                namespace,
                code = status.code,
                "cannot list the kind; reading its objects one by one"
            );
            Ok(Listing::NotListable)
        }
        Err(error) => Err(error),
    }
}

/// Whether `secret` is one of `release`'s records (what `owner=helm,name=<release>` selects).
fn is_record_of(secret: &impl ReleaseSecret, release: &str) -> bool {
    secret.label("owner") == Some("helm") && secret.label("name") == Some(release)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn secret(labels: &[(&str, &str)]) -> Secret {
        let mut secret = Secret::default();
        secret.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        );
        secret
    }

    #[test]
    fn a_release_s_records_are_told_apart_from_other_releases_and_other_owners() {
        assert!(is_record_of(
            &secret(&[("owner", "helm"), ("name", "runner")]),
            "runner"
        ));
        assert!(!is_record_of(
            &secret(&[("owner", "helm"), ("name", "runner-2")]),
            "runner"
        ));
        assert!(!is_record_of(
            &secret(&[("owner", "someone"), ("name", "runner")]),
            "runner"
        ));
        assert!(!is_record_of(&Secret::default(), "runner"));
    }

    #[test]
    fn invalidating_forgets_every_listing() {
        let cache = ReadCache::new();
        let cell = cache.cell(Key::ReleaseSecrets {
            namespace: "ci".into(),
        });
        assert!(cell.set(Arc::new(Listing::NotListable)).is_ok());
        assert!(
            cache
                .cell(Key::ReleaseSecrets {
                    namespace: "ci".into()
                })
                .initialized()
        );
        cache.invalidate();
        assert!(
            !cache
                .cell(Key::ReleaseSecrets {
                    namespace: "ci".into()
                })
                .initialized()
        );
    }

    #[test]
    fn a_listed_object_is_named_without_parsing_and_parsed_once_when_first_read() {
        let raw = RawValue::from_string(
            r#"{"metadata":{"name":"runner","managedFields":[{"manager":"helm"}]},"spec":{"replicas":1}}"#
                .to_owned(),
        )
        .unwrap();
        let named: Named = serde_json::from_str(raw.get()).unwrap();
        assert_eq!(named.metadata.name, "runner");
        let object = ListedObject::new(raw);
        assert!(
            object.parsed.get().is_none(),
            "nothing parsed before a read"
        );
        let first = object.value().unwrap();
        assert_eq!(first["spec"]["replicas"], 1);
        assert_eq!(first["metadata"]["managedFields"][0]["manager"], "helm");
        assert!(
            Arc::ptr_eq(&first, &object.value().unwrap()),
            "one shared copy"
        );
    }
}
