//! Limits checked on YAML text before a parser sees it.
//!
//! libyaml (under `serde_yaml_ng`) does work proportional to the flow nesting level (`[`, `{`)
//! for every token it scans, so `[[[[…]]]]` 16 000 deep takes seconds and 100 000 deep minutes,
//! before `serde_yaml_ng`'s own recursion limit (128) can refuse it. [`check`] measures, in one
//! linear pass, a bound that is never below libyaml's flow level, and refuses text past a depth
//! or size limit.
//!
//! The bound: every `[` / `{` counts; a `]` / `}` counts down unless it may sit inside a quoted
//! scalar, a comment or a tag. A quote may start anywhere not preceded by a letter or digit (a real
//! quoted scalar starts at a token, after a space or an indicator), and runs to its real end, so
//! such a region covers every real quoted scalar; brackets inside it balance only among
//! themselves. Block-scalar text is scanned like any other text: its brackets can only raise the
//! bound, never lower it below the parser's level (which is 0 there).

/// How large and how deeply flow-nested a YAML text may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_flow_depth: usize,
}

impl Limits {
    /// 64 MiB and 256 levels: far above any Kubernetes manifest or chart values (the YAML
    /// parsers refuse values nested over 128 levels anyway), far below where nesting costs.
    pub const DEFAULT: Limits = Limits {
        max_bytes: 64 * 1024 * 1024,
        max_flow_depth: 256,
    };
}

/// Why a text was refused; the message never quotes the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("the YAML is {len} bytes, more than the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error(
        "the YAML nests flow collections ([ ] or {{ }}) more than {max} levels deep (at line {line})"
    )]
    TooDeep { max: usize, line: usize },
}

/// Checks `text` against `limits` in one pass.
pub fn check(text: &str, limits: &Limits) -> Result<(), LimitError> {
    if text.len() > limits.max_bytes {
        return Err(LimitError::TooLarge {
            len: text.len(),
            max: limits.max_bytes,
        });
    }
    let mut scan = Scan::default();
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        scan.step(byte, text.as_bytes().get(at + 1).copied());
        if scan.bound() > limits.max_flow_depth {
            return Err(LimitError::TooDeep {
                max: limits.max_flow_depth,
                line: scan.line,
            });
        }
    }
    Ok(())
}

/// The largest flow-nesting bound anywhere in `text` (for tests and fuzzing).
pub fn max_flow_depth_bound(text: &str) -> usize {
    let mut scan = Scan::default();
    let mut max = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        scan.step(byte, text.as_bytes().get(at + 1).copied());
        max = max.max(scan.bound());
    }
    max
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Region {
    #[default]
    Plain,
    Comment,
    Double,
    /// After a `\` in a double-quoted region.
    DoubleEscape,
    Single,
    /// After the first `'` of a `''` escape in a single-quoted region.
    SingleEscape,
    Tag,
}

struct Scan {
    /// Nesting outside quote-like regions.
    depth: usize,
    /// Nesting among the brackets of the current quote-like region.
    local: usize,
    region: Region,
    previous: u8,
    line: usize,
}

impl Default for Scan {
    fn default() -> Self {
        Scan {
            depth: 0,
            local: 0,
            region: Region::Plain,
            previous: b'\n',
            line: 1,
        }
    }
}

/// A quote or tag may start here: real ones follow a space, a line start or an indicator.
fn token_may_start_after(previous: u8) -> bool {
    !(previous.is_ascii_alphanumeric() || previous >= 0x80)
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

impl Scan {
    fn bound(&self) -> usize {
        self.depth + self.local
    }

    fn step(&mut self, byte: u8, next: Option<u8>) {
        if byte == b'\n' {
            self.line += 1;
        }
        match self.region {
            Region::Plain => match byte {
                b'[' | b'{' => self.depth += 1,
                b']' | b'}' => self.depth = self.depth.saturating_sub(1),
                b'#' if is_space(self.previous) => self.region = Region::Comment,
                b'"' if token_may_start_after(self.previous) => self.region = Region::Double,
                b'\'' if token_may_start_after(self.previous) => self.region = Region::Single,
                b'!' if token_may_start_after(self.previous) => self.region = Region::Tag,
                _ => {}
            },
            Region::Comment => {
                if byte == b'\n' {
                    self.region = Region::Plain;
                }
            }
            Region::DoubleEscape => self.region = Region::Double,
            Region::SingleEscape => self.region = Region::Single,
            Region::Double | Region::Single | Region::Tag => self.in_region(byte, next),
        }
        self.previous = byte;
    }

    fn in_region(&mut self, byte: u8, next: Option<u8>) {
        match (self.region, byte) {
            (_, b'[' | b'{') => self.local += 1,
            (_, b']' | b'}') => self.local = self.local.saturating_sub(1),
            (Region::Double, b'\\') => self.region = Region::DoubleEscape,
            (Region::Double, b'"') => self.close_region(),
            (Region::Single, b'\'') if next == Some(b'\'') => self.region = Region::SingleEscape,
            (Region::Single, b'\'') => self.close_region(),
            (Region::Tag, byte) if is_space(byte) => self.close_region(),
            _ => {}
        }
    }

    /// The region's unclosed brackets may have been real (it may not have been a quote): they
    /// stay counted.
    fn close_region(&mut self) {
        self.depth += self.local;
        self.local = 0;
        self.region = Region::Plain;
    }
}

#[cfg(test)]
mod tests;
