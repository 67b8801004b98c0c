//! Private state: provider-only data Terraform stores next to a resource's state, never shown to
//! users. Kept here as a JSON object of named entries.

use std::collections::BTreeMap;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::diagnostics::{Diagnostic, Diagnostics};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrivateState {
    entries: BTreeMap<String, serde_json::Value>,
}

impl PrivateState {
    /// Decodes the bytes Terraform hands back (empty means no entries).
    pub fn from_bytes(bytes: &[u8]) -> Result<PrivateState, Diagnostics> {
        if bytes.is_empty() {
            return Ok(PrivateState::default());
        }
        let entries = serde_json::from_slice(bytes).map_err(|e| {
            Diagnostics::from(Diagnostic::error(
                "Invalid Private State",
                format!("The resource's private state is not a JSON object ({e}). Removing the resource from state and importing it again resets it."),
            ))
        })?;
        Ok(PrivateState { entries })
    }

    /// The bytes to give Terraform (empty when there are no entries).
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        serde_json::to_vec(&self.entries).unwrap_or_default()
    }

    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Diagnostics> {
        let Some(v) = self.entries.get(key) else {
            return Ok(None);
        };
        serde_json::from_value(v.clone()).map(Some).map_err(|e| {
            Diagnostics::from(Diagnostic::error(
                "Invalid Private State",
                format!("Private state entry {key:?} has an unexpected shape: {e}."),
            ))
        })
    }

    pub fn set<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), Diagnostics> {
        let v = serde_json::to_value(value).map_err(|e| {
            Diagnostics::from(Diagnostic::error(
                "Provider Bug: Cannot Store Private State",
                format!("Entry {key:?}: {e}."),
            ))
        })?;
        self.entries.insert(key.to_owned(), v);
        Ok(())
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_bytes() {
        let mut p = PrivateState::default();
        assert!(p.to_bytes().is_empty());
        p.set("revision", &3).unwrap();
        let back = PrivateState::from_bytes(&p.to_bytes()).unwrap();
        assert_eq!(back.get::<i32>("revision").unwrap(), Some(3));
        assert_eq!(back.get::<i32>("absent").unwrap(), None);
    }

    #[test]
    fn garbage_bytes_are_a_diagnostic() {
        assert!(PrivateState::from_bytes(b"\x01\x02").is_err());
    }
}
