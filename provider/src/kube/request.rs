//! [`Action`]: what one API call does, for messages ("patch secrets x in namespace y").

use std::fmt;

/// The RBAC verb of an API call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Create,
    Patch,
    Update,
    Delete,
}

impl Verb {
    /// The verb as RBAC rules spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Patch => "patch",
            Verb::Update => "update",
            Verb::Delete => "delete",
        }
    }
}

impl Verb {
    /// Whether the call changes the cluster (and so must not be served from, and must empty,
    /// the shared reads of a refresh).
    pub fn writes(self) -> bool {
        !matches!(self, Verb::Get | Verb::List)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One API call on a namespaced object: verb, resource plural (`secrets`), API group (`""` for
/// the core group), namespace and object name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub verb: Verb,
    pub resource: String,
    pub api_group: String,
    pub namespace: String,
    pub name: String,
}

impl Action {
    pub fn new(
        verb: Verb,
        resource: impl Into<String>,
        api_group: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Action {
        Action {
            verb,
            resource: resource.into(),
            api_group: api_group.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The same object with another verb.
    #[must_use]
    pub fn with_verb(&self, verb: Verb) -> Action {
        Action {
            verb,
            ..self.clone()
        }
    }
}

/// `patch secrets "name" in namespace "ns"`.
impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:?} in namespace {:?}",
            self.verb, self.resource, self.name, self.namespace
        )
    }
}
