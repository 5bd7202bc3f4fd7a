//! The `traceparent` header: `{version}-{trace-id}-{parent-id}-{trace-flags}`.
//!
//! Parsing follows the W3C Trace Context Recommendation (Level 1, section 3.2, unchanged in
//! Level 2):
//!
//! - `version` is two lowercase hex digits followed by `-`; `ff` is forbidden.
//! - Version `00` is exactly 55 characters: `00-` + 32 hex + `-` + 16 hex + `-` + 2 hex.
//! - A higher version is parsed by its first four fields: the value must be at least 55
//!   characters, and when it is longer the character right after the flags must be `-`
//!   (what follows is ignored). Only the `sampled` bit of a higher version's flags is
//!   taken, as the Recommendation says ("Parse the sampled bit of flags"): the other bits
//!   may mean something else in that version.
//! - Every hex digit must be lowercase; an all-zero trace id or parent id is invalid.
//! - Optional whitespace (space, horizontal tab) around the whole value is HTTP `OWS` and is
//!   ignored, as the W3C test suite expects.
//!
//! Version `00` flags are kept exactly as given: bits this crate does not interpret (the
//! Level 2 `random-trace-id` bit, and bits later levels may define) are passed on.
//!
//! Output is always version `00`.

use std::fmt;

use super::TraceFlags;
use crate::id::{encode_hex, SpanId, TraceId};

/// Length of a version-`00` `traceparent` value.
pub const TRACEPARENT_LEN: usize = 55;

/// Why a `traceparent` value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceparentError {
    /// Version `00` that is not exactly 55 characters, or a higher version shorter than 55.
    Length,
    /// The version is not two lowercase hex digits followed by `-`.
    Version,
    /// Version `ff`, which the Recommendation forbids.
    ForbiddenVersion,
    /// A `-` is missing between fields, or a higher version's flags are followed by
    /// something other than `-`.
    Separator,
    /// The trace id is not 32 lowercase hex digits.
    TraceId,
    /// The parent (span) id is not 16 lowercase hex digits.
    SpanId,
    /// The trace flags are not 2 lowercase hex digits.
    Flags,
    /// The trace id is all zeros.
    ZeroTraceId,
    /// The parent (span) id is all zeros.
    ZeroSpanId,
}

impl fmt::Display for TraceparentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TraceparentError::Length => "traceparent has the wrong length for its version",
            TraceparentError::Version => "traceparent version is not two lowercase hex digits followed by '-'",
            TraceparentError::ForbiddenVersion => "traceparent version ff is forbidden",
            TraceparentError::Separator => "traceparent fields are not separated by '-'",
            TraceparentError::TraceId => "traceparent trace-id is not 32 lowercase hex digits",
            TraceparentError::SpanId => "traceparent parent-id is not 16 lowercase hex digits",
            TraceparentError::Flags => "traceparent trace-flags are not 2 lowercase hex digits",
            TraceparentError::ZeroTraceId => "traceparent trace-id is all zeros",
            TraceparentError::ZeroSpanId => "traceparent parent-id is all zeros",
        })
    }
}

impl std::error::Error for TraceparentError {}

/// Marks a byte that is not a lowercase hex digit in [`HEX_LUT`].
const NOT_HEX: u8 = 0xff;

/// Lowercase hex digit value for every byte, [`NOT_HEX`] for every other byte.
const HEX_LUT: [u8; 256] = {
    let mut lut = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        lut[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        lut[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    lut
};

/// Decodes `2 * N` lowercase hex bytes into `N` bytes; `None` on any other byte.
#[inline(always)]
fn decode_lower_hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let hi = HEX_LUT[pair[0] as usize];
        let lo = HEX_LUT[pair[1] as usize];
        // Both are < 16 when valid, so bit 0x80 is set only by NOT_HEX.
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    if bad & 0x80 != 0 {
        None
    } else {
        Some(out)
    }
}

/// Strips HTTP optional whitespace (SP / HTAB) from both ends.
#[inline]
fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// Parses a `traceparent` header value into trace id, parent span id and flags.
///
/// Never panics; every malformed input is an `Err`. The rules (W3C Trace Context, section
/// "traceparent Header"):
///
/// - `version` is two lowercase hex digits followed by `-`; `ff` is forbidden.
/// - Version `00` is exactly 55 characters. All eight flag bits are returned as given,
///   including bits this crate does not interpret (they are passed on to the next hop).
/// - A higher version is parsed by its first four fields: at least 55 characters, and when
///   longer, the character after the flags must be `-` (the rest is ignored). Only the
///   `sampled` bit of its flags is returned ("Parse the sampled bit of flags").
/// - Hex must be lowercase; an all-zero trace id or parent id is rejected.
/// - Spaces and tabs around the whole value (HTTP `OWS`) are ignored.
///
/// ```
/// use dagnats_observe::propagation::{parse_traceparent, TraceFlags, TraceparentError};
///
/// let (trace, span, flags) =
///     parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03").unwrap();
/// assert_eq!(trace.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(span.to_string(), "00f067aa0ba902b7");
/// assert_eq!(flags, TraceFlags(0x03)); // sampled + random-trace-id, carried as given
///
/// // A future version: the first four fields are used, the rest ignored.
/// assert!(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x").is_ok());
///
/// assert_eq!(
///     parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
///     Err(TraceparentError::TraceId),
/// );
/// ```
pub fn parse_traceparent(value: &str) -> Result<(TraceId, SpanId, TraceFlags), TraceparentError> {
    let b = trim_ows(value.as_bytes());
    if b.len() < 3 {
        return Err(TraceparentError::Length);
    }
    let (v_hi, v_lo) = (HEX_LUT[b[0] as usize], HEX_LUT[b[1] as usize]);
    if v_hi == NOT_HEX || v_lo == NOT_HEX || b[2] != b'-' {
        return Err(TraceparentError::Version);
    }
    let version = (v_hi << 4) | v_lo;
    if version == 0xff {
        return Err(TraceparentError::ForbiddenVersion);
    }
    if version == 0 {
        if b.len() != TRACEPARENT_LEN {
            return Err(TraceparentError::Length);
        }
    } else {
        if b.len() < TRACEPARENT_LEN {
            return Err(TraceparentError::Length);
        }
        if b.len() > TRACEPARENT_LEN && b[TRACEPARENT_LEN] != b'-' {
            return Err(TraceparentError::Separator);
        }
    }
    if b[35] != b'-' || b[52] != b'-' {
        return Err(TraceparentError::Separator);
    }
    let trace = decode_lower_hex::<16>(&b[3..35]).ok_or(TraceparentError::TraceId)?;
    let span = decode_lower_hex::<8>(&b[36..52]).ok_or(TraceparentError::SpanId)?;
    let [flags] = decode_lower_hex::<1>(&b[53..55]).ok_or(TraceparentError::Flags)?;
    let trace_id = TraceId::from_bytes(trace).ok_or(TraceparentError::ZeroTraceId)?;
    let span_id = SpanId::from_bytes(span).ok_or(TraceparentError::ZeroSpanId)?;
    let flags = if version == 0 { flags } else { flags & TraceFlags::SAMPLED.0 };
    Ok((trace_id, span_id, TraceFlags(flags)))
}

/// Writes a version-`00` `traceparent` into a stack buffer, without allocating.
///
/// The bytes are ASCII; [`format_traceparent`] is the same as a `String`.
#[inline]
pub fn traceparent_bytes(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> [u8; TRACEPARENT_LEN] {
    let mut buf = [b'-'; TRACEPARENT_LEN];
    buf[0] = b'0';
    buf[1] = b'0';
    buf[3..35].copy_from_slice(&trace_id.to_hex_bytes());
    buf[36..52].copy_from_slice(&span_id.to_hex_bytes());
    encode_hex(&[flags.0], &mut buf[53..55]);
    buf
}

/// Formats a version-`00` `traceparent` value: `00-{trace_id}-{span_id}-{flags}`.
///
/// All eight flag bits are written as given.
///
/// ```
/// use dagnats_observe::propagation::{format_traceparent, TraceFlags};
/// use dagnats_observe::{SpanId, TraceId};
///
/// let trace: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
/// let span: SpanId = "00f067aa0ba902b7".parse().unwrap();
/// assert_eq!(
///     format_traceparent(trace, span, TraceFlags::SAMPLED),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// );
/// ```
#[inline]
pub fn format_traceparent(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> String {
    let buf = traceparent_bytes(trace_id, span_id, flags);
    // Always ASCII, so this never takes the error branch.
    match std::str::from_utf8(&buf) {
        Ok(s) => s.to_owned(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SID: &str = "00f067aa0ba902b7";

    fn tp(version: &str, flags: &str) -> String {
        format!("{version}-{TID}-{SID}-{flags}")
    }

    #[test]
    fn parses_version_00_and_keeps_all_flag_bits() {
        for (f, want) in [("00", 0u8), ("01", 1), ("02", 2), ("03", 3), ("09", 9), ("ff", 0xff)] {
            let (t, s, flags) = parse_traceparent(&tp("00", f)).unwrap();
            assert_eq!(t.to_string(), TID);
            assert_eq!(s.to_string(), SID);
            assert_eq!(flags, TraceFlags(want), "flags {f}");
        }
    }

    #[test]
    fn higher_versions_by_first_four_fields() {
        assert!(parse_traceparent(&tp("01", "01")).is_ok());
        assert!(parse_traceparent(&(tp("cc", "01") + "-what-the-future-will-be-like")).is_ok());
        assert!(parse_traceparent(&(tp("01", "01") + "-")).is_ok());
        assert_eq!(
            parse_traceparent(&(tp("cc", "01") + ".what-the-future-will-be-like")),
            Err(TraceparentError::Separator)
        );
        // Only the sampled bit of a higher version's flags.
        assert_eq!(parse_traceparent(&tp("01", "09")).unwrap().2, TraceFlags(1));
        assert_eq!(parse_traceparent(&tp("fe", "fe")).unwrap().2, TraceFlags(0));
        assert_eq!(parse_traceparent(&tp("01", "0")), Err(TraceparentError::Length));
    }

    #[test]
    fn version_00_must_be_exactly_55() {
        assert_eq!(parse_traceparent(&(tp("00", "01") + "-")), Err(TraceparentError::Length));
        assert_eq!(parse_traceparent(&(tp("00", "01") + ".")), Err(TraceparentError::Length));
        assert_eq!(parse_traceparent(&tp("00", "001")), Err(TraceparentError::Length));
        assert_eq!(parse_traceparent(&tp("00", "1")), Err(TraceparentError::Length));
    }

    #[test]
    fn rejects_bad_versions() {
        assert_eq!(parse_traceparent(&tp("ff", "01")), Err(TraceparentError::ForbiddenVersion));
        for v in ["0A", ".0", "0.", "000", "0", "g0"] {
            assert_eq!(parse_traceparent(&tp(v, "01")), Err(TraceparentError::Version), "{v}");
        }
        assert_eq!(parse_traceparent(""), Err(TraceparentError::Length));
        assert_eq!(parse_traceparent("00"), Err(TraceparentError::Length));
    }

    #[test]
    fn rejects_bad_fields() {
        let upper = format!("00-{}-{SID}-01", TID.to_uppercase());
        assert_eq!(parse_traceparent(&upper), Err(TraceparentError::TraceId));
        let upper = format!("00-{TID}-{}-01", "00F067AA0BA902B7");
        assert_eq!(parse_traceparent(&upper), Err(TraceparentError::SpanId));
        assert_eq!(parse_traceparent(&tp("00", "0A")), Err(TraceparentError::Flags));
        assert_eq!(parse_traceparent(&tp("00", "0g")), Err(TraceparentError::Flags));
        let zero = format!("00-{}-{SID}-01", "0".repeat(32));
        assert_eq!(parse_traceparent(&zero), Err(TraceparentError::ZeroTraceId));
        let zero = format!("00-{TID}-{}-01", "0".repeat(16));
        assert_eq!(parse_traceparent(&zero), Err(TraceparentError::ZeroSpanId));
        let sep = format!("00-{TID}_{SID}-01");
        assert_eq!(parse_traceparent(&sep), Err(TraceparentError::Separator));
        let sep = format!("00-{TID}-{SID}_01");
        assert_eq!(parse_traceparent(&sep), Err(TraceparentError::Separator));
    }

    #[test]
    fn tolerates_ows_only() {
        for v in [
            format!(" {}", tp("00", "01")),
            format!("\t{}", tp("00", "01")),
            format!("{} ", tp("00", "01")),
            format!("{}\t", tp("00", "01")),
            format!("\t {} \t", tp("00", "01")),
        ] {
            assert!(parse_traceparent(&v).is_ok(), "{v:?}");
        }
        assert!(parse_traceparent(&format!("\n{}", tp("00", "01"))).is_err());
        assert!(parse_traceparent(&format!("{}\r", tp("00", "01"))).is_err());
        assert!(parse_traceparent("   \t ").is_err());
    }

    #[test]
    fn non_ascii_never_panics() {
        let mut s = tp("00", "01");
        s.replace_range(10..11, "é");
        assert!(parse_traceparent(&s).is_err());
        assert!(parse_traceparent(&format!("01-{TID}-{SID}-01é")).is_err());
        assert!(parse_traceparent(&format!("01-{TID}-{SID}-01-é")).is_ok());
        assert!(parse_traceparent("é").is_err());
        assert!(parse_traceparent("ééééééééééééééééééééééééééééééééééééééééééééééééééééééé").is_err());
    }

    #[test]
    fn format_round_trip() {
        let t = TraceId::from_hex(TID).unwrap();
        let s = SpanId::from_hex(SID).unwrap();
        for f in [0u8, 1, 2, 3, 9, 0x7f, 0xff] {
            let text = format_traceparent(t, s, TraceFlags(f));
            assert_eq!(text.len(), TRACEPARENT_LEN);
            assert_eq!(text, format!("00-{TID}-{SID}-{f:02x}"));
            assert_eq!(parse_traceparent(&text), Ok((t, s, TraceFlags(f))));
            assert_eq!(traceparent_bytes(t, s, TraceFlags(f)), text.as_bytes());
        }
    }

    #[test]
    fn errors_display() {
        let e: Box<dyn std::error::Error> = Box::new(TraceparentError::ForbiddenVersion);
        assert!(e.to_string().contains("ff"));
    }
}
