//! OTLP/HTTP: protobuf bodies posted with `reqwest`, and what each answer means.
//!
//! One client (connection pool with keep-alive, rustls) posts `Content-Type:
//! application/x-protobuf` bodies to the signal's endpoint. The answer is classified as
//! the OTLP specification says:
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

use std::io::Read;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use dagnats_observe::otlp::proto::collector::logs::v1::ExportLogsServiceResponse;
use dagnats_observe::otlp::proto::collector::metrics::v1::ExportMetricsServiceResponse;
use dagnats_observe::otlp::proto::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
// The `google.rpc.Status` an OTLP receiver sends with an error.
use tonic_types::pb::Status as RpcStatus;

use super::{clean_reason, read_file, Outcome};
use crate::cli::Compression;
use crate::config::{ConfigError, Endpoint, OtlpTls, Signal};

/// Longest response body read, for partial success or an error message.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// One signal's OTLP/HTTP endpoint.
pub(super) struct Target {
    url: reqwest::Url,
    headers: HeaderMap,
    pub(super) compression: Compression,
    timeout: Duration,
}

/// The one client of every OTLP/HTTP endpoint, with the TLS files of `tls`.
pub(super) fn client(tls: &OtlpTls) -> Result<reqwest::Client, ConfigError> {
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
    if let Some(ca) = &tls.ca_file {
        for cert in reqwest::Certificate::from_pem_bundle(&read_file(ca)?)
            .map_err(|_| ConfigError(format!("{} holds no PEM certificate", ca.display())))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let mut pem = read_file(cert)?;
            pem.push(b'\n');
            pem.extend(read_file(key)?);
            let identity = reqwest::Identity::from_pem(&pem)
                .map_err(|_| ConfigError("the OTLP client certificate or key is not valid PEM".into()))?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => return Err(ConfigError("an OTLP client certificate needs both the certificate and the key".into())),
    }
    builder.build().map_err(|e| ConfigError(format!("cannot build the HTTP client: {e}")))
}

impl Target {
    /// The URL, headers (values marked sensitive), compression and timeout of `e`.
    pub(super) fn new(signal: Signal, e: &Endpoint) -> Result<Target, ConfigError> {
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
    }
}

/// Posts `body` to `t` and classifies the answer.
pub(super) async fn send(client: &reqwest::Client, t: &Target, signal: Signal, body: Bytes) -> Outcome {
    let sent = client.post(t.url.clone()).headers(t.headers.clone()).timeout(t.timeout).body(body).send().await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_builder() => {
            return Outcome::Permanent { reason: format!("cannot build the request: {}", describe(&e)) }
        }
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

/// A short, single-line, printable version of an error response body.
fn error_text(body: &[u8]) -> Option<String> {
    if body.is_empty() {
        return None;
    }
    let text = match RpcStatus::decode(body) {
        Ok(s) if !s.message.is_empty() => s.message,
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    clean_reason(&text)
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
        assert_eq!(
            classify(Signal::Logs, StatusCode::OK, None, b""),
            Outcome::Exported { rejected: 0, message: String::new() }
        );
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
        assert_eq!(
            classify(Signal::Spans, StatusCode::OK, None, b"{}"),
            Outcome::Exported { rejected: 0, message: String::new() }
        );
    }

    #[test]
    fn error_bodies_become_short_reasons() {
        let status = RpcStatus { code: 3, message: "invalid span\nid".into(), details: Vec::new() }.encode_to_vec();
        let Outcome::Refused { reason } = classify(Signal::Spans, StatusCode::BAD_REQUEST, None, &status) else {
            panic!()
        };
        assert_eq!(reason, "HTTP 400 Bad Request: invalid span id");
        let long = vec![b'x'; 5000];
        let Outcome::Permanent { reason } = classify(Signal::Spans, StatusCode::INTERNAL_SERVER_ERROR, None, &long)
        else {
            panic!()
        };
        assert!(reason.len() < 400);
    }
}
