//! The bridge's message decoder (`dagnats_bridge::decode::decode`): the Go engine's JSON
//! records, the engine dialect's spans, logs and metrics, and OTLP-JSON bodies, on a
//! subject of each signal and of none; then what the
//! bridge does next with a decoded message: convert it into an OTLP export request
//! (adding `service.name` to OTLP-JSON resources) and encode that as protobuf.
//!
//! Input: a message body.
//!
//! Checks: nothing panics, including inside the decoder's own `catch_unwind` (libFuzzer's
//! panic hook aborts at the panic itself, so a panic the bridge would turn into a
//! dead letter is still reported here); a decoded message's signal is its subject's when
//! it is a record.

#![no_main]

use dagnats_bridge::decode::{decode, Decoded};
use dagnats_bridge::Signal;
use dagnats_observe::otlp::Converter;
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// The bridge's default limit is far above libFuzzer's input sizes; use a limit the
/// inputs can cross so the refusal path runs too.
const MAX_BYTES: usize = 2048;

fn convert_and_encode(converter: &Converter, decoded: Decoded) -> Vec<u8> {
    match decoded {
        Decoded::Span(s) => converter.traces([*s]).encode_to_vec(),
        Decoded::Log(l) => converter.logs([*l]).encode_to_vec(),
        Decoded::Metric(m) => converter.metrics([*m]).encode_to_vec(),
        Decoded::Traces(rs) => {
            let mut request = converter.traces(Vec::<dagnats_observe::record::SpanRecord>::new());
            for mut r in rs {
                converter.ensure_service_name(&mut r.resource);
                request.resource_spans.push(r);
            }
            request.encode_to_vec()
        }
        Decoded::Logs(rl) => {
            let mut request = converter.logs(Vec::<dagnats_observe::record::LogRecord>::new());
            for mut r in rl {
                converter.ensure_service_name(&mut r.resource);
                request.resource_logs.push(r);
            }
            request.encode_to_vec()
        }
        Decoded::EngineMetric(m) => converter.engine_metrics([*m]).encode_to_vec(),
        Decoded::Metrics(rm) => {
            let mut request = converter.metrics(Vec::<dagnats_observe::record::MetricPoint>::new());
            for mut r in rm {
                converter.ensure_service_name(&mut r.resource);
                request.resource_metrics.push(r);
            }
            request.encode_to_vec()
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let converter = Converter::new("fuzz-fallback", dagnats_bridge::SCOPE_NAME, "0.0.0");
    for (subject, signal) in [
        ("other.subject", None),
        ("telemetry.spans.fuzz.r-1", Some(Signal::Spans)),
        ("telemetry.logs.fuzz.info", Some(Signal::Logs)),
        ("telemetry.metrics.fuzz.tasks.done", Some(Signal::Metrics)),
    ] {
        match decode(subject, data, MAX_BYTES) {
            Ok(decoded) => {
                assert!(data.len() <= MAX_BYTES);
                let is_record = matches!(
                    decoded,
                    Decoded::Span(_) | Decoded::Log(_) | Decoded::Metric(_) | Decoded::EngineMetric(_)
                );
                if is_record {
                    assert_eq!(Some(decoded.signal()), signal, "a record decoded under another signal");
                }
                let _ = decoded.record_count();
                let _ = convert_and_encode(&converter, decoded);
            }
            Err(e) => {
                // What `decode` says when its catch_unwind caught a panic.
                assert_ne!(e.0, "the decoder panicked on this message");
            }
        }
    }
});
