//! OTLP/gRPC: the `Export` method of opentelemetry-proto's collector services over
//! tonic, and what each status means.
//!
//! Every signal whose endpoint speaks gRPC gets a [`Target`] on a tonic [`Channel`]: one
//! channel per receiver (scheme, host and port; the URL's path is not used, a gRPC
//! target has none), so the three signals of one collector share one HTTP/2 connection
//! and their requests are multiplexed on it. The channel connects on first use and
//! reconnects by itself after the receiver went away. `https://` targets use rustls (the
//! ring provider, as the rest of the tree) with the system's roots plus the configured CA
//! file, and the configured client certificate.
//!
//! The methods are those of opentelemetry-proto's generated clients
//! (`/opentelemetry.proto.collector.trace.v1.TraceService/Export` and the logs and
//! metrics ones, named from the generated servers' `SERVICE_NAME`), and the responses are
//! its `Export*ServiceResponse` messages. The request, though, is sent as the protobuf
//! bytes the pipeline already encoded (a pass-through codec): the generated client would
//! take the message struct, so every attempt would decode the body only to encode it
//! again. tonic frames the bytes and gzips them when the endpoint asks for compression
//! (`grpc-encoding: gzip`). Headers become request metadata, marked sensitive; the
//! per-request timeout is sent as `grpc-timeout` and enforced here.
//!
//! The status is classified by [`classify_status`] as the OTLP specification says; see
//! the table in the [module above](super).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::SERVICE_NAME as LOGS_SERVICE;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::SERVICE_NAME as METRICS_SERVICE;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::SERVICE_NAME as TRACE_SERVICE;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
// google.rpc.Status and RetryInfo, as sent in `grpc-status-details-bin`.
use tonic::codec::{BufferSettings, Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataMap};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint as Destination, Identity};
use tonic::{Code, Status};
use tonic_types::pb::{RetryInfo, Status as RpcStatus};

use super::{clean_reason, read_file, Outcome};
use crate::cli::Compression;
use crate::config::{ConfigError, Endpoint, OtlpTls, Signal};

/// The gRPC method of `signal`: `/{service}/Export`.
pub fn method_path(signal: Signal) -> String {
    let service = match signal {
        Signal::Spans => TRACE_SERVICE,
        Signal::Logs => LOGS_SERVICE,
        Signal::Metrics => METRICS_SERVICE,
    };
    format!("/{service}/Export")
}

/// One signal's OTLP/gRPC endpoint.
pub(super) struct Target {
    channel: Channel,
    path: PathAndQuery,
    metadata: MetadataMap,
    gzip: bool,
    timeout: Duration,
}

/// The channels opened so far, one per receiver, and the TLS settings of new ones.
pub(super) struct Channels<'a> {
    tls: &'a OtlpTls,
    open: HashMap<String, Channel>,
}

impl<'a> Channels<'a> {
    pub(super) fn new(tls: &'a OtlpTls) -> Channels<'a> {
        Channels { tls, open: HashMap::new() }
    }

    /// The target of `signal` at `e`, on the channel of its receiver (opened lazily).
    pub(super) fn target(&mut self, signal: Signal, e: &Endpoint) -> Result<Target, ConfigError> {
        let bad = || ConfigError(format!("the {} endpoint is not a valid gRPC target", signal.as_str()));
        let url = reqwest::Url::parse(&e.url).map_err(|_| bad())?;
        let host = url.host_str().ok_or_else(bad)?;
        let port = url.port_or_known_default().ok_or_else(bad)?;
        let origin = format!("{}://{host}:{port}", url.scheme());
        let channel = match self.open.get(&origin) {
            Some(c) => c.clone(),
            None => {
                let c = self.connect_lazy(&origin, url.scheme() == "https", signal)?;
                self.open.insert(origin, c.clone());
                c
            }
        };
        let mut metadata = MetadataMap::new();
        for (name, value) in e.headers.iter() {
            // Binary (`-bin`) metadata would need base64 values: not a header's job.
            let key = AsciiMetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
                .map_err(|_| ConfigError(format!("{name:?} is not a valid gRPC metadata key")))?;
            let mut value = AsciiMetadataValue::try_from(value)
                .map_err(|_| ConfigError(format!("the value of header {name:?} is not valid gRPC metadata")))?;
            value.set_sensitive(true);
            metadata.insert(key, value);
        }
        let path = PathAndQuery::try_from(method_path(signal)).map_err(|_| bad())?;
        Ok(Target { channel, path, metadata, gzip: e.compression == Compression::Gzip, timeout: e.timeout })
    }

    fn connect_lazy(&self, origin: &str, tls: bool, signal: Signal) -> Result<Channel, ConfigError> {
        let destination = Destination::from_shared(origin.to_owned())
            .map_err(|_| ConfigError(format!("the {} endpoint is not a valid gRPC target", signal.as_str())))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .tcp_keepalive(Some(Duration::from_secs(30)))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .user_agent(concat!("dagnats-bridge/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| ConfigError(format!("cannot set up the gRPC channel: {}", chain(&e))))?;
        let destination = if tls {
            let config = self.tls_config()?;
            // The system's roots beside the configured CA; a machine without any system
            // roots still trusts the configured CA.
            match destination.clone().tls_config(config.clone().with_native_roots()) {
                Ok(d) => d,
                Err(_) if self.tls.ca_file.is_some() => destination.tls_config(config).map_err(|e| {
                    ConfigError(format!("the OTLP TLS settings cannot be used for gRPC: {}", chain(&e)))
                })?,
                Err(e) => {
                    return Err(ConfigError(format!(
                        "the OTLP TLS settings cannot be used for gRPC: {} (give the receiver's CA with --certificate)",
                        chain(&e)
                    )))
                }
            }
        } else {
            destination
        };
        Ok(destination.connect_lazy())
    }

    fn tls_config(&self) -> Result<ClientTlsConfig, ConfigError> {
        let mut config = ClientTlsConfig::new();
        if let Some(ca) = &self.tls.ca_file {
            config = config.ca_certificate(Certificate::from_pem(read_file(ca)?));
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(cert), Some(key)) => config = config.identity(Identity::from_pem(read_file(cert)?, read_file(key)?)),
            (None, None) => {}
            _ => return Err(ConfigError("an OTLP client certificate needs both the certificate and the key".into())),
        }
        Ok(config)
    }
}

/// Sends `body` (a protobuf `Export*ServiceRequest`) to `t` and classifies the answer.
pub(super) async fn send(t: &Target, signal: Signal, body: Bytes) -> Outcome {
    let call = async {
        match signal {
            Signal::Spans => {
                let r = unary::<ExportTraceServiceResponse>(t, body).await?;
                Ok(r.partial_success.map(|p| (p.rejected_spans, p.error_message)))
            }
            Signal::Logs => {
                let r = unary::<ExportLogsServiceResponse>(t, body).await?;
                Ok(r.partial_success.map(|p| (p.rejected_log_records, p.error_message)))
            }
            Signal::Metrics => {
                let r = unary::<ExportMetricsServiceResponse>(t, body).await?;
                Ok(r.partial_success.map(|p| (p.rejected_data_points, p.error_message)))
            }
        }
    };
    // tonic enforces the deadline up to the response headers; this bounds the rest.
    match tokio::time::timeout(t.timeout, call).await {
        Ok(Ok(partial)) => {
            let (rejected, message) = partial.unwrap_or_default();
            Outcome::Exported { rejected: u64::try_from(rejected).unwrap_or(0), message }
        }
        Ok(Err(status)) => classify_status(&status),
        Err(_) => Outcome::Retryable {
            retry_after: None,
            unreachable: true,
            reason: format!("timed out after {:?}", t.timeout),
        },
    }
}

async fn unary<R: prost::Message + Default + Send + Sync + 'static>(t: &Target, body: Bytes) -> Result<R, Status> {
    let mut grpc = tonic::client::Grpc::new(t.channel.clone()).accept_compressed(CompressionEncoding::Gzip);
    if t.gzip {
        grpc = grpc.send_compressed(CompressionEncoding::Gzip);
    }
    grpc.ready().await.map_err(|e| {
        let mut s = Status::unavailable(format!("the channel is not ready: {}", chain(&e)));
        s.set_source(std::sync::Arc::new(e));
        s
    })?;
    let mut request = tonic::Request::new(body);
    *request.metadata_mut() = t.metadata.clone();
    request.set_timeout(t.timeout);
    let response = grpc.unary(request, t.path.clone(), PassThrough::<R>(PhantomData)).await?;
    Ok(response.into_inner())
}

/// What a status means. A status that the bridge's side made (a transport error: no
/// connection, a reset, the deadline) carries its cause as its source and says the
/// receiver is unreachable; one the receiver sent is classified by its code.
pub fn classify_status(status: &Status) -> Outcome {
    let message = clean_reason(status.message());
    let reason =
        format!("gRPC {}{}", code_name(status.code()), message.as_ref().map(|m| format!(": {m}")).unwrap_or_default());
    if std::error::Error::source(status).is_some() {
        return Outcome::Retryable { retry_after: None, unreachable: true, reason: chain(status) };
    }
    let retry_info = retry_info(status.details());
    let too_large = message.as_deref().is_some_and(names_a_size_limit);
    match status.code() {
        Code::Cancelled | Code::DeadlineExceeded | Code::Aborted | Code::Unavailable | Code::DataLoss => {
            Outcome::Retryable { retry_after: retry_info.flatten(), unreachable: false, reason }
        }
        // tonic's server answers an oversized message with OUT_OF_RANGE: retrying the same
        // bytes can never succeed, splitting can.
        Code::OutOfRange if too_large => Outcome::Refused { reason },
        Code::OutOfRange => Outcome::Retryable { retry_after: retry_info.flatten(), unreachable: false, reason },
        Code::ResourceExhausted => match retry_info {
            Some(delay) => Outcome::Retryable { retry_after: delay, unreachable: false, reason },
            None if too_large => Outcome::Refused { reason },
            None => Outcome::Permanent { reason },
        },
        Code::InvalidArgument => Outcome::Refused { reason },
        Code::Unauthenticated | Code::PermissionDenied | Code::Unimplemented | Code::NotFound => {
            Outcome::Misconfigured { reason }
        }
        _ => Outcome::Permanent { reason },
    }
}

/// Whether a status message says the request was larger than the receiver takes
/// (grpc-go: "received message larger than max", grpc-java: "exceeds maximum size",
/// tonic: "message length too large").
fn names_a_size_limit(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["larger than max", "exceeds maximum", "too large"].iter().any(|p| m.contains(p))
}

/// The canonical name of a status code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// An error and its sources, one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    clean_reason(&text).unwrap_or_else(|| "transport error".into())
}

/// The `google.rpc.RetryInfo` among a status's details: `None` when there is none,
/// `Some(delay)` when there is one (`delay` is `None` when it gives no delay; a negative
/// delay is none).
pub fn retry_info(details: &[u8]) -> Option<Option<Duration>> {
    if details.is_empty() {
        return None;
    }
    let status = RpcStatus::decode(details).ok()?;
    let any = status.details.iter().find(|a| a.type_url.rsplit('/').next() == Some("google.rpc.RetryInfo"))?;
    let info = RetryInfo::decode(&any.value[..]).ok()?;
    Some(info.retry_delay.map(|d| {
        let secs = u64::try_from(d.seconds).unwrap_or(0);
        let nanos = if d.seconds < 0 { 0 } else { u32::try_from(d.nanos).unwrap_or(0).min(999_999_999) };
        Duration::new(secs, nanos)
    }))
}

/// Encodes the already encoded request as it is; decodes the response with prost (a
/// response that does not decode still means the request was accepted).
struct PassThrough<R>(PhantomData<R>);

impl<R: prost::Message + Default + Send + 'static> Codec for PassThrough<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = BytesEncoder;
    type Decoder = ResponseDecoder<R>;

    fn encoder(&mut self) -> BytesEncoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> ResponseDecoder<R> {
        ResponseDecoder(PhantomData)
    }
}

struct BytesEncoder;

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }

    fn buffer_settings(&self) -> BufferSettings {
        // Requests are tens of kilobytes: start big enough for most in one allocation.
        BufferSettings::new(64 * 1024, 64 * 1024)
    }
}

struct ResponseDecoder<R>(PhantomData<R>);

impl<R: prost::Message + Default + Send + 'static> Decoder for ResponseDecoder<R> {
    type Item = R;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<R>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(R::decode(bytes).unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{Any as ProtoAny, Duration as ProtoDuration};

    fn details(type_url: &str, delay: Option<(i64, i32)>) -> Bytes {
        let info = RetryInfo { retry_delay: delay.map(|(seconds, nanos)| ProtoDuration { seconds, nanos }) };
        let status = RpcStatus {
            code: Code::ResourceExhausted as i32,
            message: "slow down".into(),
            details: vec![
                ProtoAny { type_url: "type.googleapis.com/google.rpc.DebugInfo".into(), value: vec![1, 2, 3] },
                ProtoAny { type_url: type_url.into(), value: info.encode_to_vec() },
            ],
        };
        Bytes::from(status.encode_to_vec())
    }

    fn retry(code: Code) -> Outcome {
        classify_status(&Status::new(code, "try later"))
    }

    #[test]
    fn the_otlp_retryable_codes_are_retryable() {
        for code in [
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            let o = retry(code);
            assert!(matches!(o, Outcome::Retryable { unreachable: false, retry_after: None, .. }), "{code:?}: {o:?}");
        }
        let Outcome::Retryable { reason, .. } = retry(Code::Unavailable) else { panic!() };
        assert_eq!(reason, "gRPC UNAVAILABLE: try later");
    }

    #[test]
    fn resource_exhausted_is_retryable_only_with_retry_info_and_waits_its_delay() {
        let with = Status::with_details(
            Code::ResourceExhausted,
            "quota",
            details("type.googleapis.com/google.rpc.RetryInfo", Some((2, 500_000_000))),
        );
        assert_eq!(
            classify_status(&with),
            Outcome::Retryable {
                retry_after: Some(Duration::from_millis(2500)),
                unreachable: false,
                reason: "gRPC RESOURCE_EXHAUSTED: quota".into()
            }
        );
        let no_delay = Status::with_details(
            Code::ResourceExhausted,
            "quota",
            details("type.googleapis.com/google.rpc.RetryInfo", None),
        );
        assert!(matches!(classify_status(&no_delay), Outcome::Retryable { retry_after: None, .. }));
        let other_detail = Status::with_details(
            Code::ResourceExhausted,
            "quota",
            details("type.googleapis.com/google.rpc.QuotaFailure", Some((2, 0))),
        );
        assert!(matches!(classify_status(&other_detail), Outcome::Permanent { .. }));
        assert!(matches!(retry(Code::ResourceExhausted), Outcome::Permanent { .. }));
        // An UNAVAILABLE with a RetryInfo waits its delay too.
        let unavailable = Status::with_details(
            Code::Unavailable,
            "busy",
            details("type.googleapis.com/google.rpc.RetryInfo", Some((7, 0))),
        );
        assert!(
            matches!(classify_status(&unavailable), Outcome::Retryable { retry_after: Some(d), .. } if d == Duration::from_secs(7))
        );
        assert_eq!(retry_info(&details("x/google.rpc.RetryInfo", Some((-3, 5)))), Some(Some(Duration::ZERO)));
        assert_eq!(retry_info(b"not protobuf \xff\xff"), None);
        assert_eq!(retry_info(b""), None);
    }

    #[test]
    fn content_faults_are_refused_and_an_oversized_message_too() {
        assert!(matches!(retry(Code::InvalidArgument), Outcome::Refused { .. }));
        for (code, message) in [
            (Code::ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304)"),
            (Code::ResourceExhausted, "gRPC message exceeds maximum size 4194304: 5242880"),
            (
                Code::OutOfRange,
                "Error, decoded message length too large: found 5242880 bytes, the limit is: 4194304 bytes",
            ),
        ] {
            let o = classify_status(&Status::new(code, message));
            assert!(matches!(o, Outcome::Refused { .. }), "{code:?} {message}: {o:?}");
        }
    }

    #[test]
    fn configuration_faults_are_misconfigured_and_the_rest_permanent() {
        for code in [Code::Unauthenticated, Code::PermissionDenied, Code::Unimplemented, Code::NotFound] {
            assert!(matches!(retry(code), Outcome::Misconfigured { .. }), "{code:?}");
        }
        for code in [Code::Unknown, Code::AlreadyExists, Code::FailedPrecondition, Code::Internal] {
            assert!(matches!(retry(code), Outcome::Permanent { .. }), "{code:?}");
        }
        let long = Status::new(Code::Internal, "x\n".repeat(2000));
        let Outcome::Permanent { reason } = classify_status(&long) else { panic!() };
        assert!(reason.len() < 400 && !reason.contains('\n'), "{reason}");
    }

    #[test]
    fn a_status_made_on_this_side_says_the_receiver_is_unreachable() {
        let mut local = Status::unavailable("tcp connect error");
        local.set_source(std::sync::Arc::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        let o = classify_status(&local);
        assert!(
            matches!(&o, Outcome::Retryable { unreachable: true, reason, .. } if reason.contains("connection refused")),
            "{o:?}"
        );
    }

    #[test]
    fn method_paths_are_the_collector_services() {
        assert_eq!(method_path(Signal::Spans), "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
        assert_eq!(method_path(Signal::Logs), "/opentelemetry.proto.collector.logs.v1.LogsService/Export");
        assert_eq!(method_path(Signal::Metrics), "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export");
    }

    #[tokio::test]
    async fn nothing_listening_is_retryable_and_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let mut config = crate::config::Config::new("nats://127.0.0.1:4222", "http://unused:4318");
        for s in Signal::ALL {
            let e = config.endpoint_mut(s);
            e.protocol = crate::cli::Protocol::Grpc;
            e.url = format!("http://127.0.0.1:{port}");
            e.timeout = Duration::from_secs(5);
        }
        let exporter = super::super::Exporter::new(&config).unwrap();
        let o = exporter.send(Signal::Spans, Bytes::new()).await;
        assert!(matches!(o, Outcome::Retryable { unreachable: true, .. }), "{o:?}");
    }
}
