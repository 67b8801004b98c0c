//! The runner's `config.toml` key catalogue: per section, the keys the runner knows, the kind of value
//! each takes, and whether it carries a secret.
//!
//! The data lives in `data/runner-config-keys.tsv` (runner 18.9) and is generated into
//! `generated.rs`; the `catalogue_source_is_up_to_date` test fails when the two disagree and
//! regenerates the file when run with `REGENERATE_CATALOGUE=1`.

#[cfg(test)]
mod codegen;
#[rustfmt::skip]
mod generated;

/// The kind of value a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String,
    /// An integer, optionally with a lower bound (`concurrent` must be at least 1).
    Integer {
        min: Option<i64>,
    },
    Bool,
    /// A Go duration string such as `"1h30m"` (an integer is read as nanoseconds).
    Duration,
    /// A TOML date-time (or an RFC 3339 string).
    DateTime,
    /// A string from a known set; other values are reported as warnings (newer runners may add values).
    Enum(&'static [&'static str]),
    StringArray,
    /// A string or an array of strings (`pull_policy`).
    StringOrStringArray,
    /// A table of string values (`node_selector`, `labels`).
    StringMap,
    /// A table of boolean values (`feature_flags`).
    BoolMap,
    /// A table whose keys are described by the named section.
    Table(&'static str),
    /// An array of tables, each described by the named section.
    ArrayOfTables(&'static str),
    /// A table whose inner keys the catalogue does not describe (Kubernetes objects such as `affinity`).
    OpaqueTable,
    /// An array of tables whose inner keys the catalogue does not describe.
    OpaqueArrayOfTables,
}

impl ValueKind {
    /// How the kind reads in a message: "an integer", "an array of strings".
    pub fn describe(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Integer { .. } => "an integer",
            Self::Bool => "a boolean",
            Self::Duration => "a duration string such as \"1h30m\"",
            Self::DateTime => "a date-time",
            Self::Enum(_) => "a string",
            Self::StringArray => "an array of strings",
            Self::StringOrStringArray => "a string or an array of strings",
            Self::StringMap => "a table of strings",
            Self::BoolMap => "a table of booleans",
            Self::Table(_) | Self::OpaqueTable => "a table",
            Self::ArrayOfTables(_) | Self::OpaqueArrayOfTables => "an array of tables",
        }
    }
}

/// Whether a key carries a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrecy {
    Plain,
    /// Free text that users sometimes fill with secrets (scripts, `environment`): values are scanned
    /// for credential patterns.
    MayHoldSecret,
    /// The key's value is a credential; it must never be written in `runners.config`.
    Secret,
}

/// One key of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: ValueKind,
    pub secrecy: Secrecy,
    /// The type as the catalogue's source states it (e.g. `*bool`, `int (>0)`).
    pub declared_type: &'static str,
}

/// One section (table) of `config.toml`, named by its dotted path without array indexes
/// (`global` is the document root; `runners.kubernetes.volumes.empty_dir` one volume entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionSpec {
    pub path: &'static str,
    pub keys: &'static [KeySpec],
}

impl SectionSpec {
    pub fn key(&self, name: &str) -> Option<&'static KeySpec> {
        self.keys.iter().find(|spec| spec.name == name)
    }
}

/// Every section of the catalogue.
pub fn sections() -> &'static [SectionSpec] {
    generated::SECTIONS
}

/// The section with this dotted path (`global`, `runners`, `runners.cache.s3`, ...).
pub fn section(path: &str) -> Option<&'static SectionSpec> {
    sections().iter().find(|section| section.path == path)
}

/// The document root (`global`).
pub fn root_section() -> &'static SectionSpec {
    section(ROOT_SECTION).unwrap_or(&EMPTY_SECTION)
}

/// The section describing one `[[runners]]` entry.
pub fn runner_section() -> &'static SectionSpec {
    section(RUNNER_SECTION).unwrap_or(&EMPTY_SECTION)
}

/// The path of the root section.
pub const ROOT_SECTION: &str = "global";
/// The path of the `[[runners]]` section.
pub const RUNNER_SECTION: &str = "runners";

static EMPTY_SECTION: SectionSpec = SectionSpec {
    path: "",
    keys: &[],
};

/// Every section that has a key of this exact name, with the key's spec.
pub fn sections_with_key(
    name: &str,
) -> impl Iterator<Item = (&'static SectionSpec, &'static KeySpec)> + '_ {
    sections()
        .iter()
        .filter_map(move |section| section.key(name).map(|spec| (section, spec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_knows_the_sections_the_renderer_writes() {
        for path in [
            "global",
            "runners",
            "runners.kubernetes",
            "runners.kubernetes.volumes",
            "runners.kubernetes.volumes.empty_dir",
            "runners.kubernetes.volumes.host_path",
            "runners.kubernetes.volumes.pvc",
            "runners.kubernetes.volumes.config_map",
            "runners.kubernetes.volumes.secret",
            "runners.cache",
            "runners.cache.s3",
            "runners.cache.gcs",
            "runners.cache.azure",
        ] {
            assert!(section(path).is_some(), "section {path} missing");
        }
    }

    #[test]
    fn kinds_follow_the_declared_types() {
        let global = root_section();
        assert_eq!(
            global.key("concurrent").map(|k| k.kind),
            Some(ValueKind::Integer { min: Some(1) })
        );
        assert_eq!(
            global.key("runners").map(|k| k.kind),
            Some(ValueKind::ArrayOfTables("runners"))
        );
        let kubernetes = section("runners.kubernetes").expect("kubernetes section");
        let privileged = kubernetes.key("privileged");
        let pull_policy = kubernetes.key("pull_policy");
        let volumes = kubernetes.key("volumes");
        assert_eq!(privileged.map(|k| k.kind), Some(ValueKind::Bool));
        assert_eq!(
            pull_policy.map(|k| k.kind),
            Some(ValueKind::StringOrStringArray)
        );
        assert_eq!(
            volumes.map(|k| k.kind),
            Some(ValueKind::Table("runners.kubernetes.volumes"))
        );
        let volume_kinds = section("runners.kubernetes.volumes").map(|s| s.keys.len());
        assert_eq!(volume_kinds, Some(6));
        let empty_dir =
            section("runners.kubernetes.volumes.empty_dir").and_then(|s| s.key("medium"));
        assert_eq!(
            empty_dir.map(|k| k.kind),
            Some(ValueKind::Enum(&["", "Memory"]))
        );
        let feature_flags = runner_section().key("feature_flags").map(|k| k.kind);
        assert_eq!(feature_flags, Some(ValueKind::BoolMap));
        let read_only =
            section("runners.kubernetes.volumes.secret").and_then(|s| s.key("read_only"));
        assert_eq!(read_only.map(|k| k.kind), Some(ValueKind::Bool));
    }

    #[test]
    fn secret_keys_are_marked() {
        for (section_path, key) in [
            ("global", "sentry_dsn"),
            ("runners", "token"),
            ("runners.cache.s3", "AccessKey"),
            ("runners.cache.s3", "SecretKey"),
            ("runners.cache.s3", "SessionToken"),
            ("runners.cache.gcs", "AccessID"),
            ("runners.cache.gcs", "PrivateKey"),
            ("runners.cache.azure", "AccountName"),
            ("runners.cache.azure", "AccountKey"),
            ("runners.kubernetes", "bearer_token"),
        ] {
            let secrecy = section(section_path)
                .and_then(|s| s.key(key))
                .map(|k| k.secrecy);
            assert_eq!(secrecy, Some(Secrecy::Secret), "{section_path}.{key}");
        }
        let environment = runner_section().key("environment").map(|k| k.secrecy);
        assert_eq!(environment, Some(Secrecy::MayHoldSecret));
    }
}
