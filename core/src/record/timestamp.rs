//! Wall-clock timestamps as the wire writes them: RFC 3339, UTC, nine fraction digits.
//!
//! Reading is lenient in what the Go engine may write: any RFC 3339 form, with or without
//! a fraction and with any UTC offset. A time before 1970 (most often Go's zero
//! `time.Time`, `0001-01-01T00:00:00Z`, which Go code writes for a time it never set)
//! reads as the Unix epoch: the wire and OTLP count unsigned nanoseconds from 1970, so
//! the epoch is the closest time they can express, and one unset time must not make the
//! whole record unreadable (the bridge would dead-letter it). The OTLP converter then
//! keeps a span's end from preceding its start.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nanoseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from(SystemTime::now())
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> u64 {
        self.0
    }

    /// This time plus `d`, saturating.
    pub fn saturating_add(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)))
    }

    /// Parses any RFC 3339 timestamp (fractions and offsets optional). A time before
    /// 1970 is clamped to the Unix epoch (see the module documentation); a time after
    /// 2554, beyond 64-bit nanoseconds, is an error.
    pub fn parse(s: &str) -> Result<Self, String> {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("invalid timestamp {s:?}: {e}"))?;
        let nanos = t.unix_timestamp_nanos();
        if nanos < 0 {
            return Ok(Timestamp::UNIX_EPOCH);
        }
        u64::try_from(nanos)
            .map(Timestamp)
            .map_err(|_| format!("timestamp {s:?} is after 2554, beyond 64-bit nanoseconds"))
    }

    /// 1970-01-01T00:00:00Z, also what a time before it reads as.
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    /// Writes `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` into a stack buffer.
    pub fn to_rfc3339_bytes(self) -> [u8; 30] {
        let secs = self.0 / 1_000_000_000;
        let nanos = (self.0 % 1_000_000_000) as u32;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(days);
        let mut out = *b"0000-00-00T00:00:00.000000000Z";
        put_digits(&mut out[0..4], y as u64);
        put_digits(&mut out[5..7], m as u64);
        put_digits(&mut out[8..10], d as u64);
        put_digits(&mut out[11..13], rem / 3600);
        put_digits(&mut out[14..16], (rem / 60) % 60);
        put_digits(&mut out[17..19], rem % 60);
        put_digits(&mut out[20..29], nanos as u64);
        out
    }
}

fn put_digits(buf: &mut [u8], mut v: u64) {
    for b in buf.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        // A clock set before 1970 is a broken clock; clamp rather than fail.
        Timestamp(t.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_rfc3339_bytes();
        f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.to_rfc3339_bytes();
        s.serialize_str(std::str::from_utf8(&b).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_nanoseconds_utc() {
        let t = Timestamp::parse("2026-11-24T10:30:00.123456789Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T10:30:00.123456789Z");
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(Timestamp::parse("2000-02-29T23:59:59Z").unwrap().to_string(), "2000-02-29T23:59:59.000000000Z");
    }

    #[test]
    fn reads_what_go_writes() {
        let utc = Timestamp::parse("2026-11-24T10:30:00.5Z").unwrap();
        let offset = Timestamp::parse("2026-11-24T11:30:00.5+01:00").unwrap();
        assert_eq!(utc, offset);
        assert_eq!(utc.to_string(), "2026-11-24T10:30:00.500000000Z");
        assert!(Timestamp::parse("2026-11-24 10:30").is_err());
    }

    #[test]
    fn times_before_1970_read_as_the_epoch() {
        for s in [
            "0001-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
            "1900-01-01T00:00:00+01:00",
            "0001-01-01T00:00:00.000000000Z",
        ] {
            assert_eq!(Timestamp::parse(s), Ok(Timestamp::UNIX_EPOCH), "{s}");
        }
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00.000000001Z"), Ok(Timestamp(1)));
        let late = Timestamp::parse("2600-01-01T00:00:00Z").unwrap_err();
        assert!(late.contains("after 2554"), "{late}");
        let json = r#""0001-01-01T00:00:00Z""#;
        assert_eq!(serde_json::from_str::<Timestamp>(json).unwrap(), Timestamp(0));
    }

    #[test]
    fn agrees_with_the_time_crate_over_many_days() {
        for days in (0..200_000i64).step_by(97) {
            let nanos = days as u64 * 86_400_000_000_000 + 12_345;
            let ours = Timestamp(nanos).to_string();
            let back = Timestamp::parse(&ours).unwrap();
            assert_eq!(back.0, nanos, "{ours}");
        }
    }
}
