//! CSV records as RFC 4180 has them: fields split at commas; a field in double quotes may hold commas,
//! line breaks and doubled quotes (`""` for one). Records end at LF or CRLF.
//!
//! [`Records`] parses text; [`Scan`] follows bytes as they arrive, to tell where each record ends.

use std::borrow::Cow;

/// The records of CSV text, each with the line it starts on (1-based) and its fields; an error carries
/// the line it is on.
pub(crate) struct Records<'a> {
    text: &'a str,
    at: usize,
    line: usize,
}

impl<'a> Records<'a> {
    /// The records of `text`, whose first line is line `line`.
    pub(crate) fn new(text: &'a str, line: usize) -> Records<'a> {
        Records { text, at: 0, line }
    }

    /// A quoted field from `self.at` (just past its opening quote) to its closing quote. Anything
    /// between the closing quote and the next comma or line end is kept too, as most readers do.
    fn quoted(&mut self) -> Result<Cow<'a, str>, (usize, String)> {
        let bytes = self.text.as_bytes();
        let opened = self.line;
        let mut field: Cow<'a, str> = Cow::Borrowed("");
        let mut start = self.at;
        loop {
            let Some(quote) = bytes[self.at..].iter().position(|&b| b == b'"').map(|q| self.at + q) else {
                self.at = bytes.len();
                return Err((opened, "a quoted field never closes".to_string()));
            };
            self.line += bytes[self.at..quote].iter().filter(|&&b| b == b'\n').count();
            let piece = &self.text[start..quote];
            field = if field.is_empty() { Cow::Borrowed(piece) } else { Cow::Owned(field.into_owned() + piece) };
            if bytes.get(quote + 1) == Some(&b'"') {
                field = Cow::Owned(field.into_owned() + "\"");
                self.at = quote + 2;
                start = self.at;
                continue;
            }
            self.at = quote + 1;
            let rest = self.unquoted();
            return Ok(if rest.is_empty() { field } else { Cow::Owned(field.into_owned() + rest) });
        }
    }

    /// An unquoted field (or the tail of a quoted one) from `self.at` to the next comma or line end,
    /// without the CR of a CRLF.
    fn unquoted(&mut self) -> &'a str {
        let bytes = self.text.as_bytes();
        let end = bytes[self.at..].iter().position(|&b| b == b',' || b == b'\n').map_or(bytes.len(), |e| self.at + e);
        let field = &self.text[self.at..end];
        self.at = end;
        field.strip_suffix('\r').unwrap_or(field)
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(usize, Vec<Cow<'a, str>>), (usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        if self.at >= bytes.len() {
            return None;
        }
        let line = self.line;
        let mut fields = Vec::new();
        loop {
            let field = if bytes[self.at..].starts_with(b"\"") {
                self.at += 1;
                match self.quoted() {
                    Ok(field) => field,
                    Err(error) => return Some(Err(error)),
                }
            } else {
                Cow::Borrowed(self.unquoted())
            };
            fields.push(field);
            match bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(_) => {
                    self.at += 1;
                    self.line += 1;
                    return Some(Ok((line, fields)));
                }
                None => return Some(Ok((line, fields))),
            }
        }
    }
}

/// Where a scan of CSV bytes is, as [`Records`] would parse them up to there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scan {
    /// At a field's start.
    Start,
    /// In an unquoted field, or in what follows a quoted field's closing quote.
    Bare,
    /// Inside a quoted field.
    Quoted,
    /// Just past a quote inside a quoted field: its closing quote, or the first of a doubled `""`.
    Quote,
}

impl Scan {
    /// The state after `byte`, and whether `byte` ends a record.
    pub(crate) fn next(self, byte: u8) -> (Scan, bool) {
        match (self, byte) {
            (Scan::Quoted, b'"') => (Scan::Quote, false),
            (Scan::Quoted, _) => (Scan::Quoted, false),
            (_, b'\n') => (Scan::Start, true),
            (_, b',') => (Scan::Start, false),
            (Scan::Start | Scan::Quote, b'"') => (Scan::Quoted, false),
            _ => (Scan::Bare, false),
        }
    }
}

/// Whether a record holds nothing but empty fields (a blank line).
pub(crate) fn is_blank(fields: &[Cow<'_, str>]) -> bool {
    fields.iter().all(|f| f.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(usize, Vec<String>)> {
        Records::new(text, 1)
            .map(|r| r.map(|(line, fields)| (line, fields.into_iter().map(Cow::into_owned).collect())).unwrap())
            .collect()
    }

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let text = "Step,\"run, one - loss\",\"say \"\"hi\"\"\"\r\n1,\"a\nb\",\r\n\n3,x\"y\",\"\"";
        assert_eq!(
            records(text),
            [
                (1, vec!["Step".into(), "run, one - loss".into(), "say \"hi\"".into()]),
                (2, vec!["1".into(), "a\nb".into(), String::new()]),
                (4, vec![String::new()]),
                (5, vec!["3".into(), "x\"y\"".into(), String::new()]),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_is_an_error() {
        let mut records = Records::new("a,b\n1,\"open\n2,3\n", 1);
        assert!(records.next().unwrap().is_ok());
        assert_eq!(records.next().unwrap().unwrap_err(), (2, "a quoted field never closes".to_string()));
        assert!(records.next().is_none());
    }

    #[test]
    fn a_scan_ends_records_where_parsing_does() {
        let text =
            "Step,\"run, one - loss\",\"say \"\"hi\"\"\"\r\n1,\"a\nb\",\r\n\n3,x\"y\",\"\"\n\"\"\"\n\",\"\"\nlast";
        let mut scan = Scan::Start;
        let mut starts = vec![1];
        for (at, &byte) in text.as_bytes().iter().enumerate() {
            let (next, end) = scan.next(byte);
            scan = next;
            if end {
                starts.push(text[..=at].matches('\n').count() + 1);
            }
        }
        let lines: Vec<usize> = Records::new(text, 1).map(|record| record.unwrap().0).collect();
        assert_eq!(starts, lines);
        assert_eq!(starts, [1, 2, 4, 5, 6, 8]);
        assert_eq!(Records::new("x\ny", 7).map(|r| r.unwrap().0).collect::<Vec<_>>(), [7, 8]);
    }
}
