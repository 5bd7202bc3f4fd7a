//! The bridge's resolved settings: endpoints, headers, NATS authentication, limits.
//!
//! [`Config::from_args`] applies the OTLP exporter specification's environment rules to
//! the command line; [`Config::new`] gives the defaults to programs and tests that build
//! a bridge without one. Secrets (header values, NATS passwords, tokens and seeds) never
//! appear in `Debug` output.
//!
//! ```
//! use dagnats_bridge::config::{Config, Signal};
//!
//! let config = Config::new("nats://127.0.0.1:4222", "http://collector:4318/");
//! assert_eq!(config.endpoint(Signal::Spans).url, "http://collector:4318/v1/traces");
//! assert_eq!(config.batch_size, 512);
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use dagnats_observe::collector::stream::STREAM_SUBJECTS;
use dagnats_observe::collector::subject::{SubjectKind, ROOT};
use dagnats_observe::nats::{redact_url, NatsOptions};
use dagnats_observe::resource::{
    parse_resource_attributes, RESOURCE_ATTRIBUTES_ENV, SERVICE_NAME_ENV, SERVICE_NAME_KEY,
};

use crate::cli::{Compression, OtlpBridgeArgs, Protocol};

/// The default OTLP/HTTP base URL.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";
/// The default OTLP/gRPC target.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// The default per-request timeout (the OTLP exporter specification's 10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default `--shutdown-grace`: half of `docker stop`'s 10 s, well within
/// Kubernetes' 30 s, and as long as the default flush interval.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The three kinds of telemetry, each with its subjects and its OTLP endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `telemetry.spans.>` → `/v1/traces`.
    Spans,
    /// `telemetry.logs.>` → `/v1/logs`.
    Logs,
    /// `telemetry.metrics.>` → `/v1/metrics`.
    Metrics,
}

impl Signal {
    /// All signals, in the order used for arrays indexed by [`Signal::index`].
    pub const ALL: [Signal; 3] = [Signal::Spans, Signal::Logs, Signal::Metrics];

    /// Position in [`Signal::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in logs and metric labels: `spans`, `logs` or `metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Spans => "spans",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }

    /// The path appended to the base endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Signal::Spans => "v1/traces",
            Signal::Logs => "v1/logs",
            Signal::Metrics => "v1/metrics",
        }
    }

    /// The signal's word in `OTEL_EXPORTER_OTLP_{WORD}_*` variables.
    fn env_word(self) -> &'static str {
        match self {
            Signal::Spans => "TRACES",
            Signal::Logs => "LOGS",
            Signal::Metrics => "METRICS",
        }
    }
}

/// HTTP headers whose values are secrets (authorization tokens): `Debug` shows the names.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// Sets `name` to `value`, replacing an earlier value of the same name (ignoring case).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.0.push((name, value.into()));
    }

    /// The headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(n, _)| (n, "***"))).finish()
    }
}

/// Where and how one signal is exported. `Debug` shows the URL without credentials or
/// query.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The transport: OTLP/HTTP (protobuf) or OTLP/gRPC.
    pub protocol: Protocol,
    /// Full URL of the OTLP/HTTP endpoint; for gRPC, the target (scheme, host, port).
    pub url: String,
    /// Extra request headers.
    pub headers: Headers,
    /// Request body compression.
    pub compression: Compression,
    /// Longest wait for one request.
    pub timeout: Duration,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("protocol", &self.protocol)
            .field("url", &redact_url(&self.url))
            .field("headers", &self.headers)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// TLS towards the OTLP receiver.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtlpTls {
    /// PEM CA certificates to trust in addition to the system's.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
}

/// Messages fetched per batch by default: the OpenTelemetry SDKs' export batch
/// (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`). Measured with the throughput bench (100,000 spans,
/// 2 cores): 100 per batch left the bridge waiting on round trips at 0.78x of the raw
/// consume rate; 512 with [`DEFAULT_WORKERS`] workers reaches 0.86-0.98x (best of 3
/// rounds, in four runs) over OTLP/HTTP and 0.84-0.91x over gRPC.
pub const DEFAULT_BATCH_SIZE: usize = 512;
/// Batches processed at once by default (see [`DEFAULT_BATCH_SIZE`]).
pub const DEFAULT_WORKERS: usize = 8;

/// Everything a bridge needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// How to reach NATS.
    pub nats: NatsOptions,
    /// Durable consumer name.
    pub consumer: String,
    /// The TELEMETRY subjects consumed (the consumer's filter subjects): each valid, under
    /// `telemetry.>`, once, none overlapping another (see [`subject_filters`]). Default:
    /// `telemetry.>` alone.
    pub subjects: Vec<String>,
    /// Messages fetched per batch.
    pub batch_size: usize,
    /// Longest wait for a batch (when no message is waiting, for the first one).
    pub flush_interval: Duration,
    /// Deliveries of a message before it is dead-lettered (used when the consumer is
    /// created; an existing consumer keeps its own).
    pub max_deliver: i64,
    /// Acknowledgement wait (used when the consumer is created).
    pub ack_wait: Duration,
    /// Batches processed at once.
    pub workers: usize,
    /// `service.name` for records that name no service.
    pub service_name: String,
    /// Messages larger than this are dead-lettered undecoded.
    pub max_message_bytes: usize,
    /// Message bytes per export request, at most.
    pub max_request_bytes: usize,
    /// First pause before retrying an export in process.
    pub initial_backoff: Duration,
    /// Longest pause between two export attempts.
    pub max_backoff: Duration,
    /// Span, log and metric endpoints, indexed by [`Signal::index`].
    pub endpoints: [Endpoint; 3],
    /// TLS towards the receiver.
    pub otlp_tls: OtlpTls,
    /// Where to serve the Prometheus counters.
    pub metrics_addr: Option<SocketAddr>,
    /// How often counters are logged (zero: never).
    pub stats_interval: Duration,
    /// After the shutdown signal, how long batches in hand may still finish their export
    /// before they are released for redelivery.
    pub shutdown_grace: Duration,
    /// Added to the resource of everything exported (from `OTEL_RESOURCE_ATTRIBUTES`,
    /// without `service.name`, which went into [`service_name`](Self::service_name)).
    pub resource_attributes: Vec<(String, String)>,
    /// Settings from the environment that could not be used and were ignored, one
    /// sentence each naming the variable (never a secret), for the program to log.
    pub warnings: Vec<String>,
}

/// A setting that cannot be used; the message names the setting, never a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// `base` with the signal's path appended to its path as the OTLP specification says
/// (one slash between; a query stays a query).
fn signal_url(base: &str, signal: Signal) -> String {
    match reqwest::Url::parse(base) {
        Ok(mut u) if !u.cannot_be_a_base() => {
            let path = format!("{}/{}", u.path().trim_end_matches('/'), signal.path());
            u.set_path(&path);
            u.to_string()
        }
        // Left as written: the URL check reports it.
        _ => format!("{}/{}", base.trim_end_matches('/'), signal.path()),
    }
}

impl Config {
    /// The defaults of the command line, with `nats_url` and the base OTLP endpoint
    /// `endpoint` (to which the signal paths are appended).
    pub fn new(nats_url: &str, endpoint: &str) -> Config {
        let endpoint_for = |signal| Endpoint {
            protocol: Protocol::HttpProtobuf,
            url: signal_url(endpoint, signal),
            headers: Headers::default(),
            compression: Compression::Gzip,
            timeout: DEFAULT_TIMEOUT,
        };
        Config {
            nats: NatsOptions::new(nats_url),
            consumer: "otlp-bridge".into(),
            subjects: vec![STREAM_SUBJECTS.into()],
            batch_size: DEFAULT_BATCH_SIZE,
            flush_interval: Duration::from_secs(5),
            max_deliver: 4,
            ack_wait: Duration::from_secs(30),
            workers: DEFAULT_WORKERS,
            service_name: "dagnats".into(),
            max_message_bytes: 1 << 20,
            max_request_bytes: 4 << 20,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            endpoints: Signal::ALL.map(endpoint_for),
            otlp_tls: OtlpTls::default(),
            metrics_addr: None,
            stats_interval: Duration::from_secs(60),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            resource_attributes: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The endpoint of `signal`.
    pub fn endpoint(&self, signal: Signal) -> &Endpoint {
        &self.endpoints[signal.index()]
    }

    /// Mutable access to the endpoint of `signal`.
    pub fn endpoint_mut(&mut self, signal: Signal) -> &mut Endpoint {
        &mut self.endpoints[signal.index()]
    }

    /// Resolves the command line against the environment, which `env` reads (pass
    /// `|k| std::env::var(k).ok()` in a program). Empty variables count as unset.
    ///
    /// A flag that cannot be used is an error. An `OTEL_*` variable that cannot be used
    /// (an unknown compression or protocol, a timeout that is not a positive number of
    /// milliseconds, an endpoint that is not an http(s) URL, a header entry that is not
    /// `key=value` or not a valid HTTP header) is ignored, as the OpenTelemetry
    /// environment specification says, falling back to the next source or the default,
    /// and described in [`warnings`](Self::warnings); a bad header entry is skipped alone.
    pub fn from_args(args: &OtlpBridgeArgs, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let mut config = Config::new(&args.nats.nats_url, DEFAULT_ENDPOINT);
        let mut warnings = Warnings::default();

        let protocols = Signal::ALL.map(|signal| {
            let (protocol, protocol_warnings) = resolve_protocol(args.protocol, signal, env);
            warnings.extend(protocol_warnings);
            protocol
        });

        let base = args
            .endpoint
            .clone()
            .or_else(|| usable_url(env("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTEL_EXPORTER_OTLP_ENDPOINT", &mut warnings));
        let general_headers = env_headers(env, "OTEL_EXPORTER_OTLP_HEADERS", &mut warnings);
        let flag_headers = args.headers.iter().map(|h| parse_header_flag(h)).collect::<Result<Vec<_>, _>>()?;
        let general_compression = env("OTEL_EXPORTER_OTLP_COMPRESSION");
        // Checked here rather than by clap, which would count DAGNATS_BRIDGE_NO_GZIP=false
        // as the flag given.
        if args.no_gzip && args.compression == Some(Compression::Gzip) {
            return Err(ConfigError("--no-gzip and --compression gzip contradict each other".into()));
        }
        let general_timeout = env("OTEL_EXPORTER_OTLP_TIMEOUT");

        for signal in Signal::ALL {
            let word = signal.env_word();
            let flag = match signal {
                Signal::Spans => &args.traces_endpoint,
                Signal::Logs => &args.logs_endpoint,
                Signal::Metrics => &args.metrics_endpoint,
            };
            // A flag beats the environment; a per-signal URL is used as given, a base
            // URL gets the signal's path over HTTP and is the target as given over gRPC.
            let protocol = protocols[signal.index()];
            let from_base = |base: &str| match protocol {
                Protocol::HttpProtobuf => signal_url(base, signal),
                Protocol::Grpc => base.to_owned(),
            };
            let default_base = match protocol {
                Protocol::HttpProtobuf => DEFAULT_ENDPOINT,
                Protocol::Grpc => DEFAULT_GRPC_ENDPOINT,
            };
            let url = match (flag, &args.endpoint) {
                (Some(url), _) => url.clone(),
                (None, Some(base)) => from_base(base),
                (None, None) => match usable_url(
                    env(&format!("OTEL_EXPORTER_OTLP_{word}_ENDPOINT")),
                    &format!("OTEL_EXPORTER_OTLP_{word}_ENDPOINT"),
                    &mut warnings,
                ) {
                    Some(url) => url,
                    None => from_base(base.as_deref().unwrap_or(default_base)),
                },
            };
            check_url(&url, signal)?;

            let mut headers = Headers::default();
            let signal_headers = env_headers(env, &format!("OTEL_EXPORTER_OTLP_{word}_HEADERS"), &mut warnings);
            for (k, v) in general_headers.iter().chain(&signal_headers).chain(&flag_headers) {
                headers.set(k.clone(), v.clone());
            }

            let compression = if args.no_gzip {
                Compression::None
            } else if let Some(c) = args.compression {
                c
            } else {
                let sources = [
                    (
                        format!("OTEL_EXPORTER_OTLP_{word}_COMPRESSION"),
                        env(&format!("OTEL_EXPORTER_OTLP_{word}_COMPRESSION")),
                    ),
                    ("OTEL_EXPORTER_OTLP_COMPRESSION".to_owned(), general_compression.clone()),
                ];
                first_usable(sources, &mut warnings, |v| match v.trim() {
                    "gzip" => Ok(Compression::Gzip),
                    "none" => Ok(Compression::None),
                    other => Err(format!("{:?} is not supported (gzip or none)", shorten(other))),
                })
                .unwrap_or(Compression::Gzip)
            };

            let timeout = match args.timeout {
                Some(t) => t,
                None => {
                    let sources = [
                        (
                            format!("OTEL_EXPORTER_OTLP_{word}_TIMEOUT"),
                            env(&format!("OTEL_EXPORTER_OTLP_{word}_TIMEOUT")),
                        ),
                        ("OTEL_EXPORTER_OTLP_TIMEOUT".to_owned(), general_timeout.clone()),
                    ];
                    first_usable(sources, &mut warnings, |v| match v.trim().parse::<u64>() {
                        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                        _ => Err(format!("{:?} is not a positive number of milliseconds", shorten(v.trim()))),
                    })
                    .unwrap_or(DEFAULT_TIMEOUT)
                }
            };
            config.endpoints[signal.index()] = Endpoint { protocol, url, headers, compression, timeout };
        }

        config.otlp_tls = OtlpTls {
            ca_file: args.certificate.clone().or_else(|| env("OTEL_EXPORTER_OTLP_CERTIFICATE").map(PathBuf::from)),
            cert_file: args
                .client_certificate
                .clone()
                .or_else(|| env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE").map(PathBuf::from)),
            key_file: args.client_key.clone().or_else(|| env("OTEL_EXPORTER_OTLP_CLIENT_KEY").map(PathBuf::from)),
        };

        config.nats = args.nats.options(&format!("dagnats-bridge {}", args.consumer))?;
        config.consumer = args.consumer.clone();
        config.subjects = subject_filters(&args.subjects)?;
        config.batch_size = args.batch_size as usize;
        config.flush_interval = args.flush_interval;
        config.max_deliver = args.max_deliver;
        config.ack_wait = args.ack_wait;
        config.workers = args.workers as usize;
        // service.name: the flag, else OTEL_SERVICE_NAME, else the one of
        // OTEL_RESOURCE_ATTRIBUTES, else the default; the other attributes go on every
        // resource.
        let (mut resource, resource_warnings) =
            env(RESOURCE_ATTRIBUTES_ENV).map(|t| parse_resource_attributes(&t)).unwrap_or_default();
        warnings.extend(resource_warnings);
        let resource_service = resource.iter().position(|(k, _)| k == SERVICE_NAME_KEY).map(|i| resource.remove(i).1);
        if let Some(name) = args
            .service_name
            .clone()
            .or_else(|| env(SERVICE_NAME_ENV).map(|s| s.trim().to_owned()))
            .or(resource_service.filter(|s| !s.trim().is_empty()))
        {
            config.service_name = name;
        }
        config.resource_attributes = resource;
        config.max_message_bytes = args.max_message_bytes;
        config.max_request_bytes = args.max_request_bytes;
        config.max_backoff = args.max_backoff;
        config.metrics_addr = args.metrics_addr;
        config.stats_interval = args.stats_interval;
        config.shutdown_grace = args.shutdown_grace;
        config.warnings = warnings.0;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings that would make the bridge misbehave.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("--flush-interval", self.flush_interval),
            ("--ack-wait", self.ack_wait),
            ("--max-backoff", self.max_backoff),
        ];
        for (name, d) in positive {
            if d.is_zero() {
                return Err(ConfigError(format!("{name} must be more than zero")));
            }
        }
        if self.batch_size == 0 || self.workers == 0 || self.max_deliver < 1 {
            return Err(ConfigError("--batch-size, --workers and --max-deliver must be at least 1".into()));
        }
        if self.consumer.is_empty() || self.consumer.contains(['.', '*', '>', ' ', '\t']) {
            return Err(ConfigError(format!("--consumer {:?} is not a valid consumer name", self.consumer)));
        }
        if self.subjects.is_empty() {
            return Err(ConfigError("no --subject to consume".into()));
        }
        if subject_filters(&self.subjects)? != self.subjects {
            return Err(ConfigError(format!(
                "--subject {:?}: give each subject once, without spaces around it",
                self.subjects
            )));
        }
        for signal in Signal::ALL {
            check_url(&self.endpoint(signal).url, signal)?;
            for (name, value) in self.endpoint(signal).headers.iter() {
                reqwest::header::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| ConfigError(format!("{name:?} is not a valid HTTP header name")))?;
                reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                    ConfigError(format!("the value of header {name:?} is not a valid HTTP header value"))
                })?;
            }
        }
        Ok(())
    }
}

/// The consumer's filters from the `--subject` values: each one trimmed and checked (a
/// valid NATS subject: no empty token, no white space, a wildcard only as a whole token
/// and `>` only last; under `telemetry.>` and able to match a subject of the wire
/// contract), repeated ones merged, overlapping ones refused (nats-server refuses a
/// consumer whose filters overlap). None given: `telemetry.>`, everything.
pub fn subject_filters(given: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut filters: Vec<String> = Vec::new();
    for subject in given {
        let subject = subject.trim();
        check_subject(subject).map_err(|why| ConfigError(format!("--subject {subject:?} {why}")))?;
        if filters.iter().any(|f| f == subject) {
            continue;
        }
        if let Some(other) = filters.iter().find(|f| subjects_overlap(f, subject)) {
            return Err(ConfigError(format!(
                "--subject {subject:?} overlaps --subject {other:?} (a subject would match both); keep the wider one"
            )));
        }
        filters.push(subject.to_owned());
    }
    if filters.is_empty() {
        filters.push(STREAM_SUBJECTS.into());
    }
    Ok(filters)
}

/// Why `subject` cannot filter TELEMETRY, if it cannot.
fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("is empty".into());
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds white space or a control character".into());
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return Err("has an empty token (two dots in a row, or a dot at an end)".into());
        }
        if token.len() > 1 && token.contains(['*', '>']) {
            return Err(format!("has {token:?}: a wildcard (* or >) must be a whole token"));
        }
        if *token == ">" && i + 1 != tokens.len() {
            return Err("has > before its last token".into());
        }
    }
    let under = format!("is not under {STREAM_SUBJECTS} (the subjects of the TELEMETRY stream)");
    if tokens[0] != ROOT || tokens.len() < 2 {
        return Err(under);
    }
    let kind = SubjectKind::ALL.into_iter().find(|k| k.token() == tokens[1]);
    if kind.is_none() && !matches!(tokens[1], "*" | ">") {
        return Err(format!(
            "matches no TELEMETRY subject: the second token is spans, logs or metrics (or a wildcard), not {:?}",
            tokens[1]
        ));
    }
    // Spans are telemetry.spans.{service}.{run_id}, logs telemetry.logs.{service}.{level},
    // metrics telemetry.metrics.{service}.{name, with its dots}.
    let exact = matches!(kind, Some(SubjectKind::Spans | SubjectKind::Logs));
    if tokens[tokens.len() - 1] != ">" && (tokens.len() < 4 || exact && tokens.len() != 4) {
        return Err("matches no TELEMETRY subject (telemetry.spans.{service}.{run_id}, telemetry.logs.{service}.{level}, telemetry.metrics.{service}.{name}); end it with .> to take everything below it".into());
    }
    Ok(())
}

/// Whether a subject could match both filters `a` and `b` (valid subjects).
pub fn subjects_overlap(a: &str, b: &str) -> bool {
    fn overlap(a: &[&str], b: &[&str]) -> bool {
        match (a.split_first(), b.split_first()) {
            (None, None) => true,
            // `>` matches one token or more, and the other has one at least.
            (Some((&">", _)), Some(_)) | (Some(_), Some((&">", _))) => true,
            (Some((x, a)), Some((y, b))) => (*x == "*" || *y == "*" || x == y) && overlap(a, b),
            _ => false,
        }
    }
    overlap(&a.split('.').collect::<Vec<_>>(), &b.split('.').collect::<Vec<_>>())
}

/// The protocol of `signal`: the `--protocol` flag, else
/// `OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`, else
/// http/protobuf. A variable naming a protocol this bridge does not speak is ignored (as
/// if unset, as the OpenTelemetry environment specification says) with a warning, which
/// is returned for the caller to log.
pub fn resolve_protocol(
    flag: Option<Protocol>,
    signal: Signal,
    env: impl Fn(&str) -> Option<String>,
) -> (Protocol, Vec<String>) {
    let mut warnings = Vec::new();
    if let Some(p) = flag {
        return (p, warnings);
    }
    for var in [format!("OTEL_EXPORTER_OTLP_{}_PROTOCOL", signal.env_word()), "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned()]
    {
        let Some(value) = env(&var).filter(|v| !v.trim().is_empty()) else { continue };
        match value.trim() {
            "grpc" => return (Protocol::Grpc, warnings),
            "http/protobuf" => return (Protocol::HttpProtobuf, warnings),
            other => {
                let shown: String = other.chars().take(40).collect();
                warnings.push(format!(
                    "{var}={shown:?} is not supported (grpc or http/protobuf); ignored for {}",
                    signal.as_str()
                ));
            }
        }
    }
    (Protocol::HttpProtobuf, warnings)
}

/// Warnings in order, each once.
#[derive(Default)]
struct Warnings(Vec<String>);

impl Warnings {
    fn push(&mut self, warning: String) {
        if !self.0.contains(&warning) {
            self.0.push(warning);
        }
    }
}

impl Extend<String> for Warnings {
    fn extend<I: IntoIterator<Item = String>>(&mut self, iter: I) {
        for w in iter {
            self.push(w);
        }
    }
}

/// At most 40 characters of a value quoted in a warning.
fn shorten(value: &str) -> String {
    value.chars().take(40).collect()
}

/// The value of the first `(variable, value)` source that is set and that `parse`
/// accepts; each set value it refuses is warned about and skipped.
fn first_usable<T, const N: usize>(
    sources: [(String, Option<String>); N],
    warnings: &mut Warnings,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    for (var, value) in sources {
        let Some(value) = value else { continue };
        match parse(&value) {
            Ok(v) => return Some(v),
            Err(why) => warnings.push(format!("{var}={why}; ignored")),
        }
    }
    None
}

/// `url` (from the variable `var`) when it is an http(s) URL; else a warning naming the
/// variable only (the URL may hold credentials) and `None`.
fn usable_url(url: Option<String>, var: &str, warnings: &mut Warnings) -> Option<String> {
    let url = url?.trim().to_owned();
    match reqwest::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(url),
        _ => {
            warnings.push(format!("{var} is not an http:// or https:// URL; ignored"));
            None
        }
    }
}

/// The header list of variable `var`, its unusable entries skipped with a warning.
fn env_headers(env: impl Fn(&str) -> Option<String>, var: &str, warnings: &mut Warnings) -> Vec<(String, String)> {
    let Some(list) = env(var) else { return Vec::new() };
    let (headers, header_warnings) = parse_header_list(&list, var);
    warnings.extend(header_warnings);
    headers
}

fn check_url(url: &str, signal: Signal) -> Result<(), ConfigError> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        // The URL may hold credentials; name only the signal and the problem.
        Ok(_) => Err(ConfigError(format!("the {} endpoint must be an http:// or https:// URL", signal.as_str()))),
        Err(e) => Err(ConfigError(format!("the {} endpoint is not a valid URL: {e}", signal.as_str()))),
    }
}

/// One `--header key=value`.
fn parse_header_flag(h: &str) -> Result<(String, String), ConfigError> {
    match h.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => Err(ConfigError(format!("--header {:?} is not KEY=VALUE", h.split('=').next().unwrap_or_default()))),
    }
}

/// An `OTEL_EXPORTER_OTLP_*HEADERS` value: the W3C Baggage list format without
/// properties, `k1=v1,k2=v2`, keys and values percent-decoded, spaces around trimmed.
/// Returns the usable headers and one warning per entry skipped (not `key=value`, not
/// UTF-8 once decoded, or not a valid HTTP header name or value), which names the
/// variable and the entry's position, never its text (it may be a secret).
pub fn parse_header_list(list: &str, var: &str) -> (Vec<(String, String)>, Vec<String>) {
    let decode = |s: &str| percent_encoding::percent_decode_str(s.trim()).decode_utf8().map(|c| c.into_owned());
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, member) in list.split(',').enumerate() {
        if member.trim().is_empty() {
            continue;
        }
        let skip = |why: &str| format!("{var}: entry {} {why}; skipped", i + 1);
        let Some((k, v)) = member.split_once('=') else {
            warnings.push(skip("is not key=value"));
            continue;
        };
        let (Ok(k), Ok(v)) = (decode(k), decode(v)) else {
            warnings.push(skip("is not valid percent-encoded UTF-8"));
            continue;
        };
        if k.is_empty() {
            warnings.push(skip("has an empty key"));
        } else if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err() {
            warnings.push(skip("is not a valid HTTP header name"));
        } else if reqwest::header::HeaderValue::from_str(&v).is_err() {
            warnings.push(skip("has a value that is not a valid HTTP header value"));
        } else {
            out.push((k, v));
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use std::collections::HashMap;

    fn resolve(flags: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let argv = ["dagnats", "otlp-bridge"].iter().chain(flags).copied().collect::<Vec<_>>();
        let Command::OtlpBridge(args) = Cli::try_parse_from(argv).unwrap().command else { unreachable!() };
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_args(&args, |k| env.get(k).cloned())
    }

    fn urls(c: &Config) -> Vec<&str> {
        c.endpoints.iter().map(|e| e.url.as_str()).collect()
    }

    #[test]
    fn defaults() {
        let c = resolve(&[], &[]).unwrap();
        assert_eq!(
            urls(&c),
            ["http://localhost:4318/v1/traces", "http://localhost:4318/v1/logs", "http://localhost:4318/v1/metrics"]
        );
        assert_eq!(c.endpoints[0].compression, Compression::Gzip);
        assert_eq!(c.endpoints[0].timeout, Duration::from_secs(10));
        assert_eq!((c.batch_size, c.max_deliver, c.consumer.as_str()), (512, 4, "otlp-bridge"));
        assert_eq!((c.flush_interval, c.ack_wait), (Duration::from_secs(5), Duration::from_secs(30)));
        assert_eq!(c.service_name, "dagnats");
        assert_eq!(c.shutdown_grace, Duration::from_secs(5));
        assert!(c.resource_attributes.is_empty() && c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn the_base_endpoint_gets_signal_paths_and_per_signal_endpoints_are_used_as_given() {
        let c = resolve(
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example:4318/prefix/"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs.example/custom"),
            ],
        )
        .unwrap();
        assert_eq!(
            urls(&c),
            [
                "https://otel.example:4318/prefix/v1/traces",
                "http://logs.example/custom",
                "https://otel.example:4318/prefix/v1/metrics"
            ]
        );
    }

    #[test]
    fn flags_beat_the_environment() {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env-traces/x"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ];
        let c =
            resolve(&["--endpoint=http://flag:4318", "--metrics-endpoint=http://m/only", "--no-gzip"], &env).unwrap();
        assert_eq!(urls(&c), ["http://flag:4318/v1/traces", "http://flag:4318/v1/logs", "http://m/only"]);
        assert_eq!(c.endpoints[1].compression, Compression::None);
        assert_eq!(c.endpoints[1].timeout, Duration::from_millis(2500));
        let c = resolve(&["--timeout=3s", "--compression=none"], &env).unwrap();
        assert_eq!(c.endpoints[0].url, "http://env-traces/x");
        assert_eq!((c.endpoints[0].timeout, c.endpoints[0].compression), (Duration::from_secs(3), Compression::None));
    }

    #[test]
    fn headers_merge_general_then_signal_then_flags() {
        let c = resolve(
            &["--header", "x-flag=1", "--header", "Authorization=Bearer from-flag"],
            &[
                ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Basic%20abc%3D%3D, tenant = t1"),
                ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "tenant=metrics-tenant"),
            ],
        )
        .unwrap();
        let traces: Vec<_> = c.endpoints[0].headers.iter().collect();
        assert_eq!(traces, [("tenant", "t1"), ("x-flag", "1"), ("Authorization", "Bearer from-flag")]);
        let metrics: Vec<_> = c.endpoints[2].headers.iter().collect();
        assert_eq!(metrics, [("tenant", "metrics-tenant"), ("x-flag", "1"), ("Authorization", "Bearer from-flag")]);
        let only_env = resolve(&[], &[("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Basic%20abc%3D%3D")]).unwrap();
        assert_eq!(only_env.endpoints[1].headers.iter().collect::<Vec<_>>(), [("authorization", "Basic abc==")]);
        assert!(!format!("{c:?}").contains("from-flag"));
        assert!(!format!("{only_env:?}").contains("abc"));
    }

    #[test]
    fn bad_flags_are_errors_without_secrets() {
        assert!(resolve(&[], &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).is_ok(), "warned about, not an error");
        assert!(resolve(&["--endpoint=ftp://x"], &[]).is_err());
        assert!(resolve(&["--nats-token=t", "--nats-user=u"], &[]).is_err());
        assert!(resolve(&["--header=bad name=1"], &[]).is_err());
        assert!(resolve(&["--ack-wait=0s"], &[]).is_err());
        let e = resolve(&["--header=Authorization"], &[]).unwrap_err();
        assert!(e.0.contains("not KEY=VALUE"), "{e}");
        assert!(resolve(&["--no-gzip", "--compression=gzip"], &[]).is_err());
        assert_eq!(
            resolve(&["--no-gzip", "--compression=none"], &[]).unwrap().endpoints[0].compression,
            Compression::None
        );
        let argv = ["dagnats", "otlp-bridge", "--compression=zstd"];
        assert!(Cli::try_parse_from(argv).is_err());
        assert!(Cli::try_parse_from(["dagnats", "otlp-bridge", "--shutdown-grace=soon"]).is_err());
    }

    #[test]
    fn a_bad_header_entry_in_the_environment_is_skipped_with_a_warning_naming_its_place() {
        let c = resolve(
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_HEADERS", "ok=1,secret-without-equals,bad name=secret-value,x-ok=a%2Cb"),
                ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "tenant=t,=secret-empty-key"),
            ],
        )
        .unwrap();
        assert_eq!(c.endpoints[0].headers.iter().collect::<Vec<_>>(), [("ok", "1"), ("x-ok", "a,b")]);
        assert_eq!(c.endpoints[1].headers.iter().collect::<Vec<_>>(), [("ok", "1"), ("x-ok", "a,b"), ("tenant", "t")]);
        assert_eq!(c.warnings.len(), 3, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("OTEL_EXPORTER_OTLP_HEADERS: entry 2"), "{:?}", c.warnings);
        assert!(c.warnings[1].contains("OTEL_EXPORTER_OTLP_HEADERS: entry 3"), "{:?}", c.warnings);
        assert!(c.warnings[2].contains("OTEL_EXPORTER_OTLP_LOGS_HEADERS: entry 2"), "{:?}", c.warnings);
        assert!(c.warnings.iter().all(|w| !w.contains("secret")), "{:?}", c.warnings);
    }

    #[test]
    fn bad_otel_values_are_warned_about_and_the_next_source_used() {
        let c = resolve(
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
                ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0"),
                ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "1500"),
            ],
        )
        .unwrap();
        // Traces: their own variable is unusable, the general one applies.
        assert_eq!(c.endpoints.iter().map(|e| e.compression).collect::<Vec<_>>(), [Compression::None; 3]);
        // Timeouts: the general variable is unusable, so the default applies where no
        // usable per-signal value exists.
        assert_eq!(
            c.endpoints.iter().map(|e| e.timeout).collect::<Vec<_>>(),
            [DEFAULT_TIMEOUT, Duration::from_millis(1500), DEFAULT_TIMEOUT]
        );
        let has = |needle: &str| c.warnings.iter().any(|w| w.contains(needle));
        assert!(has("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=\"zstd\""), "{:?}", c.warnings);
        assert!(has("OTEL_EXPORTER_OTLP_TIMEOUT=\"10s\""), "{:?}", c.warnings);
        assert!(has("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT=\"0\""), "{:?}", c.warnings);
        // The general timeout is warned about once, not once per signal.
        assert_eq!(
            c.warnings.iter().filter(|w| w.contains("OTEL_EXPORTER_OTLP_TIMEOUT=")).count(),
            1,
            "{:?}",
            c.warnings
        );
        // A flag makes the variables irrelevant: nothing to warn about.
        let c =
            resolve(&["--compression=gzip", "--timeout=2s"], &[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")]).unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn an_unusable_endpoint_variable_falls_back_without_showing_it() {
        let c = resolve(
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://user:s3cret@traces/"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "https://logs.example/v1/logs"),
            ],
        )
        .unwrap();
        assert_eq!(
            urls(&c),
            ["http://localhost:4318/v1/traces", "https://logs.example/v1/logs", "http://localhost:4318/v1/metrics"]
        );
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings.iter().all(|w| !w.contains("s3cret") && !w.contains("collector")), "{:?}", c.warnings);
        assert!(c.warnings[0].starts_with("OTEL_EXPORTER_OTLP_ENDPOINT "), "{:?}", c.warnings);
        assert!(c.warnings[1].starts_with("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT "), "{:?}", c.warnings);
    }

    #[test]
    fn service_name_comes_from_the_flag_then_otel_service_name_then_the_resource_attributes() {
        let attrs =
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs, deployment.environment=prod,team=a%20b,oops");
        let c = resolve(&[], &[attrs]).unwrap();
        assert_eq!(c.service_name, "from-attrs");
        assert_eq!(
            c.resource_attributes,
            [("deployment.environment".to_owned(), "prod".to_owned()), ("team".to_owned(), "a b".to_owned())]
        );
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("OTEL_RESOURCE_ATTRIBUTES"), "{:?}", c.warnings);
        let c = resolve(&[], &[attrs, ("OTEL_SERVICE_NAME", " from-env ")]).unwrap();
        assert_eq!(c.service_name, "from-env");
        let c = resolve(&["--service-name=from-flag"], &[attrs, ("OTEL_SERVICE_NAME", "from-env")]).unwrap();
        assert_eq!(c.service_name, "from-flag");
        assert!(c.resource_attributes.iter().all(|(k, _)| k != "service.name"));
        assert_eq!(resolve(&[], &[("OTEL_SERVICE_NAME", "  ")]).unwrap().service_name, "dagnats");
    }

    #[test]
    fn the_shutdown_grace_is_a_flag() {
        assert_eq!(resolve(&["--shutdown-grace=20s"], &[]).unwrap().shutdown_grace, Duration::from_secs(20));
        assert_eq!(resolve(&["--shutdown-grace=0s"], &[]).unwrap().shutdown_grace, Duration::ZERO);
    }

    fn protocols(c: &Config) -> Vec<Protocol> {
        c.endpoints.iter().map(|e| e.protocol).collect()
    }

    #[test]
    fn protocol_flag_beats_signal_variable_beats_general_variable_beats_http() {
        use Protocol::{Grpc, HttpProtobuf as Http};
        assert_eq!(protocols(&resolve(&[], &[]).unwrap()), [Http, Http, Http]);
        let general = [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
        assert_eq!(protocols(&resolve(&[], &general).unwrap()), [Grpc, Grpc, Grpc]);
        let mixed = [("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf")];
        assert_eq!(protocols(&resolve(&[], &mixed).unwrap()), [Grpc, Http, Grpc]);
        let signal_only = [("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")];
        assert_eq!(protocols(&resolve(&[], &signal_only).unwrap()), [Http, Http, Grpc]);
        assert_eq!(protocols(&resolve(&["--protocol=http/protobuf"], &mixed).unwrap()), [Http, Http, Http]);
        assert_eq!(protocols(&resolve(&["--protocol", "grpc"], &mixed).unwrap()), [Grpc, Grpc, Grpc]);
        // A bad flag is clap's error; a bad variable is not an error at all.
        let argv = ["dagnats", "otlp-bridge", "--protocol=http/json"];
        assert!(Cli::try_parse_from(argv).is_err());
        assert!(Cli::try_parse_from(["dagnats", "otlp-bridge", "--protocol=udp"]).is_err());
    }

    #[test]
    fn an_unsupported_protocol_variable_is_warned_about_and_ignored() {
        let env: HashMap<&str, &str> =
            [("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")].into();
        let lookup = |k: &str| env.get(k).map(|v| v.to_string());
        // Ignored as if unset: the general variable applies.
        let (p, warnings) = resolve_protocol(None, Signal::Spans, lookup);
        assert_eq!(p, Protocol::Grpc);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") && warnings[0].contains("http/json"),
            "{warnings:?}"
        );
        let (p, warnings) = resolve_protocol(None, Signal::Logs, lookup);
        assert_eq!((p, warnings.len()), (Protocol::Grpc, 0));
        // Nothing usable: the default.
        let (p, warnings) = resolve_protocol(None, Signal::Metrics, |k: &str| {
            (k == "OTEL_EXPORTER_OTLP_PROTOCOL").then(|| "carrier-pigeon".to_string())
        });
        assert_eq!((p, warnings.len()), (Protocol::HttpProtobuf, 1));
        // The flag is not second-guessed.
        assert_eq!(
            resolve_protocol(Some(Protocol::HttpProtobuf), Signal::Spans, lookup),
            (Protocol::HttpProtobuf, vec![])
        );
        let c = resolve(&[], &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).unwrap();
        assert_eq!(protocols(&c), [Protocol::HttpProtobuf; 3]);
        assert_eq!(c.endpoints[0].url, "http://localhost:4318/v1/traces");
    }

    #[test]
    fn grpc_endpoints_get_no_signal_paths() {
        let c = resolve(&["--protocol=grpc"], &[]).unwrap();
        assert_eq!(urls(&c), ["http://localhost:4317"; 3]);
        let c = resolve(
            &[],
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example:4317"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "https://logs.example:4317"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
            ],
        )
        .unwrap();
        assert_eq!(
            urls(&c),
            ["https://otel.example:4317", "https://logs.example:4317", "https://otel.example:4317/v1/metrics"]
        );
        let c = resolve(&["--protocol=grpc", "--endpoint=http://flag:4317", "--traces-endpoint=http://t:4317"], &[])
            .unwrap();
        assert_eq!(urls(&c), ["http://t:4317", "http://flag:4317", "http://flag:4317"]);
    }

    #[test]
    fn endpoint_credentials_are_redacted() {
        let c = resolve(&["--endpoint=https://user:s3cret@otel.example:4318/base?api_key=k3y"], &[]).unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("s3cret") && !s.contains("k3y") && !s.contains("user"), "{s}");
        assert_eq!(c.endpoints[0].url, "https://user:s3cret@otel.example:4318/base/v1/traces?api_key=k3y");
        assert_eq!(redact_url(&c.endpoints[0].url), "https://***@otel.example:4318/base/v1/traces?***");
        assert_eq!(redact_url("http://h:4318/v1/logs?x=1"), "http://h:4318/v1/logs?***");
    }

    #[test]
    fn nats_credentials_are_redacted() {
        let c = resolve(&["--nats-user=bridge", "--nats-password=hunter2"], &[]).unwrap();
        assert!(matches!(c.nats.validate().unwrap().auth, dagnats_observe::nats::NatsAuth::UserPassword { .. }));
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && s.contains("bridge"), "{s}");
    }

    #[test]
    fn subjects_default_to_everything_and_repeat() {
        assert_eq!(resolve(&[], &[]).unwrap().subjects, ["telemetry.>"]);
        assert_eq!(Config::new("nats://h", "http://h").subjects, ["telemetry.>"]);
        let c = resolve(&["--subject", "telemetry.spans.py-worker.>", "--subject= telemetry.logs.> "], &[]).unwrap();
        assert_eq!(c.subjects, ["telemetry.spans.py-worker.>", "telemetry.logs.>"]);
        // The variable's comma-separated form, as clap splits it.
        let c = resolve(&["--subject=telemetry.spans.py-worker.>, telemetry.spans.node-worker.>"], &[]).unwrap();
        assert_eq!(c.subjects, ["telemetry.spans.py-worker.>", "telemetry.spans.node-worker.>"]);
        // Repeated: merged.
        let c = resolve(&["--subject=telemetry.logs.>", "--subject=telemetry.logs.>"], &[]).unwrap();
        assert_eq!(c.subjects, ["telemetry.logs.>"]);
        for ok in [
            "telemetry.>",
            "telemetry.*.py-worker.>",
            "telemetry.spans.*.r-42",
            "telemetry.logs.engine.error",
            "telemetry.metrics.engine.dagnats.tasks.completed",
            "telemetry.metrics.*.dagnats.>",
        ] {
            assert_eq!(subject_filters(&[ok.to_owned()]), Ok(vec![ok.to_owned()]), "{ok}");
        }
    }

    #[test]
    fn a_subject_that_is_invalid_or_outside_telemetry_is_refused_with_the_reason() {
        let refused = |subjects: &[&str], why: &str| {
            let flags: Vec<String> = subjects.iter().map(|s| format!("--subject={s}")).collect();
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            let e = resolve(&flags, &[]).expect_err(why);
            assert!(e.0.starts_with("--subject "), "{e}");
            assert!(e.0.contains(why), "{subjects:?}: {e}");
        };
        refused(&[""], "is empty");
        refused(&["telemetry.spans."], "empty token");
        refused(&["telemetry..spans.>"], "empty token");
        refused(&[".telemetry.>"], "empty token");
        refused(&["telemetry.spans.py worker.>"], "white space");
        refused(&["telemetry.spans.py\tworker.>"], "white space");
        refused(&["telemetry.>.spans"], "> before its last token");
        refused(&["telemetry.spans.py-*.>"], "must be a whole token");
        refused(&["telemetry.spans.a>"], "must be a whole token");
        refused(&["other.>"], "is not under telemetry.>");
        refused(&[">"], "is not under telemetry.>");
        refused(&["*.spans.>"], "is not under telemetry.>");
        refused(&["telemetry"], "is not under telemetry.>");
        refused(&["telemetry.span.>"], "second token is spans, logs or metrics");
        refused(&["telemetry.spans.py-worker"], "end it with .>");
        refused(&["telemetry.spans"], "end it with .>");
        refused(&["telemetry.logs.engine.error.x"], "matches no TELEMETRY subject");
        refused(&["telemetry.>", "telemetry.logs.>"], "overlaps --subject \"telemetry.>\"");
        refused(&["telemetry.spans.*.r-1", "telemetry.spans.py-worker.>"], "overlaps");
        refused(&["telemetry.*.engine.>", "telemetry.logs.>"], "overlaps");
        // A Config built by a program is checked as well.
        let mut c = Config::new("nats://h", "http://h");
        c.subjects = vec!["telemetry.logs.>".into(), "telemetry.logs.>".into()];
        assert!(c.validate().is_err());
        c.subjects = Vec::new();
        assert!(c.validate().is_err());
        c.subjects = vec!["telemetry.logs".into()];
        assert!(c.validate().is_err());
    }

    #[test]
    fn overlapping_filters_are_told_apart_from_disjoint_ones() {
        for (a, b) in [
            ("telemetry.>", "telemetry.spans.x.y"),
            ("telemetry.spans.*.r", "telemetry.spans.x.>"),
            ("telemetry.*.x.y", "telemetry.logs.*.y"),
            ("telemetry.spans.x.y", "telemetry.spans.x.y"),
        ] {
            assert!(subjects_overlap(a, b) && subjects_overlap(b, a), "{a} {b}");
        }
        for (a, b) in [
            ("telemetry.spans.>", "telemetry.logs.>"),
            ("telemetry.spans.x.>", "telemetry.spans.x"),
            ("telemetry.spans.*.r", "telemetry.spans.x.s"),
            ("telemetry.metrics.x.a", "telemetry.metrics.x.a.b"),
        ] {
            assert!(!subjects_overlap(a, b) && !subjects_overlap(b, a), "{a} {b}");
        }
    }
}
