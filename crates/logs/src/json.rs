//! What the JSON readers share: Python's bare `NaN` and `Infinity` made readable, JSON values read as
//! numbers and steps, and serde_json's errors said without their position.

use crate::number;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// `bytes` with every bare `NaN`, `Infinity` and `-Infinity` outside strings (what Python's `json.dumps`
/// writes, and serde_json refuses) turned into a string (`"NaN"`), which [`value`] reads as the number.
/// Borrowed when there is none; newlines are kept, so line numbers still hold.
pub(crate) fn quote_bare_non_finite(bytes: &[u8]) -> Cow<'_, [u8]> {
    const TOKENS: [&[u8]; 3] = [b"NaN", b"Infinity", b"-Infinity"];
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        if byte == b'"' {
            in_string = true;
            at += 1;
            continue;
        }
        let token = match byte {
            b'N' | b'I' | b'-' => TOKENS.iter().find(|token| bytes[at..].starts_with(token)),
            _ => None,
        };
        match token {
            Some(token) => {
                let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len() + 16));
                out.extend_from_slice(&bytes[copied..at]);
                out.push(b'"');
                out.extend_from_slice(token);
                out.push(b'"');
                at += token.len();
                copied = at;
            }
            None => at += 1,
        }
    }
    match out {
        Some(mut out) => {
            out.extend_from_slice(&bytes[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(bytes),
    }
}

/// The number a JSON value holds: a number, or a string that spells one (`"nan"`, `"-Infinity"`,
/// `"0.5"`); `None` for anything else.
pub(crate) fn value(value: &Value) -> Option<f32> {
    match value {
        Value::Number(n) => n.as_f64().map(|v| v as f32),
        Value::String(s) => number::value(s),
        _ => None,
    }
}

/// The step a JSON value holds.
pub(crate) fn step(value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(step), _, _) => Ok(step),
            (None, Some(step), _) => Err(format!("step {step} is negative")),
            (None, None, Some(step)) => number::step_of_float(step),
            (None, None, None) => Err(format!("step {n} is not a number of steps")),
        },
        Value::String(s) => number::step_of_text(s),
        other => Err(format!("step {other} is not a number")),
    }
}

/// Calls `scalar` with every numeric value of `entry` and its key, leaving out the top-level keys
/// `skip` names. A nested object's values are named by their path (`{"train": {"loss": 1}}` gives
/// `train/loss`); arrays, booleans, nulls and strings that spell no number are not scalars.
pub(crate) fn for_each_scalar(
    entry: &Map<String, Value>,
    skip: impl Fn(&str) -> bool,
    mut scalar: impl FnMut(&str, f32) -> Result<(), String>,
) -> Result<(), String> {
    for (key, item) in entry {
        if !skip(key) {
            visit(key, item, &mut scalar)?;
        }
    }
    Ok(())
}

fn visit(key: &str, item: &Value, scalar: &mut impl FnMut(&str, f32) -> Result<(), String>) -> Result<(), String> {
    match item {
        Value::Object(inner) => {
            for (name, item) in inner {
                visit(&format!("{key}/{name}"), item, scalar)?;
            }
            Ok(())
        }
        _ => match value(item) {
            Some(v) => scalar(key, v),
            None => Ok(()),
        },
    }
}

/// What serde_json says, without the "at line L column C" it ends with (the caller says where).
pub(crate) fn reason(error: &serde_json::Error) -> String {
    let full = error.to_string();
    match full.rfind(" at line ") {
        Some(end) => full[..end].to_string(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str) -> String {
        String::from_utf8(quote_bare_non_finite(text.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn bare_non_finite_tokens_are_quoted_outside_strings_only() {
        assert_eq!(
            quoted(r#"{"a": NaN, "b": [Infinity, -Infinity], "c": -1}"#),
            r#"{"a": "NaN", "b": ["Infinity", "-Infinity"], "c": -1}"#
        );
        let untouched = r#"{"NaN": "x NaN \" Infinity \\", "d": "-Infinity"}"#;
        assert!(matches!(quote_bare_non_finite(untouched.as_bytes()), Cow::Borrowed(_)));
        assert_eq!(quoted("{\"a\": NaN}\n{\"a\": 1}"), "{\"a\": \"NaN\"}\n{\"a\": 1}");
    }

    #[test]
    fn values_read_numbers_and_the_strings_that_spell_them() {
        let entry: Map<String, Value> = serde_json::from_slice(&quote_bare_non_finite(
            br#"{"a": NaN, "b": "-inf", "c": 0.5, "d": true, "e": null, "f": "x", "g": [1], "h": {"i": Infinity}}"#,
        ))
        .unwrap();
        let mut seen = Vec::new();
        for_each_scalar(
            &entry,
            |k| k == "c",
            |k, v| {
                seen.push((k.to_string(), v));
                Ok(())
            },
        )
        .unwrap();
        let names: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "h/i"]);
        assert!(seen[0].1.is_nan());
        assert_eq!(seen[1].1, f32::NEG_INFINITY);
        assert_eq!(seen[2].1, f32::INFINITY);
    }

    #[test]
    fn steps_read_from_numbers_and_strings() {
        assert_eq!(step(&serde_json::json!(7)), Ok(7));
        assert_eq!(step(&serde_json::json!(7.0)), Ok(7));
        assert_eq!(step(&serde_json::json!("7")), Ok(7));
        assert_eq!(step(&serde_json::json!(-7)), Err("step -7 is negative".into()));
        assert_eq!(step(&serde_json::json!(7.5)), Err("step 7.5 is not a whole number".into()));
        assert_eq!(step(&serde_json::json!(null)), Err("step null is not a number".into()));
    }
}
