//! The short token id that GitLab Runner puts in job-pod labels and names.

/// Length of the short id.
const SHORT_LEN: usize = 9;

/// The job-pod short id of a runner token: strip `glrt-`, then an optional `t1_`/`t2_`/`t3_`
/// partition prefix, and keep the first 9 characters (case kept). This is the value of the
/// `manager.runner.gitlab.com/id-short` label; pod names use it lowercased.
pub fn short_token(token: &str) -> String {
    let token = token.strip_prefix("glrt-").unwrap_or(token);
    let token = ["t1_", "t2_", "t3_"]
        .iter()
        .find_map(|prefix| token.strip_prefix(prefix))
        .unwrap_or(token);
    token.chars().take(SHORT_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_glrt_prefix_and_keeps_nine_characters_with_case() {
        assert_eq!(short_token("glrt-AbCdEfGhIjKlMnOp"), "AbCdEfGhI");
    }

    #[test]
    fn strips_a_partition_prefix_after_glrt() {
        assert_eq!(short_token("glrt-t1_XyZ123456789abc"), "XyZ123456");
        assert_eq!(short_token("glrt-t2_abcdefghijk"), "abcdefghi");
        assert_eq!(short_token("glrt-t3_ABCDEFGHIJK"), "ABCDEFGHI");
    }

    #[test]
    fn other_t_prefixes_are_part_of_the_token() {
        assert_eq!(short_token("glrt-t4_abcdefghijk"), "t4_abcdef");
    }

    #[test]
    fn partition_prefix_is_stripped_once() {
        assert_eq!(short_token("glrt-t1_t2_abcdefghi"), "t2_abcdef");
    }

    #[test]
    fn short_tokens_are_returned_whole() {
        assert_eq!(short_token("glrt-abc"), "abc");
        assert_eq!(short_token("glrt-"), "");
    }

    #[test]
    fn tokens_without_glrt_prefix_are_shortened_as_is() {
        assert_eq!(short_token("t1_abcdefghijkl"), "abcdefghi");
        assert_eq!(short_token("GR1348941abcdef"), "GR1348941");
    }
}
