//! The command line: `dagnats otlp-bridge [OPTIONS]`, `dagnats trace` and `dagnats tail`.
//!
//! This module only declares the options; [`Config::from_args`](crate::Config::from_args)
//! resolves them against the environment. The OTLP options follow the OpenTelemetry
//! OTLP exporter specification: a flag wins over its `OTEL_EXPORTER_OTLP_*` variable, a
//! per-signal setting wins over the general one, and the general endpoint is a base URL
//! to which `/v1/traces`, `/v1/logs` and `/v1/metrics` are appended over http/protobuf
//! (over grpc it is the target as given). Those variables are
//! read by the resolver (not by clap) so that this precedence holds; the NATS variables
//! are plain flag fallbacks and clap reads them.
//!
//! Every option of `otlp-bridge` (but `--check`) can also be given as an environment
//! variable, `DAGNATS_BRIDGE_` and the flag's name in capitals with `_` for `-`
//! (`--batch-size` → `DAGNATS_BRIDGE_BATCH_SIZE`; the NATS options keep their `NATS_*`
//! names). Clap reads them, and such a variable counts as the flag: it wins over the
//! `OTEL_*` variables, a flag on the command line wins over it.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The `dagnats` program.
#[derive(Parser)]
#[command(name = "dagnats", version, about = "DagNats observability tools", propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once per process: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Command {
    /// Export the TELEMETRY stream (spans, logs, metrics) to an OTLP backend (HTTP or gRPC).
    ///
    /// Reads with a durable pull consumer, converts the records to OTLP protobuf and
    /// posts them; every message is acknowledged only after its own export succeeded,
    /// and what cannot be exported goes to the TELEMETRY_DLQ stream with the reason.
    OtlpBridge(OtlpBridgeArgs),

    /// Print the span tree of one trace, or of every trace of a run, read from TELEMETRY.
    ///
    /// Reads the span records stored in the TELEMETRY stream (Go-style JSON records and
    /// OTLP-JSON bodies) up to the last one stored when the command started, and prints
    /// each trace as a tree: service, name, kind, duration, status and error of every
    /// span, children under their parent in start order. Spans whose parent never arrived
    /// are shown as extra roots. Exit status: 0 when spans were found, 1 when none were,
    /// 2 when the command cannot run (options, NATS, the output file).
    Trace(TraceArgs),

    /// Follow new spans live, one line per span, until interrupted (SIGINT or SIGTERM).
    ///
    /// Reads the spans stored in TELEMETRY after it starts (Go-style JSON records and
    /// OTLP-JSON bodies) with an ordered consumer, which leaves nothing behind on the
    /// server, and prints `HH:MM:SS.mmm [service] name  kind  duration  status` (then the
    /// error, the trace id and the run) for each one that passes the filters. Creates the
    /// TELEMETRY stream with the contract's settings when it does not exist yet. Exit
    /// status: 0 after SIGINT or SIGTERM (or when the reader of the output goes away), 2
    /// when it cannot follow.
    Tail(TailArgs),

    /// List, show and republish the dead letters of the TELEMETRY_DLQ stream.
    ///
    /// `list` prints one line per dead letter (sequence, time stored, deliveries, original
    /// subject, reason); `show SEQ` prints its headers and body; `republish` puts dead
    /// letters (by sequence, range or --all, optionally only those whose reason contains
    /// a text) back on their original subject in TELEMETRY, without the dead-letter
    /// headers, then deletes them from TELEMETRY_DLQ. Exit status: 0 when done, 1 when a
    /// dead letter asked for does not exist or could not be republished, 2 when the
    /// command cannot run (options, NATS).
    Dlq(crate::dlq::DlqArgs),
}

/// Options of `dagnats trace`.
#[derive(Args, Clone, Debug)]
pub struct TraceArgs {
    /// The trace to show: 32 hex digits (W3C trace id)
    #[arg(value_name = "TRACE_ID", required_unless_present = "run", conflicts_with = "run")]
    pub trace_id: Option<String>,

    /// Show the run RUN_ID instead: every trace holding a span whose `run_id` attribute is
    /// RUN_ID, with all of the spans of those traces [default: none]
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,

    /// Also write a self-contained waterfall page (HTML, no network) to FILE [default: none]
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,

    /// Only read records stored in the last DURATION (500ms, 5s, 2m, 1h)
    /// [default: the whole stream]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<Duration>,

    /// How to reach NATS.
    #[command(flatten)]
    pub nats: crate::nats_args::NatsArgs,
}

/// Options of `dagnats tail`.
#[derive(Args, Clone, Debug)]
pub struct TailArgs {
    /// Only spans of this service (the record's `service` field) [default: every service]
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,

    /// Only spans whose `run_id` attribute is RUN_ID [default: every run]
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,

    /// How to reach NATS.
    #[command(flatten)]
    pub nats: crate::nats_args::NatsArgs,
}

/// How request bodies are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    /// gzip (`Content-Encoding: gzip`).
    Gzip,
    /// No compression.
    None,
}

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    /// OTLP/gRPC: the collector services over HTTP/2 (default endpoint
    /// http://localhost:4317, no signal paths appended).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default endpoint http://localhost:4318, signal
    /// paths /v1/traces, /v1/logs, /v1/metrics appended to the base endpoint).
    #[value(name = "http/protobuf")]
    HttpProtobuf,
}

impl Protocol {
    /// The name used by OTEL_EXPORTER_OTLP_PROTOCOL and --protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// The format of the bridge's own logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines with key=value fields.
    Text,
    /// One JSON object per line.
    Json,
}

/// Options of `dagnats otlp-bridge`.
#[derive(Args, Clone)]
pub struct OtlpBridgeArgs {
    /// OTLP transport for every signal: grpc or http/protobuf
    /// [fallback env: OTEL_EXPORTER_OTLP_PROTOCOL, and per signal: OTEL_EXPORTER_OTLP_{TRACES,LOGS,METRICS}_PROTOCOL;
    /// an unsupported value there is warned about and ignored] [default: http/protobuf]
    #[arg(long, env = "DAGNATS_BRIDGE_PROTOCOL", value_enum, value_name = "PROTOCOL", help_heading = "OTLP export")]
    pub protocol: Option<Protocol>,

    /// Base URL of the OTLP receiver. For http/protobuf /v1/traces, /v1/logs and
    /// /v1/metrics are appended; for grpc it is the target as given
    /// [fallback env: OTEL_EXPORTER_OTLP_ENDPOINT] [default: http://localhost:4318, or
    /// http://localhost:4317 for grpc]
    #[arg(long, env = "DAGNATS_BRIDGE_ENDPOINT", value_name = "URL", help_heading = "OTLP export")]
    pub endpoint: Option<String>,

    /// Full URL for spans, used as given [fallback env: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT]
    /// [default: the base endpoint + /v1/traces; for grpc, the base endpoint]
    #[arg(long, env = "DAGNATS_BRIDGE_TRACES_ENDPOINT", value_name = "URL", help_heading = "OTLP export")]
    pub traces_endpoint: Option<String>,

    /// Full URL for logs, used as given [fallback env: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT]
    /// [default: the base endpoint + /v1/logs; for grpc, the base endpoint]
    #[arg(long, env = "DAGNATS_BRIDGE_LOGS_ENDPOINT", value_name = "URL", help_heading = "OTLP export")]
    pub logs_endpoint: Option<String>,

    /// Full URL for metrics, used as given [fallback env: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT]
    /// [default: the base endpoint + /v1/metrics; for grpc, the base endpoint]
    #[arg(long, env = "DAGNATS_BRIDGE_METRICS_ENDPOINT", value_name = "URL", help_heading = "OTLP export")]
    pub metrics_endpoint: Option<String>,

    /// Extra HTTP header on every export request, repeatable; added to (and overriding)
    /// OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_{TRACES,LOGS,METRICS}_HEADERS
    /// (`k1=v1,k2=v2`, values percent-decoded); DAGNATS_BRIDGE_HEADER holds one
    /// KEY=VALUE [default: none]
    #[arg(
        long = "header",
        env = "DAGNATS_BRIDGE_HEADER",
        hide_env_values = true,
        value_name = "KEY=VALUE",
        help_heading = "OTLP export"
    )]
    pub headers: Vec<String>,

    /// Request body compression [fallback env: OTEL_EXPORTER_OTLP_COMPRESSION, and per signal]
    /// [default: gzip]
    #[arg(
        long,
        env = "DAGNATS_BRIDGE_COMPRESSION",
        value_enum,
        value_name = "ALGORITHM",
        help_heading = "OTLP export"
    )]
    pub compression: Option<Compression>,

    /// Same as --compression none [default: false]
    #[arg(long, env = "DAGNATS_BRIDGE_NO_GZIP", value_parser = clap::builder::BoolishValueParser::new(), help_heading = "OTLP export")]
    pub no_gzip: bool,

    /// Longest wait for one export request [fallback env: OTEL_EXPORTER_OTLP_TIMEOUT, in
    /// milliseconds, and per signal] [default: 10s]
    #[arg(long, env = "DAGNATS_BRIDGE_TIMEOUT", value_name = "DURATION", value_parser = parse_duration, help_heading = "OTLP export")]
    pub timeout: Option<Duration>,

    /// PEM file of the CA certificates that sign the receiver's certificate
    /// [fallback env: OTEL_EXPORTER_OTLP_CERTIFICATE] [default: the system's roots]
    #[arg(long, env = "DAGNATS_BRIDGE_CERTIFICATE", value_name = "FILE", help_heading = "OTLP export")]
    pub certificate: Option<PathBuf>,

    /// PEM client certificate for mutual TLS with the receiver
    /// [fallback env: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE] [default: none]
    #[arg(long, env = "DAGNATS_BRIDGE_CLIENT_CERTIFICATE", value_name = "FILE", help_heading = "OTLP export")]
    pub client_certificate: Option<PathBuf>,

    /// PEM private key of --client-certificate [fallback env: OTEL_EXPORTER_OTLP_CLIENT_KEY]
    /// [default: none]
    #[arg(long, env = "DAGNATS_BRIDGE_CLIENT_KEY", value_name = "FILE", help_heading = "OTLP export")]
    pub client_key: Option<PathBuf>,

    /// How to reach NATS: the same flags as `trace` and `tail`.
    #[command(flatten)]
    pub nats: crate::nats_args::NatsArgs,

    /// Durable consumer name; bridges sharing it share the work
    #[arg(
        long,
        env = "DAGNATS_BRIDGE_CONSUMER",
        default_value = "otlp-bridge",
        value_name = "NAME",
        help_heading = "Consuming"
    )]
    pub consumer: String,

    /// Only consume TELEMETRY subjects matching SUBJECT, repeatable (the consumer's
    /// filter subjects): e.g. `telemetry.spans.py-worker.>` to export one worker's spans
    /// and not the engine's, when the engine exports its own to the backend. Each must
    /// lie under telemetry.> and none may overlap another; an existing consumer gets its
    /// filters updated to these. DAGNATS_BRIDGE_SUBJECTS holds a comma-separated list
    /// [default: telemetry.>]
    #[arg(
        long = "subject",
        env = "DAGNATS_BRIDGE_SUBJECTS",
        value_delimiter = ',',
        value_name = "SUBJECT",
        help_heading = "Consuming"
    )]
    pub subjects: Vec<String>,

    /// Messages fetched per batch
    #[arg(long, env = "DAGNATS_BRIDGE_BATCH_SIZE", default_value_t = crate::config::DEFAULT_BATCH_SIZE as u32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = "Consuming")]
    pub batch_size: u32,

    /// Longest wait for a batch: a fetch returns the messages waiting (up to the batch
    /// size) at once, and when none are, waits this long for the first
    #[arg(long, env = "DAGNATS_BRIDGE_FLUSH_INTERVAL", default_value = "5s", value_name = "DURATION", value_parser = parse_duration, help_heading = "Consuming")]
    pub flush_interval: Duration,

    /// Deliveries of a message before it is dead-lettered (consumer max_deliver)
    #[arg(long, env = "DAGNATS_BRIDGE_MAX_DELIVER", default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(i64).range(1..), help_heading = "Consuming")]
    pub max_deliver: i64,

    /// How long the server waits for an acknowledgement before redelivering
    #[arg(long, env = "DAGNATS_BRIDGE_ACK_WAIT", default_value = "30s", value_name = "DURATION", value_parser = parse_duration, help_heading = "Consuming")]
    pub ack_wait: Duration,

    /// Batches processed at once by this process (each holds up to --batch-size messages)
    #[arg(long, env = "DAGNATS_BRIDGE_WORKERS", default_value_t = crate::config::DEFAULT_WORKERS as u32, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Consuming")]
    pub workers: u32,

    /// service.name for records that name no service (a record's own service always wins)
    /// [default: OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else dagnats]
    #[arg(long, env = "DAGNATS_BRIDGE_SERVICE_NAME", value_name = "NAME", help_heading = "Converting")]
    pub service_name: Option<String>,

    /// Larger messages are dead-lettered without being decoded
    #[arg(long, env = "DAGNATS_BRIDGE_MAX_MESSAGE_BYTES", default_value_t = 1 << 20, value_name = "BYTES", help_heading = "Converting")]
    pub max_message_bytes: usize,

    /// Uncompressed records per export request, at most (a batch is split above it)
    #[arg(long, env = "DAGNATS_BRIDGE_MAX_REQUEST_BYTES", default_value_t = 4 << 20, value_name = "BYTES", help_heading = "Converting")]
    pub max_request_bytes: usize,

    /// Longest pause between two export attempts while the receiver is down
    #[arg(long, env = "DAGNATS_BRIDGE_MAX_BACKOFF", default_value = "30s", value_name = "DURATION", value_parser = parse_duration, help_heading = "Converting")]
    pub max_backoff: Duration,

    /// Serve the bridge's counters in Prometheus text format on this address (any path)
    /// [default: not served]
    #[arg(long, env = "DAGNATS_BRIDGE_METRICS_ADDR", value_name = "ADDR", help_heading = "Operations")]
    pub metrics_addr: Option<SocketAddr>,

    /// How often the counters are written to the log (0s: never)
    #[arg(long, env = "DAGNATS_BRIDGE_STATS_INTERVAL", default_value = "60s", value_name = "DURATION", value_parser = parse_duration, help_heading = "Operations")]
    pub stats_interval: Duration,

    /// After SIGINT or SIGTERM: how long batches in hand may still finish their export
    /// before they are released to the server for redelivery (to another bridge, or to
    /// this one after its restart). Keep it below the orchestrator's kill delay (Docker:
    /// 10s, Kubernetes: 30s) minus a second or two; 0s releases them at once
    #[arg(long, env = "DAGNATS_BRIDGE_SHUTDOWN_GRACE", default_value = "5s", value_name = "DURATION", value_parser = parse_duration, help_heading = "Operations")]
    pub shutdown_grace: Duration,

    /// Format of the bridge's own logs (filter with RUST_LOG, default info)
    #[arg(long, env = "DAGNATS_BRIDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, help_heading = "Operations")]
    pub log_format: LogFormat,

    /// Check the configuration, NATS (connection, stream, consumer) and every OTLP
    /// endpoint (an empty export request), print one line per check and exit: 0 when all
    /// pass, 1 when one fails. Changes nothing (creates no stream or consumer); no
    /// environment variable, so that a forgotten one cannot turn a deployment into a check
    /// [default: false]
    #[arg(long, help_heading = "Operations")]
    pub check: bool,
}

impl fmt::Debug for OtlpBridgeArgs {
    // Passwords, tokens, seeds and header values are secrets: only their presence shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|h| h.split('=').next().unwrap_or("")).collect();
        f.debug_struct("OtlpBridgeArgs")
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint)
            .field("traces_endpoint", &self.traces_endpoint)
            .field("logs_endpoint", &self.logs_endpoint)
            .field("metrics_endpoint", &self.metrics_endpoint)
            .field("headers", &header_names)
            .field("compression", &self.compression)
            .field("no_gzip", &self.no_gzip)
            .field("timeout", &self.timeout)
            .field("nats", &self.nats)
            .field("consumer", &self.consumer)
            .field("subjects", &self.subjects)
            .field("batch_size", &self.batch_size)
            .field("flush_interval", &self.flush_interval)
            .field("max_deliver", &self.max_deliver)
            .field("ack_wait", &self.ack_wait)
            .field("workers", &self.workers)
            .field("service_name", &self.service_name)
            .field("metrics_addr", &self.metrics_addr)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

/// Parses `250ms`, `5s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("{s:?} is not a duration (try 500ms, 5s, 2m)"))?;
    let seconds = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{s:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn the_command_line_is_consistent_and_help_shows_every_default() {
        Cli::command().debug_assert();
        let mut cmd = Cli::command();
        let help = cmd.find_subcommand_mut("otlp-bridge").unwrap().render_long_help().to_string();
        for arg in Cli::command().find_subcommand("otlp-bridge").unwrap().get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" || id == "no_gzip" {
                continue;
            }
            let long = arg.get_long().unwrap();
            let start = help.find(&format!("--{long}")).unwrap_or_else(|| panic!("--{long} missing from help"));
            let rest = &help[start..];
            let end = rest[2..].find("\n  -").map(|i| i + 2).unwrap_or(rest.len());
            assert!(rest[..end].contains("[default:"), "--{long} shows no default:\n{}", &rest[..end]);
        }
    }

    #[test]
    fn every_bridge_option_but_check_has_an_environment_variable_shown_in_the_help() {
        let mut cmd = Cli::command();
        let help = cmd.find_subcommand_mut("otlp-bridge").unwrap().render_long_help().to_string();
        for arg in Cli::command().find_subcommand("otlp-bridge").unwrap().get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version" | "check") {
                assert!(arg.get_env().is_none(), "--{id} must not be set from the environment");
                continue;
            }
            let env = arg.get_env().unwrap_or_else(|| panic!("--{id} has no environment variable")).to_str().unwrap();
            let expected = if id.starts_with("nats_") { "NATS_" } else { "DAGNATS_BRIDGE_" };
            assert!(env.starts_with(expected), "--{id}: {env}");
            if expected == "DAGNATS_BRIDGE_" {
                let flag = arg.get_long().unwrap().to_uppercase().replace('-', "_");
                // A variable holding a comma-separated list is named in the plural.
                let plural = arg.get_value_delimiter().is_some();
                let name = if plural { format!("DAGNATS_BRIDGE_{flag}S") } else { format!("DAGNATS_BRIDGE_{flag}") };
                assert_eq!(env, name);
            }
            assert!(help.contains(&format!("[env: {env}")), "{env} missing from the help");
        }
    }

    #[test]
    fn trace_and_tail_help_show_every_default() {
        for sub in ["trace", "tail"] {
            let mut cmd = Cli::command();
            let help = cmd.find_subcommand_mut(sub).unwrap().render_long_help().to_string();
            for arg in Cli::command().find_subcommand(sub).unwrap().get_arguments() {
                let id = arg.get_id().as_str();
                let Some(long) = arg.get_long() else { continue };
                if id == "help" || id == "version" {
                    continue;
                }
                let start =
                    help.find(&format!("--{long}")).unwrap_or_else(|| panic!("{sub}: --{long} missing from help"));
                let rest = &help[start..];
                let end = rest[2..].find("\n  -").map(|i| i + 2).unwrap_or(rest.len());
                assert!(rest[..end].contains("[default:"), "{sub} --{long} shows no default:\n{}", &rest[..end]);
            }
        }
    }

    #[test]
    fn trace_takes_an_id_or_a_run_not_both() {
        assert!(Cli::try_parse_from(["dagnats", "trace"]).is_err());
        assert!(Cli::try_parse_from(["dagnats", "trace", "abc", "--run", "r"]).is_err());
        let Command::Trace(a) =
            Cli::try_parse_from(["dagnats", "trace", "--run", "r-1", "--html", "w.html"]).unwrap().command
        else {
            panic!()
        };
        assert_eq!(a.run.as_deref(), Some("r-1"));
        assert_eq!(a.html, Some(PathBuf::from("w.html")));
        let Command::Trace(a) =
            Cli::try_parse_from(["dagnats", "trace", "4bf92f3577b34da6a3ce929d0e0e4736", "--since=1h"])
                .unwrap()
                .command
        else {
            panic!()
        };
        assert_eq!(a.since, Some(Duration::from_secs(3600)));
    }

    #[test]
    fn debug_hides_secrets() {
        let cli = Cli::try_parse_from([
            "dagnats",
            "otlp-bridge",
            "--nats-password=pw-secret",
            "--nats-token=tok-secret",
            "--header=Authorization=Bearer hdr-secret",
            "--nats-url=nats://u:url-secret@h:4222",
        ])
        .unwrap();
        let Command::OtlpBridge(args) = cli.command else { panic!("not otlp-bridge") };
        let s = format!("{args:?}");
        for secret in ["pw-secret", "tok-secret", "hdr-secret", "url-secret"] {
            assert!(!s.contains(secret), "{s}");
        }
        assert!(s.contains("Authorization"));
    }
}
