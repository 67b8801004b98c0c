//! "Did you mean" for unknown keys.

use crate::catalogue::{self, SectionSpec};

/// What to tell the user about an unknown key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Suggestion {
    /// A key of the same section differing only in letter case or `_`/`-` separators (cache keys
    /// are CamelCase, everything else snake_case).
    Case(&'static str),
    /// A key of the same section with a small edit distance.
    Spelling(&'static str),
    /// The key exists, but in another section.
    OtherSection { section: &'static str },
}

/// The closest known key of `section` to `unknown`, or the section where a key of that name lives.
pub(crate) fn suggest(section: &SectionSpec, unknown: &str) -> Option<Suggestion> {
    let folded = fold(unknown);
    if let Some(spec) = section.keys.iter().find(|spec| fold(spec.name) == folded) {
        return Some(Suggestion::Case(spec.name));
    }
    let allowed = (unknown.chars().count() / 3).clamp(1, 3);
    let closest = section
        .keys
        .iter()
        .map(|spec| (strsim::damerau_levenshtein(unknown, spec.name), spec.name))
        .filter(|(distance, _)| *distance <= allowed)
        .min();
    if let Some((_, name)) = closest {
        return Some(Suggestion::Spelling(name));
    }
    catalogue::sections_with_key(unknown)
        .map(|(other, _)| other)
        .find(|other| other.path != section.path)
        .map(|other| Suggestion::OtherSection {
            section: other.path,
        })
}

fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `[runners.kubernetes]`, `[[runners.kubernetes.volumes.empty_dir]]`, or "the top level".
pub(crate) fn section_header(path: &str) -> String {
    if path == catalogue::ROOT_SECTION {
        return "the top level".to_owned();
    }
    let is_array = path == catalogue::RUNNER_SECTION
        || catalogue::sections().iter().any(|parent| {
            parent
                .keys
                .iter()
                .any(|key| key.kind == catalogue::ValueKind::ArrayOfTables(section_static(path)))
        });
    if is_array {
        format!("[[{path}]]")
    } else {
        format!("[{path}]")
    }
}

fn section_static(path: &str) -> &'static str {
    catalogue::section(path).map_or("", |section| section.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(path: &str) -> &'static SectionSpec {
        catalogue::section(path).expect("known section")
    }

    #[test]
    fn suggestions_cover_spelling_case_and_misplaced_keys() {
        let cases = [
            (
                "runners.kubernetes",
                "privilegd",
                Some(Suggestion::Spelling("privileged")),
            ),
            (
                "runners.kubernetes",
                "alowed_images",
                Some(Suggestion::Spelling("allowed_images")),
            ),
            ("runners.cache", "type", Some(Suggestion::Case("Type"))),
            (
                "runners.cache.s3",
                "bucket_name",
                Some(Suggestion::Case("BucketName")),
            ),
            (
                "runners.cache.s3",
                "bucketname",
                Some(Suggestion::Case("BucketName")),
            ),
            (
                "runners",
                "privileged",
                Some(Suggestion::OtherSection {
                    section: "runners.kubernetes",
                }),
            ),
            ("runners.kubernetes", "completely_unrelated_thing", None),
        ];
        for (path, unknown, expected) in cases {
            assert_eq!(
                suggest(section(path), unknown),
                expected,
                "{path}.{unknown}"
            );
        }
    }

    #[test]
    fn headers_use_double_brackets_for_arrays_of_tables() {
        assert_eq!(section_header("runners"), "[[runners]]");
        assert_eq!(section_header("runners.kubernetes"), "[runners.kubernetes]");
        assert_eq!(
            section_header("runners.kubernetes.volumes.empty_dir"),
            "[[runners.kubernetes.volumes.empty_dir]]"
        );
        assert_eq!(section_header("global"), "the top level");
    }
}
