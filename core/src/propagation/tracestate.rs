//! The `tracestate` header: an ordered list of vendor `key=value` members.
//!
//! Validation follows W3C Trace Context Level 2, section "tracestate Header":
//!
//! ```text
//! list        = list-member 0*31( OWS "," OWS list-member )
//! list-member = (key "=" value) / OWS
//! key         = ( lcalpha / DIGIT ) 0*255 ( keychar )
//! keychar     = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
//! value       = 0*255(chr) nblk-chr
//! nblk-chr    = %x21-2B / %x2D-3C / %x3E-7E
//! chr         = %x20 / nblk-chr
//! ```
//!
//! Level 2 dropped Level 1's separate `tenant-id "@" system-id` form (with its 241/14
//! character limits): `@` is an ordinary key character anywhere but first, and the only
//! key limit is 256 characters in total.

use std::fmt;
use std::sync::Arc;

/// A validated `tracestate` list, kept as its normalized header value (members joined by
/// `,` without whitespace). Empty when absent. Cheap to clone.
///
/// ```
/// use dagnats_observe::propagation::TraceState;
///
/// // Several header fields are one list; OWS and empty members are dropped.
/// let ts = TraceState::from_header_values(&["rojo=00f067aa0ba902b7 , ", "congo=t61rcWkgMzE"]);
/// assert_eq!(ts.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
/// assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
///
/// // Updating a key moves it to the front.
/// let ts = ts.insert("congo", "ucfJifl5GOE").unwrap();
/// assert_eq!(ts.as_str(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
///
/// // An invalid list is dropped whole.
/// assert!(TraceState::parse("foo=1,foo=2").is_err());
/// assert!(TraceState::from_header_values(&["foo=1", "FOO=2"]).is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TraceState(Option<Arc<str>>);

/// Why a `tracestate` value (or a member for [`TraceState::insert`]) was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceStateError {
    /// A non-empty list member without `=`.
    MissingEquals,
    /// A key that does not match the Level 2 key grammar (empty, longer than 256
    /// characters, not starting with `a-z`/`0-9`, or a character outside
    /// `a-z 0-9 _ - * / @`).
    InvalidKey,
    /// A value that is empty, longer than 256 characters, ends with a space, or has a
    /// character outside printable ASCII or one of `,` and `=`.
    InvalidValue,
    /// More than 32 list members.
    TooManyMembers,
    /// The same key twice.
    DuplicateKey,
}

impl fmt::Display for TraceStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceStateError::MissingEquals => "tracestate list member has no '='",
            TraceStateError::InvalidKey => "tracestate key is invalid",
            TraceStateError::InvalidValue => "tracestate value is invalid",
            TraceStateError::TooManyMembers => "tracestate has more than 32 list members",
            TraceStateError::DuplicateKey => "tracestate has a duplicate key",
        })
    }
}

impl std::error::Error for TraceStateError {}

/// Strips HTTP optional whitespace (SP / HTAB) from both ends.
#[inline]
fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

#[inline]
fn is_key_start(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[inline]
fn is_key_char(b: u8) -> bool {
    is_key_start(b) || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
}

#[inline]
fn is_value_char(b: u8) -> bool {
    // chr = %x20 / %x21-2B / %x2D-3C / %x3E-7E
    (0x20..=0x7e).contains(&b) && b != b',' && b != b'='
}

/// Splits one trimmed, non-empty member into a validated key and value.
#[inline]
fn split_member(member: &str) -> Result<(&str, &str), TraceStateError> {
    let (key, value) = member.split_once('=').ok_or(TraceStateError::MissingEquals)?;
    if !TraceState::is_valid_key(key) {
        return Err(TraceStateError::InvalidKey);
    }
    if !TraceState::is_valid_value(value) {
        return Err(TraceStateError::InvalidValue);
    }
    Ok((key, value))
}

impl TraceState {
    /// The empty trace state.
    pub const EMPTY: TraceState = TraceState(None);

    /// Most list members a `tracestate` may have.
    pub const MAX_MEMBERS: usize = 32;
    /// Longest key, in characters.
    pub const MAX_KEY_LEN: usize = 256;
    /// Longest value, in characters.
    pub const MAX_VALUE_LEN: usize = 256;

    /// Parses and validates one header value.
    ///
    /// Members are separated by `,`, with optional spaces and tabs around each; empty
    /// members are allowed and dropped; an empty value is the empty trace state. At most
    /// 32 members, no duplicate keys, and every key and value must match the grammar, or
    /// the whole value is rejected.
    ///
    /// ```
    /// use dagnats_observe::propagation::{TraceState, TraceStateError};
    ///
    /// let ts = TraceState::parse(" a=1 ,, \tb@tenant= x ").unwrap();
    /// assert_eq!(ts.as_str(), "a=1,b@tenant= x"); // a value's leading spaces are kept
    /// assert_eq!(TraceState::parse("a=1,a=2"), Err(TraceStateError::DuplicateKey));
    /// assert_eq!(TraceState::parse("A=1"), Err(TraceStateError::InvalidKey));
    /// assert!(TraceState::parse("").unwrap().is_empty());
    /// ```
    pub fn parse(value: &str) -> Result<TraceState, TraceStateError> {
        Self::parse_values(std::slice::from_ref(&value))
    }

    /// The trace state of several header fields, joined with `,` as one list (RFC 9110
    /// field order). Anything invalid gives the empty trace state, never an error: a bad
    /// `tracestate` must not affect the `traceparent`.
    pub fn from_header_values(values: &[&str]) -> TraceState {
        Self::parse_values(values).unwrap_or_default()
    }

    /// Validates the list formed by joining `values` with `,`, then normalizes it.
    pub(crate) fn parse_values<S: AsRef<str>>(values: &[S]) -> Result<TraceState, TraceStateError> {
        let mut keys: [&str; Self::MAX_MEMBERS] = [""; Self::MAX_MEMBERS];
        let mut count = 0usize;
        let mut total_len = 0usize;
        // True while the input is a single value that already is its normalized form.
        let mut as_is = values.len() == 1;
        for value in values {
            for raw in value.as_ref().split(',') {
                let member = trim_ows(raw);
                if member.len() != raw.len() || member.is_empty() {
                    as_is = false;
                }
                if member.is_empty() {
                    continue;
                }
                if count == Self::MAX_MEMBERS {
                    return Err(TraceStateError::TooManyMembers);
                }
                let (key, _) = split_member(member)?;
                if keys[..count].contains(&key) {
                    return Err(TraceStateError::DuplicateKey);
                }
                keys[count] = key;
                count += 1;
                total_len += member.len();
            }
        }
        if count == 0 {
            return Ok(TraceState::EMPTY);
        }
        if as_is {
            if let Some(v) = values.first() {
                return Ok(TraceState(Some(Arc::from(v.as_ref()))));
            }
        }
        let mut out = String::with_capacity(total_len + count - 1);
        for value in values {
            for member in value.as_ref().split(',').map(trim_ows).filter(|m| !m.is_empty()) {
                if !out.is_empty() {
                    out.push(',');
                }
                out.push_str(member);
            }
        }
        Ok(TraceState(Some(Arc::from(out))))
    }

    /// Whether `key` matches the Level 2 key grammar: 1 to 256 characters, the first
    /// `a-z` or `0-9`, the others `a-z`, `0-9`, `_`, `-`, `*`, `/` or `@`.
    pub fn is_valid_key(key: &str) -> bool {
        let b = key.as_bytes();
        match b.split_first() {
            Some((&first, rest)) => {
                b.len() <= Self::MAX_KEY_LEN && is_key_start(first) && rest.iter().all(|&c| is_key_char(c))
            }
            None => false,
        }
    }

    /// Whether `value` matches the value grammar: 1 to 256 printable ASCII characters
    /// (space included) other than `,` and `=`, not ending with a space.
    pub fn is_valid_value(value: &str) -> bool {
        let b = value.as_bytes();
        match b.last() {
            Some(&last) => b.len() <= Self::MAX_VALUE_LEN && last != b' ' && b.iter().all(|&c| is_value_char(c)),
            None => false,
        }
    }

    /// The normalized header value (`""` when empty).
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// True when there are no members.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Number of list members.
    pub fn len(&self) -> usize {
        match &self.0 {
            Some(s) => s.bytes().filter(|&b| b == b',').count() + 1,
            None => 0,
        }
    }

    /// The members in order, as `(key, value)`.
    ///
    /// ```
    /// use dagnats_observe::propagation::TraceState;
    ///
    /// let ts = TraceState::parse("rojo=1,congo=2").unwrap();
    /// let members: Vec<_> = ts.members().collect();
    /// assert_eq!(members, [("rojo", "1"), ("congo", "2")]);
    /// ```
    pub fn members(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.0.as_deref().into_iter().flat_map(|s| s.split(',')).filter_map(|m| m.split_once('='))
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// A copy with `key` set to `value`, moved to the front (left) of the list, as the
    /// W3C mutation rules require for an added or updated entry. When this would make
    /// more than 32 members, the right-most member is dropped.
    ///
    /// ```
    /// use dagnats_observe::propagation::{TraceState, TraceStateError};
    ///
    /// let ts = TraceState::parse("rojo=00f067aa0ba902b7").unwrap();
    /// let ts = ts.insert("congo", "t61rcWkgMzE").unwrap();
    /// assert_eq!(ts.as_str(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    /// assert_eq!(ts.insert("Congo", "x"), Err(TraceStateError::InvalidKey));
    /// assert_eq!(ts.insert("congo", "a,b"), Err(TraceStateError::InvalidValue));
    /// ```
    pub fn insert(&self, key: &str, value: &str) -> Result<TraceState, TraceStateError> {
        if !Self::is_valid_key(key) {
            return Err(TraceStateError::InvalidKey);
        }
        if !Self::is_valid_value(value) {
            return Err(TraceStateError::InvalidValue);
        }
        let mut out = String::with_capacity(key.len() + value.len() + 2 + self.as_str().len());
        out.push_str(key);
        out.push('=');
        out.push_str(value);
        // The new member plus at most 31 others: past 32 the right-most members go.
        for (k, v) in self.members().filter(|(k, _)| *k != key).take(Self::MAX_MEMBERS - 1) {
            out.push(',');
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        Ok(TraceState(Some(Arc::from(out))))
    }

    /// A copy without `key` (the same list when `key` is absent).
    ///
    /// ```
    /// use dagnats_observe::propagation::TraceState;
    ///
    /// let ts = TraceState::parse("rojo=1,congo=2").unwrap();
    /// assert_eq!(ts.remove("rojo").as_str(), "congo=2");
    /// assert!(ts.remove("rojo").remove("congo").is_empty());
    /// ```
    pub fn remove(&self, key: &str) -> TraceState {
        if self.get(key).is_none() {
            return self.clone();
        }
        let mut out = String::with_capacity(self.as_str().len());
        for (k, v) in self.members().filter(|(k, _)| *k != key) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        if out.is_empty() {
            TraceState::EMPTY
        } else {
            TraceState(Some(Arc::from(out)))
        }
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TraceState {
    type Err = TraceStateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceState::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("k{i:02}={i}")).collect()
    }

    #[test]
    fn empty_and_whitespace() {
        assert_eq!(TraceState::parse(""), Ok(TraceState::EMPTY));
        assert_eq!(TraceState::parse(" \t , ,,\t"), Ok(TraceState::EMPTY));
        assert!(TraceState::EMPTY.is_empty());
        assert_eq!(TraceState::EMPTY.as_str(), "");
        assert_eq!(TraceState::EMPTY.len(), 0);
        assert_eq!(TraceState::EMPTY.members().count(), 0);
    }

    #[test]
    fn normalizes() {
        let ts = TraceState::parse("foo=1 \t , \t bar=2, \t baz=3").unwrap();
        assert_eq!(ts.as_str(), "foo=1,bar=2,baz=3");
        assert_eq!(ts.len(), 3);
        assert_eq!(TraceState::parse(",foo=1,,bar=2,").unwrap().as_str(), "foo=1,bar=2");
        assert_eq!(TraceState::parse("foo= 1").unwrap().get("foo"), Some(" 1"));
        assert_eq!(TraceState::parse("foo=1  ").unwrap().get("foo"), Some("1"));
        assert_eq!(TraceState::parse("foo=a b").unwrap().get("foo"), Some("a b"));
        // Already normalized input is stored as is.
        let s = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
        assert_eq!(TraceState::parse(s).unwrap().as_str(), s);
    }

    #[test]
    fn joins_header_values() {
        let ts = TraceState::from_header_values(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]);
        assert_eq!(ts.as_str(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
        assert_eq!(TraceState::from_header_values(&["", "foo=1"]).as_str(), "foo=1");
        assert_eq!(TraceState::from_header_values(&["foo=1", ""]).as_str(), "foo=1");
        assert!(TraceState::from_header_values(&["foo=1", "foo=1"]).is_empty());
        assert!(TraceState::from_header_values(&[]).is_empty());
    }

    #[test]
    fn member_limit() {
        let m32 = members(32);
        let ts = TraceState::parse(&m32.join(",")).unwrap();
        assert_eq!(ts.len(), 32);
        let (a, b) = (m32[..16].join(","), m32[16..].join(","));
        assert_eq!(TraceState::from_header_values(&[&a, &b]).len(), 32);
        assert_eq!(TraceState::parse(&members(33).join(",")), Err(TraceStateError::TooManyMembers));
        // Empty members do not count.
        assert!(TraceState::parse(&(m32.join(",,") + ",,")).is_ok());
    }

    #[test]
    fn key_grammar_level_2() {
        for ok in [
            "a",
            "1foo",
            "foo@",
            "foo@@bar",
            "foo@bar@baz",
            "fw529a3039@dt",
            "abcdefghijklmnopqrstuvwxyz0123456789_-*/",
            "abcdefghijklmnopqrstuvwxyz0123456789_-*/@a-z0-9_-*/",
        ] {
            assert!(TraceState::is_valid_key(ok), "{ok}");
        }
        assert!(TraceState::is_valid_key(&"z".repeat(256)));
        assert!(TraceState::is_valid_key(&format!("{}@v", "t".repeat(242))));
        assert!(TraceState::is_valid_key(&format!("t@{}", "v".repeat(15))));
        for bad in ["", "@foo", "_foo", "-foo", "*foo", "/foo", "Foo", "foo.bar", "foo bar", "foo=", "fooé"] {
            assert!(!TraceState::is_valid_key(bad), "{bad}");
        }
        assert!(!TraceState::is_valid_key(&"z".repeat(257)));
    }

    #[test]
    fn value_grammar() {
        let all: String = (0x20u8..=0x7e).filter(|&b| b != b',' && b != b'=').map(char::from).collect();
        assert!(TraceState::is_valid_value(&all));
        assert!(TraceState::is_valid_value(&"v".repeat(256)));
        assert!(!TraceState::is_valid_value(&"v".repeat(257)));
        for bad in ["", " ", "a ", "a,b", "a=b", "a\tb", "é", "\x7f", "\x1f"] {
            assert!(!TraceState::is_valid_value(bad), "{bad:?}");
        }
        assert_eq!(TraceState::parse("foo=bar=baz"), Err(TraceStateError::InvalidValue));
        assert_eq!(TraceState::parse("foo=,bar=3"), Err(TraceStateError::InvalidValue));
        assert_eq!(TraceState::parse("foo=   "), Err(TraceStateError::InvalidValue));
        assert_eq!(TraceState::parse("foo"), Err(TraceStateError::MissingEquals));
        assert_eq!(TraceState::parse("=1"), Err(TraceStateError::InvalidKey));
        assert_eq!(TraceState::parse("foo =1"), Err(TraceStateError::InvalidKey));
    }

    #[test]
    fn get_members() {
        let ts = TraceState::parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE").unwrap();
        assert_eq!(ts.get("rojo"), Some("00f067aa0ba902b7"));
        assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(ts.get("rojo=00f067aa0ba902b7"), None);
        assert_eq!(ts.get("nope"), None);
        assert_eq!(ts.to_string(), ts.as_str());
        assert_eq!("a=1".parse::<TraceState>().unwrap().get("a"), Some("1"));
    }

    #[test]
    fn insert_moves_to_front() {
        let ts = TraceState::parse("congo=t61rcWkgMzE").unwrap();
        let ts = ts.insert("rojo", "00f067aa0ba902b7").unwrap();
        assert_eq!(ts.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        let ts = ts.insert("congo", "ucfJifl5GOE").unwrap();
        assert_eq!(ts.as_str(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
        assert_eq!(TraceState::EMPTY.insert("a", "1").unwrap().as_str(), "a=1");
        assert_eq!(ts.insert("", "1"), Err(TraceStateError::InvalidKey));
        assert_eq!(ts.insert("a", ""), Err(TraceStateError::InvalidValue));
        assert_eq!(ts.insert("a", "x "), Err(TraceStateError::InvalidValue));
    }

    #[test]
    fn insert_drops_right_most_past_32() {
        let ts = TraceState::parse(&members(32).join(",")).unwrap();
        let ts2 = ts.insert("new", "1").unwrap();
        assert_eq!(ts2.len(), 32);
        assert!(ts2.as_str().starts_with("new=1,k01=1"));
        assert_eq!(ts2.get("k32"), None);
        // Updating an existing key never drops another.
        let ts3 = ts.insert("k32", "x").unwrap();
        assert_eq!(ts3.len(), 32);
        assert!(ts3.as_str().starts_with("k32=x,k01=1"));
        assert_eq!(ts3.get("k31"), Some("31"));
        assert!(TraceState::parse(ts3.as_str()).is_ok());
    }

    #[test]
    fn remove() {
        let ts = TraceState::parse("a=1,b=2,c=3").unwrap();
        assert_eq!(ts.remove("b").as_str(), "a=1,c=3");
        assert_eq!(ts.remove("a").as_str(), "b=2,c=3");
        assert_eq!(ts.remove("c").as_str(), "a=1,b=2");
        assert_eq!(ts.remove("x"), ts);
        assert_eq!(ts.remove("a").remove("b").remove("c"), TraceState::EMPTY);
    }

    #[test]
    fn clone_is_cheap_and_equal() {
        let ts = TraceState::parse("a=1").unwrap();
        let c = ts.clone();
        assert_eq!(ts, c);
        assert!(std::ptr::eq(ts.as_str(), c.as_str()));
    }
}
