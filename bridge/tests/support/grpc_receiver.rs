//! A real OTLP/gRPC receiver for tests and the benchmark: a tonic server on 127.0.0.1
//! serving opentelemetry-proto's three generated collector services (trace, logs,
//! metrics), accepting gzip, answering the status the test sets (with a
//! `google.rpc.RetryInfo` when asked), and keeping what it accepted and the metadata of
//! every request. It can serve TLS with a certificate from a CA of the test's own.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{LogsService, LogsServiceServer};
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Code, Request, Response, Status};

pub use super::receiver::{
    received_logs, received_metrics, received_spans, span_total, ReceivedLog, ReceivedMetric, ReceivedSpan,
};

/// One request, however it was answered.
#[derive(Clone, Debug)]
pub struct GrpcRequestLog {
    /// `spans`, `logs` or `metrics`.
    pub service: &'static str,
    /// The code answered.
    pub code: Code,
    /// Every ASCII metadata entry of the request, names lowercase.
    pub metadata: Vec<(String, String)>,
}

impl GrpcRequestLog {
    /// The value of metadata `name`, empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.metadata.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

/// What the receiver answers.
#[derive(Clone, Debug)]
struct Answer {
    code: Code,
    message: String,
    retry_delay: Option<Duration>,
}

#[derive(Default)]
struct Accepted {
    spans: Vec<ReceivedSpan>,
    logs: Vec<ReceivedLog>,
    metrics: Vec<ReceivedMetric>,
    requests: Vec<GrpcRequestLog>,
}

struct State {
    answer: Mutex<Answer>,
    /// Only count spans instead of keeping everything (the benchmark).
    count_only: bool,
    span_count: AtomicU64,
    partial_rejects: AtomicU64,
    accepted: Mutex<Accepted>,
}

impl State {
    /// Logs the request; the status to answer instead of accepting, if any.
    fn admit<T>(&self, service: &'static str, request: &Request<T>) -> Result<(), Status> {
        let answer = self.answer.lock().unwrap().clone();
        if !self.count_only || answer.code != Code::Ok {
            let metadata = request
                .metadata()
                .iter()
                .filter_map(|kv| match kv {
                    tonic::metadata::KeyAndValueRef::Ascii(k, v) => {
                        Some((k.as_str().to_owned(), v.to_str().unwrap_or("<not text>").to_owned()))
                    }
                    tonic::metadata::KeyAndValueRef::Binary(..) => None,
                })
                .collect();
            self.accepted.lock().unwrap().requests.push(GrpcRequestLog { service, code: answer.code, metadata });
        }
        if answer.code == Code::Ok {
            return Ok(());
        }
        Err(match answer.retry_delay {
            Some(delay) => {
                Status::with_details(answer.code, answer.message, retry_info_details(answer.code, delay).into())
            }
            None => Status::new(answer.code, answer.message),
        })
    }
}

/// `google.rpc.Status` with one `google.rpc.RetryInfo` detail, encoded with tonic-types'
/// definitions of them.
fn retry_info_details(code: Code, delay: Duration) -> Vec<u8> {
    use prost_types::{Any as ProtoAny, Duration as ProtoDuration};
    use tonic_types::pb::{RetryInfo, Status as RpcStatus};
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration { seconds: delay.as_secs() as i64, nanos: delay.subsec_nanos() as i32 }),
    };
    RpcStatus {
        code: code as i32,
        message: "slow down".into(),
        details: vec![ProtoAny {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

struct Services(Arc<State>);

#[tonic::async_trait]
impl TraceService for Services {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let state = &self.0;
        state.admit("spans", &request)?;
        let r = request.into_inner();
        state.span_count.fetch_add(span_total(&r) as u64, Ordering::SeqCst);
        if !state.count_only {
            state.accepted.lock().unwrap().spans.extend(received_spans(r));
        }
        let rejects = state.partial_rejects.load(Ordering::SeqCst);
        let partial_success = (rejects > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: rejects as i64,
            error_message: "some spans were too old".into(),
        });
        Ok(Response::new(ExportTraceServiceResponse { partial_success }))
    }
}

#[tonic::async_trait]
impl LogsService for Services {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.0.admit("logs", &request)?;
        self.0.accepted.lock().unwrap().logs.extend(received_logs(request.into_inner()));
        Ok(Response::new(ExportLogsServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl MetricsService for Services {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.0.admit("metrics", &request)?;
        self.0.accepted.lock().unwrap().metrics.extend(received_metrics(request.into_inner()));
        Ok(Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

/// The receiver. Dropping it stops it.
pub struct GrpcReceiver {
    addr: SocketAddr,
    state: Arc<State>,
    tls: bool,
    server: JoinHandle<()>,
}

impl GrpcReceiver {
    /// Starts on a free loopback port, answering OK.
    pub async fn start() -> GrpcReceiver {
        Self::start_with(false, None).await
    }

    /// Starts in count-only mode (spans are decoded and counted, nothing is kept).
    pub async fn start_counting() -> GrpcReceiver {
        Self::start_with(true, None).await
    }

    /// Starts serving TLS with the PEM certificate chain and key given; with
    /// `client_ca`, only clients with a certificate that CA signed are served.
    pub async fn start_tls(
        cert_pem: &std::path::Path,
        key_pem: &std::path::Path,
        client_ca: Option<&std::path::Path>,
    ) -> GrpcReceiver {
        let identity = Identity::from_pem(std::fs::read(cert_pem).unwrap(), std::fs::read(key_pem).unwrap());
        let mut tls = ServerTlsConfig::new().identity(identity);
        if let Some(ca) = client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(std::fs::read(ca).unwrap()));
        }
        Self::start_with(false, Some(tls)).await
    }

    async fn start_with(count_only: bool, tls: Option<ServerTlsConfig>) -> GrpcReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        Self::serve(listener, count_only, tls)
    }

    fn serve(listener: tokio::net::TcpListener, count_only: bool, tls: Option<ServerTlsConfig>) -> GrpcReceiver {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            answer: Mutex::new(Answer { code: Code::Ok, message: String::new(), retry_delay: None }),
            count_only,
            span_count: AtomicU64::new(0),
            partial_rejects: AtomicU64::new(0),
            accepted: Mutex::new(Accepted::default()),
        });
        let services = Arc::new(Services(Arc::clone(&state)));
        let is_tls = tls.is_some();
        let mut builder = Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).expect("server TLS");
        }
        let router = builder
            .add_service(
                TraceServiceServer::from_arc(Arc::clone(&services)).accept_compressed(CompressionEncoding::Gzip),
            )
            .add_service(
                LogsServiceServer::from_arc(Arc::clone(&services)).accept_compressed(CompressionEncoding::Gzip),
            )
            .add_service(MetricsServiceServer::from_arc(services).accept_compressed(CompressionEncoding::Gzip));
        let server = tokio::spawn(async move {
            let _ = router.serve_with_incoming(TcpIncoming::from(listener)).await;
        });
        GrpcReceiver { addr, state, tls: is_tls, server }
    }

    /// The target to give the bridge (no path: gRPC has none).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Answers `code` (with `message`) from now on; `Code::Ok` accepts.
    pub fn set_status(&self, code: Code, message: &str) {
        *self.state.answer.lock().unwrap() = Answer { code, message: message.into(), retry_delay: None };
    }

    /// Answers `code` with a `google.rpc.RetryInfo` asking for `delay`.
    pub fn set_status_with_retry_info(&self, code: Code, delay: Duration) {
        *self.state.answer.lock().unwrap() = Answer { code, message: "over quota".into(), retry_delay: Some(delay) };
    }

    /// From now on, answers to span exports carry a partial success rejecting `n`.
    pub fn set_partial_rejects(&self, n: u64) {
        self.state.partial_rejects.store(n, Ordering::SeqCst);
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
    pub fn requests(&self) -> Vec<GrpcRequestLog> {
        self.state.accepted.lock().unwrap().requests.clone()
    }
    /// Spans accepted (in count-only mode, the only record).
    pub fn span_count(&self) -> u64 {
        self.state.span_count.load(Ordering::SeqCst)
    }
    /// Requests answered with `code`.
    pub fn answered(&self, code: Code) -> usize {
        self.requests().iter().filter(|r| r.code == code).count()
    }
}

impl Drop for GrpcReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
