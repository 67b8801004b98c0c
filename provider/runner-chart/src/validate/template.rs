//! Helm template text in `runners.config`.
//!
//! The chart passes `runners.config` through Helm's `tpl`, so `{{ ... }}` is live template text. Before
//! parsing, every template expression is masked with filler of the same byte length, so byte offsets
//! (and so line/column positions) stay those of the user's text:
//! - inside a TOML string: replaced by `x` characters (the string stays a string; its content is unknown);
//! - where a value belongs (`key = {{ ... }}`, array items): replaced by a quoted placeholder string, and
//!   the value's checks are skipped — its kind is only known after rendering;
//! - anywhere else (`{{- if ... }}` lines): replaced by spaces (newlines kept), and reported as a warning,
//!   because every branch of a conditional is then checked as if all were present.

use std::ops::Range;

/// Where a template expression sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplatePlacement {
    InString,
    /// In a TOML comment: `tpl` still renders it, TOML ignores it.
    InComment,
    Value,
    Statement,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateRegion {
    pub(crate) range: Range<usize>,
    pub(crate) placement: TemplatePlacement,
}

/// The source with template expressions masked, and where they were.
#[derive(Debug, Clone)]
pub(crate) struct MaskedSource {
    pub(crate) text: String,
    pub(crate) regions: Vec<TemplateRegion>,
    /// Byte offset of a `{{` that has no closing `}}`.
    pub(crate) unclosed_at: Option<usize>,
}

impl MaskedSource {
    /// The template region overlapping this byte range, if any.
    /// Regions are in source order and disjoint: a binary search finds the first that ends
    /// after `range` starts (a linear scan per key made many templated keys quadratic).
    pub(crate) fn region_overlapping(&self, range: &Range<usize>) -> Option<&TemplateRegion> {
        let first = self
            .regions
            .partition_point(|region| region.range.end <= range.start);
        self.regions
            .get(first)
            .filter(|region| region.range.start < range.end && range.start < region.range.end)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lexer {
    Code,
    Comment,
    Basic,
    Literal,
    MultiBasic,
    MultiLiteral,
}

fn find_close(bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from..]
        .windows(2)
        .position(|pair| pair == b"}}")
        .map(|found| from + found + 2)
}

/// Masks every `{{ ... }}` in `source`; see the module docs.
pub(crate) fn mask(source: &str) -> MaskedSource {
    let bytes = source.as_bytes();
    let mut masked = bytes.to_vec();
    let mut regions = Vec::new();
    let mut unclosed_at = None;
    let mut state = Lexer::Code;
    // The last byte that was not whitespace or a comment on the current logical position, in code.
    let mut last_significant: Option<u8> = None;
    let mut index = 0;
    while index < bytes.len() {
        let rest = &bytes[index..];
        if rest.starts_with(b"{{") {
            let Some(end) = find_close(bytes, index + 2) else {
                unclosed_at = Some(index);
                break;
            };
            let placement = match state {
                Lexer::Code if matches!(last_significant, Some(b'=' | b'[' | b',')) => {
                    TemplatePlacement::Value
                }
                Lexer::Code => TemplatePlacement::Statement,
                Lexer::Comment => TemplatePlacement::InComment,
                _ => TemplatePlacement::InString,
            };
            fill(&mut masked[index..end], placement);
            if placement == TemplatePlacement::Value {
                last_significant = Some(b'"');
            }
            regions.push(TemplateRegion {
                range: index..end,
                placement,
            });
            index = end;
            continue;
        }
        let byte = bytes[index];
        match state {
            Lexer::Code => match byte {
                b'#' => state = Lexer::Comment,
                b'"' if rest.starts_with(b"\"\"\"") => {
                    state = Lexer::MultiBasic;
                    index += 3;
                    continue;
                }
                b'\'' if rest.starts_with(b"'''") => {
                    state = Lexer::MultiLiteral;
                    index += 3;
                    continue;
                }
                b'"' => state = Lexer::Basic,
                b'\'' => state = Lexer::Literal,
                b'\n' => last_significant = None,
                b' ' | b'\t' | b'\r' => {}
                other => last_significant = Some(other),
            },
            Lexer::Comment => {
                if byte == b'\n' {
                    state = Lexer::Code;
                    last_significant = None;
                }
            }
            Lexer::Basic => match byte {
                b'\\' => index += 1,
                b'"' | b'\n' => {
                    state = Lexer::Code;
                    last_significant = Some(b'"');
                }
                _ => {}
            },
            Lexer::Literal => {
                if byte == b'\'' || byte == b'\n' {
                    state = Lexer::Code;
                    last_significant = Some(b'\'');
                }
            }
            Lexer::MultiBasic | Lexer::MultiLiteral => {
                let quote = if state == Lexer::MultiBasic {
                    b'"'
                } else {
                    b'\''
                };
                if byte == b'\\' && state == Lexer::MultiBasic {
                    index += 1;
                } else if byte == quote {
                    // Up to two quotes may precede the closing delimiter: `""""` ends with content `"`.
                    let run = rest.iter().take(5).take_while(|&&b| b == quote).count();
                    if run >= 3 {
                        state = Lexer::Code;
                        last_significant = Some(quote);
                    }
                    index += run;
                    continue;
                }
            }
        }
        index += 1;
    }
    // Only ASCII bytes replaced whole multi-byte sequences, so this cannot fail; fall back to the
    // original text rather than panic.
    let text = String::from_utf8(masked).unwrap_or_else(|_| source.to_owned());
    MaskedSource {
        text,
        regions,
        unclosed_at,
    }
}

fn fill(span: &mut [u8], placement: TemplatePlacement) {
    let last = span.len().saturating_sub(1);
    for (offset, byte) in span.iter_mut().enumerate() {
        *byte = match placement {
            TemplatePlacement::InString => b'x',
            TemplatePlacement::Value if offset == 0 || offset == last => b'"',
            TemplatePlacement::Value => b'x',
            TemplatePlacement::Statement | TemplatePlacement::InComment if *byte == b'\n' => b'\n',
            TemplatePlacement::Statement | TemplatePlacement::InComment => b' ',
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_inside_strings_become_filler_of_the_same_length() {
        let source = "image = \"{{ .Values.image | default \"alpine\" }}\"\n";
        let masked = mask(source);
        assert_eq!(masked.text.len(), source.len());
        assert!(masked.text.starts_with("image = \"xxxx"));
        assert!(toml_edit::Document::parse(masked.text.as_str()).is_ok());
        assert_eq!(masked.regions.len(), 1);
        assert_eq!(masked.regions[0].placement, TemplatePlacement::InString);
    }

    #[test]
    fn multi_line_strings_may_end_with_quotes() {
        let source = "a = [\"\"\"\nx\n\"\"\"\", \"{{ y }}\"]\nb = '''z'''''\nc = {{ v }}\n";
        let masked = mask(source);
        let placements: Vec<_> = masked.regions.iter().map(|r| r.placement).collect();
        assert_eq!(
            placements,
            [TemplatePlacement::InString, TemplatePlacement::Value]
        );
        assert!(
            toml_edit::Document::parse(masked.text.as_str()).is_ok(),
            "{}",
            masked.text
        );
    }

    #[test]
    fn templates_in_value_position_become_a_placeholder_string() {
        let masked = mask("concurrent = {{ .Values.concurrent }}\nlist = [ {{ .Values.x }} ]\n");
        let placements: Vec<_> = masked.regions.iter().map(|r| r.placement).collect();
        assert_eq!(
            placements,
            [TemplatePlacement::Value, TemplatePlacement::Value]
        );
        assert!(
            toml_edit::Document::parse(masked.text.as_str()).is_ok(),
            "{}",
            masked.text
        );
    }

    #[test]
    fn template_statements_are_blanked_but_keep_their_lines() {
        let source = "{{- if .Values.x }}\na = 1\n{{- else }}\nb = 2\n{{- end }}\n";
        let masked = mask(source);
        assert!(
            masked
                .regions
                .iter()
                .all(|r| r.placement == TemplatePlacement::Statement)
        );
        assert_eq!(masked.text.lines().count(), source.lines().count());
        assert!(toml_edit::Document::parse(masked.text.as_str()).is_ok());
    }

    #[test]
    fn templates_in_comments_are_masked_and_unclosed_templates_are_reported() {
        let masked = mask("# {{ .Values.note }}\na = 1\n");
        assert_eq!(masked.regions[0].placement, TemplatePlacement::InComment);
        // tpl renders comments too, so an unclosed `{{` there breaks the release.
        assert_eq!(mask("# {{ oops\na = 1\n").unclosed_at, Some(2));
        assert_eq!(mask("a = 1\nb = {{ oops\n").unclosed_at, Some(10));
    }
}
