//! Trace and span identifiers.
//!
//! A [`TraceId`] is 16 bytes and a [`SpanId`] 8 bytes, as W3C Trace Context defines them.
//! Both are written as lowercase hex; parsing accepts only lowercase hex of the exact
//! length and never the all-zero value, which W3C reserves for "invalid".
//!
//! ```
//! use dagnats_observe::{SpanId, TraceId};
//!
//! let trace = TraceId::random();
//! assert_eq!(trace.to_string().len(), 32);
//! let parsed: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
//! assert_eq!(parsed.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! assert!("0000000000000000".parse::<SpanId>().is_err());
//! ```

use std::fmt;
use std::str::FromStr;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Why a hex id could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    /// Not exactly 32 (trace) or 16 (span) characters.
    Length,
    /// A character that is not lowercase hex (`0-9`, `a-f`).
    NotLowercaseHex,
    /// Every byte is zero, which W3C reserves as invalid.
    AllZero,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdError::Length => "wrong length",
            IdError::NotLowercaseHex => "not lowercase hex",
            IdError::AllZero => "all-zero id is invalid",
        })
    }
}

impl std::error::Error for IdError {}

/// Value of one lowercase hex digit, or `None`.
#[inline]
pub(crate) fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes lowercase hex of exactly `2 * N` characters into `N` bytes.
#[inline]
pub(crate) fn decode_hex<const N: usize>(s: &[u8]) -> Result<[u8; N], IdError> {
    if s.len() != 2 * N {
        return Err(IdError::Length);
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = hex_value(pair[0]).ok_or(IdError::NotLowercaseHex)?;
        let lo = hex_value(pair[1]).ok_or(IdError::NotLowercaseHex)?;
        out[i] = hi << 4 | lo;
    }
    Ok(out)
}

/// Writes `bytes` as lowercase hex into `out` (which is exactly twice as long).
#[inline]
pub(crate) fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 0x0f) as usize];
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $len:literal, $random:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Number of bytes in this id.
            pub const LEN: usize = $len;

            /// A new random id, never all-zero.
            ///
            /// Uses a fast per-thread generator seeded from the operating system; ids are
            /// unique in practice, not secret.
            #[inline]
            pub fn random() -> Self {
                loop {
                    let bytes: [u8; $len] = $random;
                    if bytes != [0u8; $len] {
                        return $name(bytes);
                    }
                }
            }

            /// Wraps raw bytes; `None` for the all-zero (invalid) id.
            pub fn from_bytes(bytes: [u8; $len]) -> Option<Self> {
                if bytes == [0u8; $len] { None } else { Some($name(bytes)) }
            }

            /// The raw bytes, big-endian as W3C writes them.
            pub fn to_bytes(self) -> [u8; $len] {
                self.0
            }

            /// Parses lowercase hex of exactly the right length.
            pub fn from_hex(s: &str) -> Result<Self, IdError> {
                let bytes = decode_hex::<$len>(s.as_bytes())?;
                Self::from_bytes(bytes).ok_or(IdError::AllZero)
            }

            /// Lowercase hex into a stack buffer, without allocating.
            #[inline]
            pub fn to_hex_bytes(self) -> [u8; 2 * $len] {
                let mut out = [0u8; 2 * $len];
                encode_hex(&self.0, &mut out);
                out
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let hex = self.to_hex_bytes();
                // encode_hex writes only ASCII hex digits.
                f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::from_hex(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let hex = self.to_hex_bytes();
                s.serialize_str(std::str::from_utf8(&hex).map_err(serde::ser::Error::custom)?)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                Self::from_hex(&s).map_err(|e| {
                    serde::de::Error::custom(format!(
                        concat!("invalid ", stringify!($name), " {:?}: {}"), s, e
                    ))
                })
            }
        }
    };
}

id_type!(
    /// A 16-byte W3C trace id, shared by every span of one trace.
    TraceId,
    16,
    fastrand::u128(..).to_be_bytes()
);

id_type!(
    /// An 8-byte W3C span id (the `parent-id` field of a `traceparent`).
    SpanId,
    8,
    fastrand::u64(..).to_be_bytes()
);

/// Reseeds this thread's id generator from the operating system.
///
/// A forked child process inherits its parent's generator state and would otherwise
/// produce the same ids; language packages call this from their after-fork hooks.
pub fn reseed_after_fork() {
    // Mix the process id and the wall clock into the fresh seed: both differ in the child.
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    fastrand::seed(now ^ ((std::process::id() as u64) << 32) ^ fastrand::u64(..));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_distinct_and_nonzero() {
        let a = TraceId::random();
        let b = TraceId::random();
        assert_ne!(a, b);
        assert_ne!(a.to_bytes(), [0; 16]);
        assert_ne!(SpanId::random(), SpanId::random());
    }

    #[test]
    fn hex_round_trip() {
        let t = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.to_bytes()[0], 0x4b);
        let s = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        assert_eq!(format!("{s:?}"), "SpanId(00f067aa0ba902b7)");
    }

    #[test]
    fn rejects_bad_hex() {
        assert_eq!(TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736"), Err(IdError::NotLowercaseHex));
        assert_eq!(TraceId::from_hex("4bf92f"), Err(IdError::Length));
        assert_eq!(SpanId::from_hex("0000000000000000"), Err(IdError::AllZero));
        assert_eq!(SpanId::from_hex("00f067aa0ba902bg"), Err(IdError::NotLowercaseHex));
        assert!(SpanId::from_bytes([0; 8]).is_none());
    }

    #[test]
    fn serde_as_hex_strings() {
        let s = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"00f067aa0ba902b7\"");
        let back: SpanId = serde_json::from_str("\"00f067aa0ba902b7\"").unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<SpanId>("\"\"").is_err());
    }
}
