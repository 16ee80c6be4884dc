//! The guide's text marks code with backticks; this splits a sentence into plain and code spans.

/// One piece of a sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span<'a> {
    Text(&'a str),
    Code(&'a str),
}

/// The spans of `text`: every pair of backticks encloses code. An unmatched backtick is kept as text.
pub fn spans(text: &str) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else { break };
        if open > 0 {
            out.push(Span::Text(&rest[..open]));
        }
        out.push(Span::Code(&rest[open + 1..open + 1 + len]));
        rest = &rest[open + len + 2..];
    }
    if !rest.is_empty() {
        out.push(Span::Text(rest));
    }
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn splits_code_from_text() {
        assert_eq!(spans("plain"), [Span::Text("plain")]);
        assert_eq!(
            spans("jumps to `NaN` or `inf`."),
            [Span::Text("jumps to "), Span::Code("NaN"), Span::Text(" or "), Span::Code("inf"), Span::Text(".")]
        );
        assert_eq!(spans("`x`"), [Span::Code("x")]);
        assert_eq!(spans("a ` b"), [Span::Text("a ` b")]);
        assert!(spans("").is_empty());
    }

    #[test]
    fn every_guide_sentence_splits_cleanly() {
        use faultline_engine::guide::ENTRIES;
        for e in ENTRIES {
            let texts = e.symptoms.iter().copied().chain(e.causes.iter().map(|c| c.text));
            for t in texts.chain(e.diagnosis.iter().chain(e.fixes).map(|s| s.text)) {
                let joined: usize = spans(t)
                    .iter()
                    .map(|s| match s {
                        Span::Text(x) => x.len(),
                        Span::Code(x) => x.len() + 2,
                    })
                    .sum();
                assert_eq!(joined, t.len(), "{}: {t}", e.id);
            }
        }
    }
}
