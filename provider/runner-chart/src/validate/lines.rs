//! Byte offset → line and column, in O(log n) per lookup: the validator asks once per key, and
//! scanning from the start each time made 20 000 keys take minutes.

use crate::finding::Position;

/// Where each line starts, and where the multi-byte characters are (columns count characters).
pub(crate) struct LineIndex<'s> {
    source: &'s str,
    /// Byte offset of the start of each line; the first is 0.
    line_starts: Vec<usize>,
    /// For each non-ASCII character: its byte offset, and the extra bytes (UTF-8 length − 1)
    /// of all the characters up to and including it.
    wide_chars: Vec<(usize, usize)>,
}

impl<'s> LineIndex<'s> {
    pub(crate) fn new(source: &'s str) -> Self {
        let mut line_starts = vec![0];
        let mut wide_chars = Vec::new();
        let mut extra = 0;
        for (at, c) in source.char_indices() {
            if c == '\n' {
                line_starts.push(at + 1);
            } else if !c.is_ascii() {
                extra += c.len_utf8() - 1;
                wide_chars.push((at, extra));
            }
        }
        Self {
            source,
            line_starts,
            wide_chars,
        }
    }

    /// The position of byte `offset` (clamped to the end; snapped back to a char boundary), the
    /// same as [`Position::of_offset`].
    pub(crate) fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self.line_starts[line - 1];
        let bytes = offset - line_start;
        Position {
            line,
            column: bytes - (self.extra_before(offset) - self.extra_before(line_start)) + 1,
        }
    }

    /// The extra bytes of the multi-byte characters that start before `offset`.
    fn extra_before(&self, offset: usize) -> usize {
        match self.wide_chars.partition_point(|(at, _)| *at < offset) {
            0 => 0,
            n => self.wide_chars[n - 1].1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_scanning_from_the_start_at_every_offset() {
        let source = "a = 1\nbé = \"ü→x\"\n\n[[runners]]\n  name = \"日本\" # ok\nlast";
        let index = LineIndex::new(source);
        for offset in 0..=source.len() + 3 {
            assert_eq!(
                index.position(offset),
                Position::of_offset(source, offset),
                "offset {offset}"
            );
        }
        assert_eq!(
            LineIndex::new("").position(5),
            Position { line: 1, column: 1 }
        );
    }
}
