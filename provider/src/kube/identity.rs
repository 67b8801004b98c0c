//! How this provider marks what it manages: the managed-by label on every object it creates and
//! the field manager of its server-side applies. Plain names, below both `ownership` (the rule
//! that uses them) and `error` (whose messages quote them), so neither imports the other.

/// Field manager for every server-side apply this provider sends.
pub const FIELD_MANAGER: &str = "gitlabrunner";
/// The label every object this provider creates carries.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "terraform-provider-gitlabrunner";
