//! OTLP/HTTP export: protobuf bodies, gzip, and what each answer means.
//!
//! One `reqwest` client (connection pool with keep-alive, rustls) posts
//! `Content-Type: application/x-protobuf` bodies to the signal's endpoint. The answer is
//! classified as the OTLP specification says:
//!
//! - 2xx is success. A `partial_success` in the response body is still success (the
//!   request must not be retried); the rejected count and message are reported.
//! - 429, 502, 503 and 504 are retryable, after `Retry-After` when the receiver sends one
//!   (seconds or an HTTP date).
//! - A failure to connect, a timeout or a broken connection is retryable, and says the
//!   receiver is unreachable.
//! - 400 and 413 refuse the content of the request: [`Outcome::Refused`], which the
//!   pipeline splits to isolate the records at fault.
//! - 401, 403, 404, 405, 407 and 415 say the bridge is misconfigured (token, path,
//!   protocol), not that the data is bad: [`Outcome::Misconfigured`], held and retried.
//! - Every other status, 500 included, is permanent.

use std::cell::RefCell;
use std::io::Read;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use flate2::{Compress, Crc, FlushCompress, Status};
use dagnats_observe::otlp::proto::collector::logs::v1::ExportLogsServiceResponse;
use dagnats_observe::otlp::proto::collector::metrics::v1::ExportMetricsServiceResponse;
use dagnats_observe::otlp::proto::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

use crate::cli::Compression;
use crate::config::{Config, ConfigError, Signal};

/// Longest response body read, for partial success or an error message.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Characters of an error response kept in a reason.
const MAX_REASON_CHARS: usize = 300;

/// What became of one export request.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Accepted (2xx). `rejected` records were refused by a partial success.
    Exported {
        /// Records the receiver rejected.
        rejected: u64,
        /// The receiver's explanation of the rejection, if any.
        message: String,
    },
    /// Worth trying again.
    Retryable {
        /// The receiver's `Retry-After`.
        retry_after: Option<Duration>,
        /// True when no HTTP answer came at all (connection refused, timeout, reset).
        unreachable: bool,
        /// What happened, for logs and dead-letter headers.
        reason: String,
    },
    /// The receiver refused the content of this request (HTTP 400 or 413, gRPC
    /// `INVALID_ARGUMENT` or an oversized message): some of its records are at fault, or
    /// it is too large. Smaller requests may succeed.
    Refused {
        /// What happened, for logs and dead-letter headers.
        reason: String,
    },
    /// The receiver refuses every request because of the bridge's configuration (HTTP
    /// 401, 403, 404, 405, 407, 415; gRPC `UNAUTHENTICATED`, `PERMISSION_DENIED`,
    /// `UNIMPLEMENTED`): the data is not at fault, nothing is dead-lettered.
    Misconfigured {
        /// What happened, for logs.
        reason: String,
    },
    /// Refused for good.
    Permanent {
        /// What happened, for logs and dead-letter headers.
        reason: String,
    },
}

struct Target {
    url: reqwest::Url,
    headers: HeaderMap,
    compression: Compression,
    timeout: Duration,
}

/// Posts encoded requests to the three endpoints over one connection pool.
pub struct Exporter {
    client: reqwest::Client,
    targets: [Target; 3],
}

impl Exporter {
    /// An exporter for the endpoints, headers and TLS files of `config`.
    pub fn new(config: &Config) -> Result<Exporter, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_keepalive(Duration::from_secs(30))
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            // A redirect would turn the POST into a GET; a 3xx is reported (and, being
            // neither success nor retryable, dead-letters) so the endpoint gets fixed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dagnats-bridge/", env!("CARGO_PKG_VERSION")));
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| ConfigError(format!("cannot read {}: {}", p.display(), e.kind())))
        };
        let tls = &config.otlp_tls;
        if let Some(ca) = &tls.ca_file {
            for cert in reqwest::Certificate::from_pem_bundle(&read(ca)?)
                .map_err(|_| ConfigError(format!("{} holds no PEM certificate", ca.display())))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        match (&tls.cert_file, &tls.key_file) {
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|_| ConfigError("the OTLP client certificate or key is not valid PEM".into()))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => return Err(ConfigError("an OTLP client certificate needs both the certificate and the key".into())),
        }
        let client = builder.build().map_err(|e| ConfigError(format!("cannot build the HTTP client: {e}")))?;
        let target = |signal: Signal| -> Result<Target, ConfigError> {
            let e = config.endpoint(signal);
            let mut headers = HeaderMap::new();
            for (name, value) in e.headers.iter() {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| ConfigError(format!("{name:?} is not a valid HTTP header name")))?;
                let mut value = HeaderValue::from_str(value)
                    .map_err(|_| ConfigError(format!("the value of header {name:?} is not valid")))?;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
            if e.compression == Compression::Gzip {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            let url = reqwest::Url::parse(&e.url)
                .map_err(|_| ConfigError(format!("the {} endpoint is not a valid URL", signal.as_str())))?;
            Ok(Target { url, headers, compression: e.compression, timeout: e.timeout })
        };
        Ok(Exporter { client, targets: [target(Signal::Spans)?, target(Signal::Logs)?, target(Signal::Metrics)?] })
    }

    /// The request body for `message` on `signal`'s endpoint: protobuf, compressed as
    /// that endpoint wants.
    pub fn encode(&self, signal: Signal, message: &impl prost::Message) -> Bytes {
        let raw = message.encode_to_vec();
        match self.targets[signal.index()].compression {
            Compression::None => Bytes::from(raw),
            Compression::Gzip => Bytes::from(gzip(&raw)),
        }
    }

    /// Posts `body` (from [`encode`](Self::encode)) to `signal`'s endpoint.
    pub async fn send(&self, signal: Signal, body: Bytes) -> Outcome {
        let t = &self.targets[signal.index()];
        let sent = self.client.post(t.url.clone()).headers(t.headers.clone()).timeout(t.timeout).body(body).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_builder() => return Outcome::Permanent { reason: format!("cannot build the request: {}", describe(&e)) },
            Err(e) => return Outcome::Retryable { retry_after: None, unreachable: true, reason: describe(&e) },
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let gzipped = response.headers().get(CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let body = read_limited(response, t.timeout).await;
        let body = if gzipped { gunzip_limited(&body) } else { body };
        classify(signal, status, retry_after, &body)
    }
}

/// What a response means, from its status, `Retry-After` and (unzipped) body.
pub fn classify(signal: Signal, status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Outcome {
    if status.is_success() {
        let (rejected, message) = partial_success(signal, body);
        return Outcome::Exported { rejected, message };
    }
    let reason = format!("HTTP {status}{}", error_text(body).map(|t| format!(": {t}")).unwrap_or_default());
    match status.as_u16() {
        429 | 502 | 503 | 504 => Outcome::Retryable { retry_after, unreachable: false, reason },
        400 | 413 => Outcome::Refused { reason },
        401 | 403 | 404 | 405 | 407 | 415 => Outcome::Misconfigured { reason },
        _ => Outcome::Permanent { reason },
    }
}

/// `Retry-After` as a delay from `now`: delay-seconds or an HTTP date (a past date is
/// no delay).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn partial_success(signal: Signal, body: &[u8]) -> (u64, String) {
    if body.is_empty() {
        return (0, String::new());
    }
    // A receiver that answers something else than the protobuf response (some answer
    // JSON or nothing) has still accepted the data.
    let found = match signal {
        Signal::Spans => ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_spans, p.error_message)),
        Signal::Logs => ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_log_records, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_data_points, p.error_message)),
    };
    found.map(|(n, m)| (u64::try_from(n).unwrap_or(0), m)).unwrap_or_default()
}

/// The `google.rpc.Status` an OTLP receiver sends with an error.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A short, single-line, printable version of an error response body.
fn error_text(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = match RpcStatus::decode(body) {
        Ok(s) if !s.message.is_empty() => s.message,
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let clean: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(MAX_REASON_CHARS).collect::<String>().trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

/// A transport error in words, without the URL (it may hold credentials).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn read_limited(mut response: reqwest::Response, timeout: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            out.extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE_BYTES - out.len())]);
            if out.len() >= MAX_RESPONSE_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(timeout, read).await;
    out
}

thread_local! {
    /// One deflate state per thread, reset between bodies: a fresh one allocates and
    /// zeroes its whole window, which costs more than compressing a typical export.
    static DEFLATE: RefCell<Compress> = RefCell::new(Compress::new(flate2::Compression::fast(), false));
}

/// gzip (RFC 1952) at the fastest level: request bodies are compressed once per export
/// on the bridge's hot path, and level 1 keeps most of the size gain.
pub fn gzip(raw: &[u8]) -> Vec<u8> {
    // Header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
    let mut out = Vec::with_capacity(raw.len() / 3 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    DEFLATE.with(|state| {
        let mut c = state.borrow_mut();
        c.reset();
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(4096));
            }
            let consumed = usize::try_from(c.total_in()).unwrap_or(raw.len()).min(raw.len());
            match c.compress_vec(&raw[consumed..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {}
                // Compressing into memory cannot fail; should it anyway, the state is
                // replaced and the body is sent stored (valid gzip, just larger).
                Err(_) => {
                    *c = Compress::new(flate2::Compression::fast(), false);
                    out.truncate(10);
                    out.extend(stored_deflate(raw));
                    break;
                }
            }
        }
    });
    let mut crc = Crc::new();
    crc.update(raw);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out
}

/// `raw` as deflate "stored" blocks (no compression).
fn stored_deflate(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 65535 * 5 + 5);
    let mut chunks = raw.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let len = chunk.len() as u16;
        out.push(u8::from(chunks.peek().is_none()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

fn gunzip_limited(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(body).take(MAX_RESPONSE_BYTES as u64).read_to_end(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dagnats_observe::otlp::proto::collector::trace::v1::ExportTracePartialSuccess;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(90)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn only_429_502_503_504_are_retryable() {
        for code in [429, 502, 503, 504] {
            let o = classify(Signal::Spans, StatusCode::from_u16(code).unwrap(), Some(Duration::from_secs(1)), b"");
            assert!(matches!(o, Outcome::Retryable { unreachable: false, retry_after: Some(_), .. }), "{code}");
        }
        for code in [400, 413] {
            let o = classify(Signal::Spans, StatusCode::from_u16(code).unwrap(), None, b"");
            assert!(matches!(o, Outcome::Refused { .. }), "{code}");
        }
        for code in [401, 403, 404, 405, 407, 415] {
            let o = classify(Signal::Spans, StatusCode::from_u16(code).unwrap(), None, b"");
            assert!(matches!(o, Outcome::Misconfigured { .. }), "{code}");
        }
        for code in [300, 410, 500, 501, 505] {
            let o = classify(Signal::Spans, StatusCode::from_u16(code).unwrap(), None, b"");
            assert!(matches!(o, Outcome::Permanent { .. }), "{code}");
        }
        assert_eq!(classify(Signal::Logs, StatusCode::OK, None, b""), Outcome::Exported { rejected: 0, message: String::new() });
    }

    #[test]
    fn a_partial_success_is_success_with_a_count() {
        let body = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess { rejected_spans: 3, error_message: "too old".into() }),
        }
        .encode_to_vec();
        assert_eq!(
            classify(Signal::Spans, StatusCode::OK, None, &body),
            Outcome::Exported { rejected: 3, message: "too old".into() }
        );
        assert_eq!(classify(Signal::Spans, StatusCode::OK, None, b"{}"), Outcome::Exported { rejected: 0, message: String::new() });
    }

    #[test]
    fn error_bodies_become_short_reasons() {
        let status = RpcStatus { code: 3, message: "invalid span\nid".into() }.encode_to_vec();
        let Outcome::Refused { reason } = classify(Signal::Spans, StatusCode::BAD_REQUEST, None, &status) else { panic!() };
        assert_eq!(reason, "HTTP 400 Bad Request: invalid span id");
        let long = vec![b'x'; 5000];
        let Outcome::Permanent { reason } = classify(Signal::Spans, StatusCode::INTERNAL_SERVER_ERROR, None, &long) else { panic!() };
        assert!(reason.len() < 400);
    }

    fn gunzip(z: &[u8]) -> Vec<u8> {
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(z).read_to_end(&mut back).unwrap();
        back
    }

    #[test]
    fn gzip_round_trips_with_a_reused_state() {
        let mut rng = fastrand::Rng::with_seed(3);
        for size in [0usize, 1, 100, 70_000, 300_000] {
            let raw: Vec<u8> = (0..size).map(|i| if i % 7 == 0 { rng.u8(..) } else { b'a' + (i % 13) as u8 }).collect();
            let z = gzip(&raw);
            assert_eq!(gunzip(&z), raw, "size {size}");
            assert!(size < 1000 || z.len() < raw.len() / 2, "size {size} compressed to {}", z.len());
        }
    }

    #[test]
    fn stored_blocks_are_valid_deflate() {
        for size in [0usize, 10, 65535, 65536, 200_000] {
            let raw: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let mut z = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
            z.extend(stored_deflate(&raw));
            let mut crc = Crc::new();
            crc.update(&raw);
            z.extend_from_slice(&crc.sum().to_le_bytes());
            z.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            assert_eq!(gunzip(&z), raw, "size {size}");
        }
    }
}
