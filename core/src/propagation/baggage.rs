//! W3C Baggage (`baggage` header): carried through a hop untouched, so that what an engine
//! or an OpenTelemetry service put there survives our workers.
//!
//! The header is parsed and validated by the W3C Baggage grammar: `key OWS "=" OWS value
//! *( OWS ";" OWS property )`, members separated by `,`, the key a token, the value
//! baggage-octets (percent-encoded text), properties kept as they are. A member that
//! breaks the grammar is dropped and the valid ones are kept, as the OpenTelemetry SDKs
//! do; so are members past the limits (64 members, 8192 bytes). Several `baggage` fields
//! are one list. The members are written back as read, without the optional white space.
//!
//! ```
//! use dagnats_observe::propagation::Baggage;
//!
//! let b = Baggage::parse_values(&["userId=alice , serverNode=DF%2028", "bad key=1;x", "isProduction=false;p"]);
//! assert_eq!(b.as_str(), "userId=alice,serverNode=DF%2028,isProduction=false;p");
//! assert_eq!(b.get("serverNode"), Some("DF%2028"));
//! assert!(Baggage::parse_values(&["=novalue"]).is_empty());
//! ```

use std::sync::Arc;

/// Members at most (W3C Baggage: "at least 64 list-members"; what we carry).
pub const MAX_MEMBERS: usize = 64;
/// Bytes at most of the whole list (W3C Baggage: "at least 8192 bytes").
pub const MAX_BYTES: usize = 8192;

/// A validated baggage list, cheap to clone (shared text).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Baggage(Option<Arc<str>>);

impl Baggage {
    /// No baggage.
    pub const EMPTY: Baggage = Baggage(None);

    /// The valid members of the `baggage` field values, in order (see the module).
    pub fn parse_values<S: AsRef<str>>(values: &[S]) -> Baggage {
        let mut out = String::new();
        let mut members = 0;
        for member in values.iter().flat_map(|v| v.as_ref().split(',')) {
            let Some(member) = normalize_member(member) else { continue };
            let extra = member.len() + usize::from(!out.is_empty());
            if members == MAX_MEMBERS || out.len() + extra > MAX_BYTES {
                break;
            }
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&member);
            members += 1;
        }
        Baggage((!out.is_empty()).then(|| out.into()))
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The header value (empty when there is no member).
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// The value of the first member named `key`, as written (still percent-encoded).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.as_str().split(',').find_map(|m| {
            let (k, rest) = m.split_once('=')?;
            (k == key).then(|| rest.split(';').next().unwrap_or(""))
        })
    }
}

/// RFC 7230 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// W3C Baggage `baggage-octet`: printable ASCII but `"`, `,`, `;`, `\` and space.
fn is_value_byte(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `key=value` with its properties, without optional white space; `None` when the member
/// breaks the grammar. A value's percent-encoding is checked (`%` and two hex digits).
fn normalize_member(member: &str) -> Option<String> {
    let mut parts = member.split(';');
    let (key, value) = parts.next()?.split_once('=')?;
    let (key, value) = (key.trim_matches(is_ows), value.trim_matches(is_ows));
    if key.is_empty() || !key.bytes().all(is_token_byte) || !valid_value(value) {
        return None;
    }
    let mut out = format!("{key}={value}");
    for property in parts {
        let property = match property.split_once('=') {
            Some((k, v)) => {
                let (k, v) = (k.trim_matches(is_ows), v.trim_matches(is_ows));
                if k.is_empty() || !k.bytes().all(is_token_byte) || !valid_value(v) {
                    return None;
                }
                format!("{k}={v}")
            }
            None => {
                let k = property.trim_matches(is_ows);
                if k.is_empty() || !k.bytes().all(is_token_byte) {
                    return None;
                }
                k.to_owned()
            }
        };
        out.push(';');
        out.push_str(&property);
    }
    Some(out)
}

fn valid_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().all(|&b| is_value_byte(b))
        && bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'%')
            .all(|(i, _)| bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_members_are_kept_as_written_without_white_space() {
        let b = Baggage::parse_values(&[" k1 = v1 ; p1 ; p2 = x ,k2=v%2C2", "k3="]);
        assert_eq!(b.as_str(), "k1=v1;p1;p2=x,k2=v%2C2,k3=");
        assert_eq!((b.get("k1"), b.get("k2"), b.get("k3"), b.get("k4")), (Some("v1"), Some("v%2C2"), Some(""), None));
    }

    #[test]
    fn broken_members_are_dropped_and_the_rest_kept() {
        for bad in ["novalue", "=v", "k y=v", "k=v v", "k=\"q\"", "k=v\\", "k=%zz", "k=%2", "k=v;=p", "k=v;p q", "é=1"]
        {
            let b = Baggage::parse_values(&[format!("ok=1,{bad},ok2=2")]);
            assert_eq!(b.as_str(), "ok=1,ok2=2", "{bad:?}");
        }
        assert!(Baggage::parse_values(&["", " , ", "x"]).is_empty());
    }

    #[test]
    fn limits_keep_the_first_members() {
        let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
        let b = Baggage::parse_values(&[many.join(",")]);
        assert_eq!(b.as_str().split(',').count(), MAX_MEMBERS);
        let big = Baggage::parse_values(&[format!("a={},b=1", "x".repeat(MAX_BYTES - 2))]);
        assert_eq!(big.as_str().len(), MAX_BYTES);
        assert_eq!(big.get("b"), None);
    }
}
