//! Data the page keeps in the browser's `localStorage` as versioned JSON (`{"version": N, ...}`), read
//! back with a reason in words when it cannot be used, so the page can start afresh with a notice.

use serde::de::DeserializeOwned;

/// Why stored data could not be used; [`Unreadable::why`] words it for a notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// Not JSON, or not the shape this version stores.
    Garbled,
    /// Saved by a later Faultline, in format `.0`.
    Newer(u64),
    /// No version this Faultline knows: some other program's data under our key.
    Foreign,
}

impl Unreadable {
    /// The reason as the end of a sentence about the stored thing: `were` for a plural subject
    /// ("your kept runs were saved by…"), `was` for a singular one.
    pub fn why(&self, verb: &str) -> String {
        match self {
            Unreadable::Garbled => "could not be read".to_string(),
            Unreadable::Newer(v) => format!("{verb} saved by a newer Faultline (format {v})"),
            Unreadable::Foreign => {
                let be = if verb == "were" { "are" } else { "is" };
                format!("{be} not in a format this Faultline knows")
            }
        }
    }
}

/// Reads `text` as a `T` stored in format `version`.
pub fn read_versioned<T: DeserializeOwned>(text: &str, version: u32) -> Result<T, Unreadable> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| Unreadable::Garbled)?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(version) => serde_json::from_value(value).map_err(|_| Unreadable::Garbled),
        Some(v) if v > u64::from(version) => Err(Unreadable::Newer(v)),
        _ => Err(Unreadable::Foreign),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Kept {
        version: u32,
        n: i32,
    }

    #[test]
    fn reads_its_own_version_and_names_what_else_it_finds() {
        assert_eq!(read_versioned::<Kept>(r#"{"version":1,"n":3}"#, 1), Ok(Kept { version: 1, n: 3 }));
        assert_eq!(read_versioned::<Kept>("{", 1), Err(Unreadable::Garbled));
        assert_eq!(read_versioned::<Kept>(r#"{"version":1,"n":"x"}"#, 1), Err(Unreadable::Garbled));
        assert_eq!(read_versioned::<Kept>(r#"{"version":4,"n":3}"#, 1), Err(Unreadable::Newer(4)));
        assert_eq!(read_versioned::<Kept>(r#"{"n":3}"#, 1), Err(Unreadable::Foreign));
        assert_eq!(read_versioned::<Kept>("[1]", 1), Err(Unreadable::Foreign));
        assert_eq!(Unreadable::Newer(4).why("was"), "was saved by a newer Faultline (format 4)");
        assert_eq!(Unreadable::Foreign.why("were"), "are not in a format this Faultline knows");
    }
}
