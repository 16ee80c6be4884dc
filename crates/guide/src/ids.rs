//! Ids the compiler checks: an enum per kind of id, each variant declared once with its spelling.
//!
//! Faultline's ids travel as text (`#/guide/loss-becomes-nan`, `--fault no-causal-mask`, `?lr=0.01`,
//! the JSON a run writes), but inside the code they are enums, so a misspelt id is a compile error,
//! not a lookup that fails at run time. [`spelled_ids!`] declares such an enum together with its
//! spellings, and gives it `ALL`, `as_str`, `Display`, `FromStr` and serde as the spelling.

use std::fmt;

/// A spelling that names no id of the kind asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownId {
    /// What was looked for ("EntryId", "FaultId", ...).
    pub kind: &'static str,
    /// What was given.
    pub spelling: String,
}

impl fmt::Display for UnknownId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not a known {}", self.spelling, self.kind)
    }
}

impl std::error::Error for UnknownId {}

/// Declares an id enum with one spelling per variant:
///
/// ```
/// faultline_guide::spelled_ids! {
///     /// Colours.
///     pub enum Colour {
///         Red => "red",
///         DarkBlue => "dark-blue",
///     }
/// }
/// assert_eq!(Colour::DarkBlue.as_str(), "dark-blue");
/// assert_eq!("red".parse::<Colour>(), Ok(Colour::Red));
/// assert_eq!(Colour::ALL.len(), 2);
/// ```
#[macro_export]
macro_rules! spelled_ids {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $spelling:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every id, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used in links, on the command line and in JSON.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $spelling),+
                }
            }

            /// The position in [`Self::ALL`].
            pub const fn index(self) -> usize {
                self as usize
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::ids::UnknownId;

            fn from_str(s: &str) -> ::core::result::Result<Self, Self::Err> {
                match s {
                    $($spelling => Ok($name::$variant),)+
                    _ => Err($crate::ids::UnknownId { kind: stringify!($name), spelling: s.to_string() }),
                }
            }
        }

        impl $crate::ids::serde::Serialize for $name {
            fn serialize<S: $crate::ids::serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::ids::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::ids::serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str> as $crate::ids::serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(<D::Error as $crate::ids::serde::de::Error>::custom)
            }
        }
    };
}

#[doc(hidden)]
pub use serde;

#[cfg(test)]
mod tests {
    spelled_ids! {
        enum Probe {
            One => "one",
            TwoWords => "two-words",
        }
    }

    #[test]
    fn spellings_round_trip_through_text_and_json() {
        for &id in Probe::ALL {
            assert_eq!(id.as_str().parse::<Probe>(), Ok(id));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<Probe>(&json).unwrap(), id);
        }
        assert_eq!(Probe::TwoWords.to_string(), "two-words");
        assert_eq!(Probe::TwoWords.index(), 1);
        let e = "three".parse::<Probe>().unwrap_err();
        assert_eq!(e.to_string(), "'three' is not a known Probe");
        assert!(serde_json::from_str::<Probe>("\"three\"").is_err());
    }
}
