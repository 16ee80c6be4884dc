//! A text log as it arrives in chunks, handed on in whole lines (or whole CSV records, whose quoted
//! fields may hold line breaks): only the unfinished line is kept.

use crate::csv::Scan;
use crate::runs::Runs;
use crate::ReadError;

/// The longest line, or CSV record, read: a longer one is an error, not a buffer that grows without end.
pub(crate) const MAX_LINE: usize = 16 << 20;

const BOM: &[u8] = "\u{feff}".as_bytes();

/// A reader of a text format, given whole lines.
pub(crate) trait Lines {
    /// Reads `text`, whole lines (or records) the first of which is line `first`; the file's last
    /// line may lack its line end.
    fn read(&mut self, file: &str, runs: &mut Runs, first: usize, text: &[u8]) -> Result<(), ReadError>;

    /// Ends the file, its every line read.
    fn end(&mut self, _file: &str) -> Result<(), ReadError> {
        Ok(())
    }
}

/// The unfinished end of a text file read so far.
pub(crate) struct Text {
    pending: Vec<u8>,
    /// How much of `pending` is scanned: it holds no line end there (no record end, for CSV).
    scanned: usize,
    /// The line ends in the part scanned (within CSV's quoted fields).
    scanned_lines: usize,
    /// The line `pending` begins on.
    line: usize,
    /// For CSV: the scan's state at `scanned`.
    csv: Option<Scan>,
    /// How many byte-order marks may still be taken off the file's front.
    boms: usize,
}

impl Text {
    /// Text read a line at a time, after up to `boms` byte-order marks.
    pub(crate) fn lines(boms: usize) -> Text {
        Text { pending: Vec::new(), scanned: 0, scanned_lines: 0, line: 1, csv: None, boms }
    }

    /// CSV read a record at a time, after any byte-order marks.
    pub(crate) fn csv() -> Text {
        Text { csv: Some(Scan::Start), ..Text::lines(usize::MAX) }
    }

    /// The bytes held (the buffer's capacity).
    pub(crate) fn buffered(&self) -> usize {
        self.pending.capacity()
    }

    /// Takes `chunk` in and hands `reader` the lines it completes.
    pub(crate) fn push(
        &mut self,
        file: &str,
        chunk: &[u8],
        runs: &mut Runs,
        reader: &mut dyn Lines,
    ) -> Result<(), ReadError> {
        self.pending.extend_from_slice(chunk);
        while self.boms > 0 && self.pending.starts_with(BOM) {
            self.pending.drain(..BOM.len());
            self.boms -= 1;
        }
        if self.boms > 0 && BOM.starts_with(&self.pending) {
            return Ok(());
        }
        self.boms = 0;
        let (end, lines, too_long) = self.scan();
        if end > 0 {
            reader.read(file, runs, self.line, &self.pending[..end])?;
            self.pending.drain(..end);
            self.scanned -= end;
            self.scanned_lines -= lines;
            self.line += lines;
        }
        if too_long {
            let mib = MAX_LINE >> 20;
            let message = match self.csv {
                Some(_) => format!("this record runs past {mib} MiB (a quoted field that never closes?)"),
                None => format!("this line runs past {mib} MiB without a line end"),
            };
            return Err(ReadError::new(file, Some(self.line), message));
        }
        Ok(())
    }

    /// Hands `reader` the last line, where the file does not end with a line end, and ends the file.
    pub(crate) fn end(&mut self, file: &str, runs: &mut Runs, reader: &mut dyn Lines) -> Result<(), ReadError> {
        if !self.pending.is_empty() {
            reader.read(file, runs, self.line, &self.pending)?;
            self.pending.clear();
        }
        reader.end(file)
    }

    /// Scans the rest of `pending`: the end of its last whole line (0 where there is none), the line
    /// ends before that, and whether the line after it is longer than [`MAX_LINE`] (scanning stops at
    /// such a line).
    fn scan(&mut self) -> (usize, usize, bool) {
        let (mut end, mut lines) = (0, 0);
        let (mut at, mut newlines) = (self.scanned, self.scanned_lines);
        let mut too_long = false;
        while at < self.pending.len() {
            let ends = match &mut self.csv {
                None => match self.pending[at..].iter().position(|&b| b == b'\n') {
                    Some(found) => {
                        at += found;
                        newlines += 1;
                        true
                    }
                    None => {
                        at = self.pending.len();
                        break;
                    }
                },
                Some(scan) => {
                    let byte = self.pending[at];
                    let (next, ends) = scan.next(byte);
                    *scan = next;
                    newlines += usize::from(byte == b'\n');
                    ends
                }
            };
            at += 1;
            if ends {
                if at - end > MAX_LINE {
                    too_long = true;
                    break;
                }
                (end, lines) = (at, newlines);
            }
        }
        (self.scanned, self.scanned_lines) = (at, newlines);
        (end, lines, too_long || at - end > MAX_LINE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocks a text is handed on in, each with its first line's number.
    #[derive(Default)]
    struct Blocks(Vec<(usize, String)>);

    impl Lines for Blocks {
        fn read(&mut self, _: &str, _: &mut Runs, first: usize, text: &[u8]) -> Result<(), ReadError> {
            self.0.push((first, String::from_utf8_lossy(text).into_owned()));
            Ok(())
        }
    }

    fn blocks(mut text: Text, chunks: &[&[u8]]) -> Vec<(usize, String)> {
        let (mut blocks, mut runs) = (Blocks::default(), Runs::default());
        for chunk in chunks {
            text.push("f", chunk, &mut runs, &mut blocks).unwrap();
        }
        text.end("f", &mut runs, &mut blocks).unwrap();
        blocks.0
    }

    #[test]
    fn whole_lines_are_handed_on_with_their_numbers() {
        let got = blocks(Text::lines(0), &[b"a\nb", b"c\n\nd\ne", b"", b"\nf"]);
        assert_eq!(got, [(1, "a\n".into()), (2, "bc\n\nd\n".into()), (5, "e\n".into()), (6, "f".into())]);
    }

    #[test]
    fn a_csv_record_ends_outside_quotes_and_its_line_breaks_count() {
        let got = blocks(Text::csv(), &[b"h\n1,\"a\n", b"b\"\"\n\",2\n3", b",\"\"\n"]);
        assert_eq!(got, [(1, "h\n".into()), (2, "1,\"a\nb\"\"\n\",2\n".into()), (5, "3,\"\"\n".into())]);
    }

    #[test]
    fn byte_order_marks_come_off_however_they_are_cut() {
        let bom = BOM;
        let got = blocks(Text::csv(), &[&bom[..1], &bom[1..], bom, &bom[..2], &bom[2..], b"a\n"]);
        assert_eq!(got, [(1, "a\n".into())]);
        assert_eq!(blocks(Text::lines(1), &[&bom[..1], &bom[1..], bom, b"a"]), [(1, "\u{feff}a".into())]);
        assert_eq!(blocks(Text::lines(1), &[&bom[..2]]), [(1, "\u{fffd}".into())], "part of a mark is no mark");
    }
}
