//! The in-memory content: blobs (content-addressed, linked into repositories), manifests, tags
//! and upload sessions. No I/O and no HTTP here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;

/// A stored manifest: the exact bytes pushed and the media type they were pushed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    /// `sha256:…` of [`StoredManifest::bytes`].
    pub digest: String,
    /// The request `Content-Type` (or the body's `mediaType` when the request had none).
    pub media_type: String,
    pub bytes: Bytes,
    /// The `subject` descriptor's digest, if any.
    pub subject: Option<String>,
    /// `artifactType`, or for image manifests without one the config media type.
    pub artifact_type: Option<String>,
    /// The manifest's `annotations` object, if any.
    pub annotations: Option<serde_json::Value>,
}

/// One repository.
#[derive(Debug, Default)]
pub struct Repository {
    /// Digests of the blobs linked into this repository.
    pub blobs: BTreeSet<String>,
    pub manifests: HashMap<String, StoredManifest>,
    /// Tag → manifest digest, in lexical order.
    pub tags: BTreeMap<String, String>,
}

/// An upload in progress.
#[derive(Debug)]
pub struct Upload {
    pub repository: String,
    pub data: Vec<u8>,
}

/// All registry content.
#[derive(Debug, Default)]
pub struct Store {
    blobs: HashMap<String, Bytes>,
    pub repositories: BTreeMap<String, Repository>,
    pub uploads: HashMap<String, Upload>,
}

impl Store {
    /// The blob's bytes if it is linked into `repository`.
    pub fn blob(&self, repository: &str, digest: &str) -> Option<Bytes> {
        let repo = self.repositories.get(repository)?;
        if repo.blobs.contains(digest) {
            self.blobs.get(digest).cloned()
        } else {
            None
        }
    }

    /// Stores a blob and links it into `repository` (creating the repository).
    pub fn put_blob(&mut self, repository: &str, digest: &str, bytes: Bytes) {
        self.blobs.entry(digest.to_string()).or_insert(bytes);
        self.link_blob(repository, digest);
    }

    /// Links an existing blob into `repository`.
    pub fn link_blob(&mut self, repository: &str, digest: &str) {
        self.repositories
            .entry(repository.to_string())
            .or_default()
            .blobs
            .insert(digest.to_string());
    }

    /// Unlinks a blob from `repository`; `false` if it was not linked. The bytes are kept while
    /// another repository links them (there is no garbage collection of unlinked bytes either).
    pub fn unlink_blob(&mut self, repository: &str, digest: &str) -> bool {
        self.repositories
            .get_mut(repository)
            .is_some_and(|r| r.blobs.remove(digest))
    }

    /// Stores a manifest, and points `tag` at it when given.
    pub fn put_manifest(&mut self, repository: &str, manifest: StoredManifest, tag: Option<&str>) {
        let repo = self.repositories.entry(repository.to_string()).or_default();
        if let Some(tag) = tag {
            repo.tags.insert(tag.to_string(), manifest.digest.clone());
        }
        repo.manifests.insert(manifest.digest.clone(), manifest);
    }

    /// The manifest a tag or digest names.
    pub fn manifest(&self, repository: &str, reference: &str) -> Option<&StoredManifest> {
        let repo = self.repositories.get(repository)?;
        let digest = repo.tags.get(reference).map_or(reference, String::as_str);
        repo.manifests.get(digest)
    }

    /// Whether a manifest with `digest` exists in `repository`.
    pub fn has_manifest(&self, repository: &str, digest: &str) -> bool {
        self.repositories
            .get(repository)
            .is_some_and(|r| r.manifests.contains_key(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(digest: &str) -> StoredManifest {
        StoredManifest {
            digest: digest.into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            bytes: Bytes::from_static(b"{}"),
            subject: None,
            artifact_type: None,
            annotations: None,
        }
    }

    #[test]
    fn blobs_are_visible_only_where_linked() {
        let mut store = Store::default();
        store.put_blob("a", "sha256:1", Bytes::from_static(b"x"));
        assert_eq!(store.blob("a", "sha256:1").as_deref(), Some(&b"x"[..]));
        assert_eq!(store.blob("b", "sha256:1"), None);
        store.link_blob("b", "sha256:1");
        assert!(store.blob("b", "sha256:1").is_some());
        assert!(store.unlink_blob("a", "sha256:1"));
        assert!(!store.unlink_blob("a", "sha256:1"));
        assert!(store.blob("a", "sha256:1").is_none());
        assert!(store.blob("b", "sha256:1").is_some());
    }

    #[test]
    fn manifests_resolve_by_tag_and_digest() {
        let mut store = Store::default();
        store.put_manifest("r", manifest("sha256:m"), Some("v1"));
        assert_eq!(
            store.manifest("r", "v1").map(|m| m.digest.as_str()),
            Some("sha256:m")
        );
        assert!(store.manifest("r", "sha256:m").is_some());
        assert!(store.manifest("r", "v2").is_none());
        assert!(store.has_manifest("r", "sha256:m"));
        assert!(!store.has_manifest("s", "sha256:m"));
    }
}
