//! Digests that let plans show *which* Secret key changed without storing or showing values.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// One digest per key.
pub fn key_digests<V: AsRef<[u8]>>(data: &BTreeMap<String, V>) -> BTreeMap<String, String> {
    data.iter()
        .map(|(k, v)| (k.clone(), sha256(v.as_ref())))
        .collect()
}

/// One digest over `keys` of `data`, in the given order; each key and value is length-prefixed
/// so moving bytes between keys changes the digest. A missing key counts as empty.
pub fn combined_digest<V: AsRef<[u8]>>(data: &BTreeMap<String, V>, keys: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for key in keys {
        let value = data.get(*key).map_or(&[][..], AsRef::as_ref);
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key.as_bytes());
        hasher.update((value.len() as u64).to_be_bytes());
        hasher.update(value);
    }
    format!("sha256:{:x}", hasher.finalize())
}

/// [`combined_digest`] over every key of `data`, in key order: a key changed, added or deleted
/// changes it. What a release takes to roll its pods when the Secret changes.
pub fn all_keys_digest<V: AsRef<[u8]>>(data: &BTreeMap<String, V>) -> String {
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    combined_digest(data, &keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_prefixed_hex_and_match_known_vectors() {
        assert_eq!(
            sha256(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn combined_digest_depends_on_which_key_holds_the_value() {
        let a = BTreeMap::from([("x".to_owned(), "ab"), ("y".to_owned(), "")]);
        let b = BTreeMap::from([("x".to_owned(), "a"), ("y".to_owned(), "b")]);
        let c = BTreeMap::from([("x".to_owned(), ""), ("y".to_owned(), "ab")]);
        let keys = ["x", "y"];
        let digests = [
            combined_digest(&a, &keys),
            combined_digest(&b, &keys),
            combined_digest(&c, &keys),
        ];
        assert_ne!(digests[0], digests[1]);
        assert_ne!(digests[0], digests[2]);
        assert_ne!(digests[1], digests[2]);
        let missing = BTreeMap::from([("x".to_owned(), "ab")]);
        assert_eq!(combined_digest(&missing, &keys), digests[0]);
    }

    #[test]
    fn the_all_keys_digest_changes_when_a_key_is_added_or_deleted() {
        let one = BTreeMap::from([("a.crt".to_owned(), "x")]);
        let two = BTreeMap::from([("a.crt".to_owned(), "x"), ("b".to_owned(), "")]);
        assert_ne!(all_keys_digest(&one), all_keys_digest(&two));
        assert_eq!(all_keys_digest(&one), combined_digest(&one, &["a.crt"]));
    }

    #[test]
    fn key_digests_cover_every_key() {
        let d = key_digests(&BTreeMap::from([
            ("a".to_owned(), b"1".to_vec()),
            ("b".to_owned(), b"".to_vec()),
        ]));
        assert_eq!(d.len(), 2);
        assert_eq!(d["b"], sha256(b""));
    }
}
