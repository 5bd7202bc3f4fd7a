//! A real OTLP/HTTP receiver for tests and the benchmark: hyper on 127.0.0.1, gunzips
//! and decodes request bodies with opentelemetry-proto's prost messages, answers the
//! status the test sets, and keeps what it accepted. It can be stopped (its port closed,
//! its open connections cut) and started again on the same port, and can serve HTTPS
//! with a certificate from a CA of the test's own (rustls).

#![allow(dead_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::task::JoinHandle;

/// A span as received, with its resource's service, its scope name and its resource's
/// string attributes.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub service: String,
    pub scope: String,
    pub resource: Vec<(String, String)>,
    pub span: Span,
}

/// A log record as received, with its resource's service.
#[derive(Clone, Debug)]
pub struct ReceivedLog {
    pub service: String,
    pub log: LogRecord,
}

/// A metric as received, with its resource's service.
#[derive(Clone, Debug)]
pub struct ReceivedMetric {
    pub service: String,
    pub metric: Metric,
}

/// One request, however it was answered.
#[derive(Clone, Debug)]
pub struct RequestLog {
    pub path: String,
    pub status: u16,
    pub content_type: String,
    pub content_encoding: String,
    /// The `authorization` header, empty when there was none.
    pub authorization: String,
}

#[derive(Default)]
struct Accepted {
    spans: Vec<ReceivedSpan>,
    logs: Vec<ReceivedLog>,
    metrics: Vec<ReceivedMetric>,
    requests: Vec<RequestLog>,
}

struct State {
    status: AtomicU16,
    /// Only count spans instead of keeping everything (the benchmark).
    count_only: bool,
    span_count: AtomicU64,
    partial_rejects: AtomicU64,
    /// TLS handshakes that failed (a client that does not trust the certificate).
    handshake_failures: AtomicU64,
    accepted: Mutex<Accepted>,
    /// Span exports holding a span of this name are refused whole with 400, as a
    /// backend refuses a request with one invalid record.
    refuse_span_named: Mutex<Option<String>>,
}

/// The receiver. Dropping it stops it.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    /// Set for HTTPS.
    tls: Option<tokio_rustls::TlsAcceptor>,
    server: Mutex<Option<JoinHandle<()>>>,
}

/// Spans in a traces request.
pub fn span_total(r: &ExportTraceServiceRequest) -> usize {
    r.resource_spans.iter().flat_map(|rs| &rs.scope_spans).map(|ss| ss.spans.len()).sum()
}

/// The spans of a traces request, each with its resource's service and attributes and its
/// scope name.
pub fn received_spans(r: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for rs in r.resource_spans {
        let service = service_of(rs.resource.as_ref());
        let resource = string_attributes(rs.resource.as_ref());
        for ss in rs.scope_spans {
            let scope = ss.scope.map(|s| s.name).unwrap_or_default();
            for span in ss.spans {
                out.push(ReceivedSpan {
                    service: service.clone(),
                    scope: scope.clone(),
                    resource: resource.clone(),
                    span,
                });
            }
        }
    }
    out
}

/// The log records of a logs request, each with its resource's service.
pub fn received_logs(r: ExportLogsServiceRequest) -> Vec<ReceivedLog> {
    let mut out = Vec::new();
    for rl in r.resource_logs {
        let service = service_of(rl.resource.as_ref());
        for log in rl.scope_logs.into_iter().flat_map(|sl| sl.log_records) {
            out.push(ReceivedLog { service: service.clone(), log });
        }
    }
    out
}

/// The metrics of a metrics request, each with its resource's service.
pub fn received_metrics(r: ExportMetricsServiceRequest) -> Vec<ReceivedMetric> {
    let mut out = Vec::new();
    for rm in r.resource_metrics {
        let service = service_of(rm.resource.as_ref());
        for metric in rm.scope_metrics.into_iter().flat_map(|sm| sm.metrics) {
            out.push(ReceivedMetric { service: service.clone(), metric });
        }
    }
    out
}

/// The string attributes of `resource`.
pub fn string_attributes(resource: Option<&Resource>) -> Vec<(String, String)> {
    resource
        .map(|r| r.attributes.iter())
        .into_iter()
        .flatten()
        .filter_map(|kv| match &kv.value {
            Some(AnyValue { value: Some(Any::StringValue(s)) }) => Some((kv.key.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

pub fn service_of(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| match &kv.value {
            Some(AnyValue { value: Some(Any::StringValue(s)) }) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

impl Receiver {
    /// Starts on a free loopback port, answering 200.
    pub async fn start() -> Receiver {
        Self::start_with(false, None).await
    }

    /// Starts in count-only mode (spans are decoded and counted, nothing is kept).
    pub async fn start_counting() -> Receiver {
        Self::start_with(true, None).await
    }

    /// Starts serving HTTPS with the PEM certificate chain and key given.
    pub async fn start_https(cert_pem: &std::path::Path, key_pem: &std::path::Path) -> Receiver {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain =
            CertificateDer::pem_file_iter(cert_pem).expect("certificate file").collect::<Result<Vec<_>, _>>().unwrap();
        let key = PrivateKeyDer::from_pem_file(key_pem).expect("key file");
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
        Self::start_with(false, Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn start_with(count_only: bool, tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            status: AtomicU16::new(200),
            count_only,
            span_count: AtomicU64::new(0),
            partial_rejects: AtomicU64::new(0),
            handshake_failures: AtomicU64::new(0),
            accepted: Mutex::new(Accepted::default()),
            refuse_span_named: Mutex::new(None),
        });
        let r = Receiver { addr, state, tls, server: Mutex::new(None) };
        r.serve(listener);
        r
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let state = Arc::clone(&self.state);
        let tls = self.tls.clone();
        let task = tokio::spawn(async move {
            // Connections live in this set: aborting the server task drops it and cuts them.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = Arc::clone(&state);
                let state_of_handshakes = Arc::clone(&state);
                let tls = tls.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(Arc::clone(&state), req));
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        // A client that does not trust the certificate fails the handshake.
                        Some(tls) => match tls.accept(stream).await {
                            Ok(stream) => {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                            Err(_) => {
                                state_of_handshakes.handshake_failures.fetch_add(1, Ordering::SeqCst);
                            }
                        },
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        });
        *self.server.lock().unwrap() = Some(task);
    }

    /// The base URL to give the bridge (`/v1/traces` and so on are appended).
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Answers `status` from now on (200: accept).
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// From now on, 200 answers to span exports carry a partial success rejecting `n`.
    pub fn set_partial_rejects(&self, n: u64) {
        self.state.partial_rejects.store(n, Ordering::SeqCst);
    }

    /// From now on, a span export holding a span named `name` is refused whole (400).
    pub fn refuse_spans_named(&self, name: &str) {
        *self.state.refuse_span_named.lock().unwrap() = Some(name.to_owned());
    }

    /// Closes the port and cuts every open connection.
    pub async fn stop(&self) {
        let task = self.server.lock().unwrap().take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        };
        self.serve(listener);
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.state.accepted.lock().unwrap().spans.clone()
    }
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.state.accepted.lock().unwrap().logs.clone()
    }
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.state.accepted.lock().unwrap().metrics.clone()
    }
    pub fn requests(&self) -> Vec<RequestLog> {
        self.state.accepted.lock().unwrap().requests.clone()
    }
    /// Spans accepted (in count-only mode, the only record).
    pub fn span_count(&self) -> u64 {
        self.state.span_count.load(Ordering::SeqCst)
    }
    /// TLS handshakes that failed.
    pub fn handshake_failures(&self) -> u64 {
        self.state.handshake_failures.load(Ordering::SeqCst)
    }
    /// Requests answered with `status`.
    pub fn answered(&self, status: u16) -> usize {
        self.requests().iter().filter(|r| r.status == status).count()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(t) = self.server.lock().unwrap().take() {
            t.abort();
        }
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = req.uri().path().to_owned();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (content_type, content_encoding, authorization) =
        (header("content-type"), header("content-encoding"), header("authorization"));
    let body = req.into_body().collect().await?.to_bytes();
    let status = state.status.load(Ordering::SeqCst);
    if !state.count_only {
        state.accepted.lock().unwrap().requests.push(RequestLog {
            path: path.clone(),
            status,
            content_type,
            content_encoding: content_encoding.clone(),
            authorization,
        });
    }
    if status != 200 {
        return Ok(Response::builder().status(status).body(Full::new(Bytes::from_static(b"not now"))).unwrap());
    }
    let raw = if content_encoding == "gzip" {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut out).expect("gzip body");
        out
    } else {
        body.to_vec()
    };
    let mut reply = Vec::new();
    match path.as_str() {
        "/v1/traces" => {
            let r = ExportTraceServiceRequest::decode(&raw[..]).expect("ExportTraceServiceRequest");
            let refused = state.refuse_span_named.lock().unwrap().clone();
            if let Some(bad) = refused {
                if r.resource_spans
                    .iter()
                    .flat_map(|rs| &rs.scope_spans)
                    .flat_map(|ss| &ss.spans)
                    .any(|s| s.name == bad)
                {
                    if !state.count_only {
                        state.accepted.lock().unwrap().requests.last_mut().unwrap().status = 400;
                    }
                    return Ok(Response::builder()
                        .status(400)
                        .body(Full::new(Bytes::from_static(b"invalid span")))
                        .unwrap());
                }
            }
            state.span_count.fetch_add(span_total(&r) as u64, Ordering::SeqCst);
            if !state.count_only {
                state.accepted.lock().unwrap().spans.extend(received_spans(r));
            }
            let rejects = state.partial_rejects.load(Ordering::SeqCst);
            if rejects > 0 {
                reply = ExportTraceServiceResponse {
                    partial_success: Some(
                        opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
                            rejected_spans: rejects as i64,
                            error_message: "some spans were too old".into(),
                        },
                    ),
                }
                .encode_to_vec();
            }
        }
        "/v1/logs" => {
            let r = ExportLogsServiceRequest::decode(&raw[..]).expect("ExportLogsServiceRequest");
            state.accepted.lock().unwrap().logs.extend(received_logs(r));
        }
        "/v1/metrics" => {
            let r = ExportMetricsServiceRequest::decode(&raw[..]).expect("ExportMetricsServiceRequest");
            state.accepted.lock().unwrap().metrics.extend(received_metrics(r));
        }
        _ => return Ok(Response::builder().status(404).body(Full::new(Bytes::new())).unwrap()),
    }
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::from(reply)))
        .unwrap())
}
