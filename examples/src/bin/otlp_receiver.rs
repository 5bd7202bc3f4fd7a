//! A small OTLP/HTTP receiver for the quickstart: it decodes what the bridge sends
//! (`/v1/traces`, `/v1/logs`, `/v1/metrics`, protobuf, gzip or not) with the official
//! message definitions, prints one line per span, log and metric, and keeps a JSON
//! summary (span ids per trace, counts) in the file given by `--summary`.
//!
//! `otlp-receiver --port 4318 [--summary FILE]`

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

#[derive(Default)]
struct Summary {
    /// trace id -> span ids seen.
    traces: BTreeMap<String, Vec<String>>,
    spans: u64,
    logs: u64,
    metrics: u64,
}

fn service(resource: Option<&Resource>) -> String {
    resource
        .into_iter()
        .flat_map(|r| &r.attributes)
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            AnyValue::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn record(path: &str, body: &[u8], summary: &Mutex<Summary>) -> Result<(), String> {
    let mut s = summary.lock().map_err(|_| "poisoned")?;
    match path {
        "/v1/traces" => {
            let req = ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())?;
            for rs in &req.resource_spans {
                let svc = service(rs.resource.as_ref());
                for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                    let status = span.status.as_ref().map(|st| st.code).unwrap_or(0);
                    println!(
                        "otlp-receiver: span  {svc:<12} {:<24} trace={} span={} parent={} status={}",
                        span.name,
                        hex(&span.trace_id),
                        hex(&span.span_id),
                        if span.parent_span_id.is_empty() { "-".into() } else { hex(&span.parent_span_id) },
                        ["unset", "ok", "error"].get(status as usize).copied().unwrap_or("?"),
                    );
                    s.traces.entry(hex(&span.trace_id)).or_default().push(hex(&span.span_id));
                    s.spans += 1;
                }
            }
        }
        "/v1/logs" => {
            let req = ExportLogsServiceRequest::decode(body).map_err(|e| e.to_string())?;
            for rl in &req.resource_logs {
                let svc = service(rl.resource.as_ref());
                for log in rl.scope_logs.iter().flat_map(|sl| &sl.log_records) {
                    let text = match log.body.as_ref().and_then(|b| b.value.as_ref()) {
                        Some(AnyValue::StringValue(t)) => t.clone(),
                        _ => String::new(),
                    };
                    println!("otlp-receiver: log   {svc:<12} {:<5} {text}", log.severity_text);
                    s.logs += 1;
                }
            }
        }
        "/v1/metrics" => {
            let req = ExportMetricsServiceRequest::decode(body).map_err(|e| e.to_string())?;
            for rm in &req.resource_metrics {
                let svc = service(rm.resource.as_ref());
                for m in rm.scope_metrics.iter().flat_map(|sm| &sm.metrics) {
                    println!("otlp-receiver: metric {svc:<11} {}", m.name);
                    s.metrics += 1;
                }
            }
        }
        other => return Err(format!("unknown path {other}")),
    }
    Ok(())
}

fn write_summary(path: &str, s: &Summary) {
    let json = serde_json::json!({ "spans": s.spans, "logs": s.logs, "metrics": s.metrics, "traces": s.traces });
    let tmp = format!("{path}.tmp");
    if std::fs::write(&tmp, json.to_string()).is_ok() {
        let _ = std::fs::rename(tmp, path);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let port: u16 = arg("--port").map(|p| p.parse()).transpose()?.unwrap_or(4318);
    let summary_path = arg("--summary");
    let summary = Arc::new(Mutex::new(Summary::default()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("otlp-receiver: listening on http://{}", listener.local_addr()?);

    loop {
        let (stream, _) = listener.accept().await?;
        let summary = Arc::clone(&summary);
        let summary_path = summary_path.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let summary = Arc::clone(&summary);
                let summary_path = summary_path.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    let gzip = req.headers().get("content-encoding").is_some_and(|v| v == "gzip");
                    let raw = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                    let mut body = Vec::new();
                    let decoded = if gzip {
                        flate2::read::GzDecoder::new(&raw[..])
                            .read_to_end(&mut body)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    } else {
                        body.extend_from_slice(&raw);
                        Ok(())
                    };
                    let status = match decoded.and_then(|()| record(&path, &body, &summary)) {
                        Ok(()) => 200,
                        Err(e) => {
                            eprintln!("otlp-receiver: bad request to {path}: {e}");
                            400
                        }
                    };
                    if let (Some(p), Ok(s)) = (&summary_path, summary.lock()) {
                        write_summary(p, &s);
                    }
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/x-protobuf")
                        .body(Full::new(Bytes::new()))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
