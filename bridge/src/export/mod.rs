//! OTLP export over HTTP or gRPC: protobuf bodies, gzip, and what each answer means.
//!
//! Each signal is exported with its endpoint's [`Protocol`]:
//!
//! - **http/protobuf** ([`http`]): one `reqwest` client (connection pool with keep-alive,
//!   rustls) posts `Content-Type: application/x-protobuf` bodies, gzipped here at the
//!   fastest level, to the signal's URL.
//! - **grpc** ([`grpc`]): the `Export` method of opentelemetry-proto's collector services
//!   (`opentelemetry.proto.collector.{trace,logs,metrics}.v1`) over one tonic channel
//!   per receiver (HTTP/2, requests multiplexed on one connection, rustls with the ring
//!   provider), gzip message compression by tonic, headers sent as metadata.
//!
//! Both use the same TLS settings (a CA file beside the system's roots, an optional
//! client certificate), the same headers, compression and per-request timeout, and
//! classify the receiver's answer into one [`Outcome`] as the OTLP specification says:
//!
//! | outcome | OTLP/HTTP | OTLP/gRPC |
//! | --- | --- | --- |
//! | [`Outcome::Exported`] | 2xx, partial success included | `OK`, partial success included |
//! | [`Outcome::Retryable`] | 429, 502, 503, 504 (after `Retry-After`) | `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`; `RESOURCE_EXHAUSTED` with a `RetryInfo` (after its delay) |
//! | ... unreachable | no connection, timeout, broken connection | the same (a transport error, no status from the receiver) |
//! | [`Outcome::Refused`] | 400, 413 | `INVALID_ARGUMENT`; a message too large (`RESOURCE_EXHAUSTED` without `RetryInfo`, or tonic's `OUT_OF_RANGE`, naming the size) |
//! | [`Outcome::Misconfigured`] | 401, 403, 404, 405, 407, 415 | `UNAUTHENTICATED`, `PERMISSION_DENIED`, `UNIMPLEMENTED`, `NOT_FOUND` |
//! | [`Outcome::Permanent`] | every other status, 500 included | every other code |
//!
//! The pipeline calls [`Exporter::encode`] once per request and [`Exporter::send`] once per
//! attempt, whatever the protocol.

pub mod grpc;
pub mod http;

use std::cell::RefCell;
use std::time::Duration;

use bytes::Bytes;
use flate2::{Compress, Crc, FlushCompress, Status};

use crate::cli::{Compression, Protocol};
use crate::config::{Config, ConfigError, Signal};

pub use http::{classify, parse_retry_after};

/// Characters of an error response kept in a reason.
pub(crate) const MAX_REASON_CHARS: usize = 300;

/// What became of one export request.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Accepted (HTTP 2xx, gRPC `OK`). `rejected` records were refused by a partial
    /// success.
    Exported {
        /// Records the receiver rejected.
        rejected: u64,
        /// The receiver's explanation of the rejection, if any.
        message: String,
    },
    /// Worth trying again.
    Retryable {
        /// The receiver's `Retry-After` (HTTP) or `RetryInfo` delay (gRPC).
        retry_after: Option<Duration>,
        /// True when no answer came at all (connection refused, timeout, reset).
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
    /// `UNIMPLEMENTED`, `NOT_FOUND`): the data is not at fault, nothing is dead-lettered.
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

enum Target {
    Http(http::Target),
    Grpc(grpc::Target),
}

/// Sends encoded requests to the three endpoints: one HTTP connection pool, one gRPC
/// channel per gRPC receiver.
pub struct Exporter {
    http: Option<reqwest::Client>,
    targets: [Target; 3],
}

impl Exporter {
    /// An exporter for the endpoints, protocols, headers and TLS files of `config`.
    ///
    /// Must be called within a tokio runtime when an endpoint speaks gRPC (the channel's
    /// worker is spawned on it); nothing connects before the first request.
    pub fn new(config: &Config) -> Result<Exporter, ConfigError> {
        let uses = |p: Protocol| Signal::ALL.iter().any(|&s| config.endpoint(s).protocol == p);
        let http = if uses(Protocol::HttpProtobuf) { Some(http::client(&config.otlp_tls)?) } else { None };
        let mut grpc = grpc::Channels::new(&config.otlp_tls);
        let mut target = |signal: Signal| -> Result<Target, ConfigError> {
            Ok(match config.endpoint(signal).protocol {
                Protocol::HttpProtobuf => Target::Http(http::Target::new(signal, config.endpoint(signal))?),
                Protocol::Grpc => Target::Grpc(grpc.target(signal, config.endpoint(signal))?),
            })
        };
        let targets = [target(Signal::Spans)?, target(Signal::Logs)?, target(Signal::Metrics)?];
        Ok(Exporter { http, targets })
    }

    /// The request body for `message` on `signal`'s endpoint: protobuf, gzipped here for
    /// OTLP/HTTP when that endpoint wants it (over gRPC tonic compresses the message).
    pub fn encode(&self, signal: Signal, message: &impl prost::Message) -> Bytes {
        let raw = message.encode_to_vec();
        match &self.targets[signal.index()] {
            Target::Http(t) if t.compression == Compression::Gzip => Bytes::from(gzip(&raw)),
            _ => Bytes::from(raw),
        }
    }

    /// Sends `body` (from [`encode`](Self::encode)) to `signal`'s endpoint.
    pub async fn send(&self, signal: Signal, body: Bytes) -> Outcome {
        match &self.targets[signal.index()] {
            Target::Http(t) => match &self.http {
                Some(client) => http::send(client, t, signal, body).await,
                None => Outcome::Permanent { reason: "internal error: no HTTP client".into() },
            },
            Target::Grpc(t) => grpc::send(t, signal, body).await,
        }
    }
}

/// A short, single-line, printable version of a receiver's error text.
pub(crate) fn clean_reason(text: &str) -> Option<String> {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON_CHARS)
        .collect::<String>()
        .trim()
        .to_owned();
    (!clean.is_empty()).then_some(clean)
}

/// The PEM files of the OTLP TLS settings, read.
pub(crate) fn read_file(p: &std::path::Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(p).map_err(|e| ConfigError(format!("cannot read {}: {}", p.display(), e.kind())))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

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

    #[tokio::test]
    async fn grpc_bodies_are_plain_protobuf_and_http_bodies_gzipped() {
        use dagnats_observe::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
        use prost::Message as _;
        let mut config = Config::new("nats://127.0.0.1:4222", "http://127.0.0.1:4318");
        config.endpoint_mut(Signal::Logs).protocol = Protocol::Grpc;
        config.endpoint_mut(Signal::Logs).url = "http://127.0.0.1:4317".into();
        let exporter = Exporter::new(&config).unwrap();
        let request = ExportTraceServiceRequest::default();
        let raw = request.encode_to_vec();
        assert_eq!(exporter.encode(Signal::Logs, &request), raw);
        assert_eq!(gunzip(&exporter.encode(Signal::Spans, &request)), raw);
    }
}
