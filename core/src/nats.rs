//! How to reach NATS: server URLs, credentials and TLS, shared by the collector and the
//! bridge. Secrets never appear in `Debug` output or error messages.
//!
//! ```
//! use dagnats_observe::nats::{NatsAuth, NatsOptions};
//!
//! let opts = NatsOptions::new("nats://127.0.0.1:4222")
//!     .auth(NatsAuth::UserPassword { user: "worker".into(), password: "s3cret".into() });
//! assert!(!format!("{opts:?}").contains("s3cret"));
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::ConnectErrorKind;

use crate::error::{Error, Result};

/// The default server when neither an option nor `NATS_URL` says otherwise.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// How to authenticate.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum NatsAuth {
    /// No credentials (or credentials inside the URL).
    #[default]
    None,
    /// User and password.
    UserPassword {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// An authentication token.
    Token(String),
    /// An NKey seed (`SU...`).
    NKey(String),
    /// A `.creds` file holding a user JWT and its NKey seed.
    CredentialsFile(PathBuf),
}

impl fmt::Debug for NatsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NatsAuth::None => f.write_str("None"),
            NatsAuth::UserPassword { user, .. } => write!(f, "UserPassword {{ user: {user:?}, password: \"***\" }}"),
            NatsAuth::Token(_) => f.write_str("Token(\"***\")"),
            NatsAuth::NKey(_) => f.write_str("NKey(\"***\")"),
            NatsAuth::CredentialsFile(p) => write!(f, "CredentialsFile({p:?})"),
        }
    }
}

/// TLS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Require TLS even when the URL scheme is `nats://`.
    pub required: bool,
    /// PEM file with the CA certificates to trust.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for mutual TLS (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
}

/// Where and how to connect.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsOptions {
    /// One URL or several separated by commas.
    pub url: String,
    /// Credentials.
    pub auth: NatsAuth,
    /// TLS.
    pub tls: TlsOptions,
    /// Connection name shown by the server's monitoring.
    pub name: Option<String>,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
}

impl Default for NatsOptions {
    fn default() -> Self {
        NatsOptions {
            url: DEFAULT_NATS_URL.to_owned(),
            auth: NatsAuth::None,
            tls: TlsOptions::default(),
            name: None,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsOptions")
            .field("url", &redact_url(&self.url))
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("name", &self.name)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A URL, or a comma-separated list of them, fit for logs: any `user:password@` or
/// `token@` part becomes `***@` and any query `?***`, since both may hold secrets. Used
/// for NATS server lists and OTLP endpoints alike; it parses nothing, so a malformed
/// URL is redacted too.
pub fn redact_url(url: &str) -> String {
    url.split(',').map(redact_one_url).collect::<Vec<_>>().join(",")
}

fn redact_one_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, _)) => (base, "?***"),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    match base[authority_start..authority_end].rfind('@') {
        Some(at) => format!("{}***{}{query}", &base[..authority_start], &base[authority_start + at..]),
        None => format!("{base}{query}"),
    }
}

/// Whether a failed first connection should be retried in the background.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialConnect {
    /// Fail when the server cannot be reached.
    FailFast,
    /// When the server is unreachable (refused, timed out, DNS), return a client that
    /// keeps reconnecting; fail only on errors that retrying cannot fix (credentials, TLS).
    RetryInBackground,
}

impl NatsOptions {
    /// Options for `url` with defaults for everything else.
    pub fn new(url: impl Into<String>) -> Self {
        NatsOptions { url: url.into(), ..Default::default() }
    }

    /// `NATS_URL`, or the default server.
    pub fn from_env() -> Self {
        NatsOptions::new(
            std::env::var("NATS_URL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_NATS_URL.into()),
        )
    }

    /// Sets the credentials.
    pub fn auth(mut self, auth: NatsAuth) -> Self {
        self.auth = auth;
        self
    }

    async fn connect_options(&self, retry: bool) -> Result<async_nats::ConnectOptions> {
        let mut o =
            async_nats::ConnectOptions::new().connection_timeout(self.connect_timeout).max_reconnects(None::<usize>);
        if let Some(name) = &self.name {
            o = o.name(name);
        }
        o = match &self.auth {
            NatsAuth::None => o,
            NatsAuth::UserPassword { user, password } => o.user_and_password(user.clone(), password.clone()),
            NatsAuth::Token(t) => o.token(t.clone()),
            NatsAuth::NKey(seed) => o.nkey(seed.clone()),
            NatsAuth::CredentialsFile(path) => o
                .credentials_file(path)
                .await
                .map_err(|e| Error::Config(format!("cannot read credentials file {}: {}", path.display(), e.kind())))?,
        };
        if self.tls.required {
            o = o.require_tls(true);
        }
        if let Some(ca) = &self.tls.ca_file {
            o = o.add_root_certificates(ca.clone());
        }
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(cert), Some(key)) => o = o.add_client_certificate(cert.clone(), key.clone()),
            (None, None) => {}
            _ => return Err(Error::Config("a TLS client certificate needs both cert_file and key_file".into())),
        }
        if retry {
            o = o.retry_on_initial_connect();
        }
        Ok(o)
    }

    /// Connects. Must run inside a Tokio runtime.
    pub async fn connect(&self, initial: InitialConnect) -> Result<async_nats::Client> {
        let first = self.connect_with(self.connect_options(false).await?).await;
        match first {
            Ok(client) => Ok(client),
            Err(e) => {
                // An I/O failure may be a server that is down (retry) or one that answered
                // and then refused us, e.g. TLS required but not offered (report it). A TCP
                // probe tells the two apart.
                let io_kind =
                    matches!(e.kind(), ConnectErrorKind::Io | ConnectErrorKind::TimedOut | ConnectErrorKind::Dns);
                let unreachable = io_kind && !self.any_server_accepts_tcp().await;
                if unreachable && initial == InitialConnect::RetryInBackground {
                    tracing::warn!(url = %redact_url(&self.url), "NATS unreachable; reconnecting in the background");
                    self.connect_with(self.connect_options(true).await?)
                        .await
                        .map_err(|e| Error::Connect(describe(&e, &self.url, false)))
                } else {
                    Err(Error::Connect(describe(&e, &self.url, io_kind && !unreachable)))
                }
            }
        }
    }
}

impl NatsOptions {
    /// The servers of the URL list, when every part parses. async-nats reads a string as
    /// one URL, so a list is split here.
    fn servers(&self) -> Option<Vec<async_nats::ServerAddr>> {
        let addrs = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| u.parse::<async_nats::ServerAddr>().ok())
            .collect::<Option<Vec<_>>>()?;
        (!addrs.is_empty()).then_some(addrs)
    }

    /// Connects to every server of the URL list; a list with a part that does not parse
    /// is handed over whole, so that async-nats reports the invalid URL.
    async fn connect_with(
        &self,
        options: async_nats::ConnectOptions,
    ) -> std::result::Result<async_nats::Client, async_nats::ConnectError> {
        match self.servers() {
            Some(addrs) => options.connect(addrs).await,
            None => options.connect(self.url.as_str()).await,
        }
    }

    /// Whether any server of the URL list accepts a TCP connection right now.
    async fn any_server_accepts_tcp(&self) -> bool {
        for addr in self.url.split(',').filter_map(host_port) {
            let probe = tokio::time::timeout(self.connect_timeout, tokio::net::TcpStream::connect(addr.as_str())).await;
            if matches!(probe, Ok(Ok(_))) {
                return true;
            }
        }
        false
    }
}

/// `host:port` of one server URL (`nats://user:pass@host:4222`, `tls://host`, `host`).
fn host_port(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host_port = rest.split(['/', '?']).next()?;
    if host_port.is_empty() {
        return None;
    }
    let has_port = match host_port.rfind(']') {
        Some(close) => host_port[close..].contains(':'),
        None => host_port.contains(':'),
    };
    Some(if has_port { host_port.to_owned() } else { format!("{host_port}:4222") })
}

/// A connect error's cause in words, with the URL's secrets removed.
fn describe(e: &async_nats::ConnectError, url: &str, reachable: bool) -> String {
    let cause = match e.kind() {
        ConnectErrorKind::Io | ConnectErrorKind::TimedOut if reachable => {
            "the server answered but the connection failed (TLS required on one side only, an untrusted certificate, or not a NATS server)"
        }
        ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
            "authentication failed (check user/password, token, NKey or credentials file)"
        }
        ConnectErrorKind::Tls => "TLS handshake or certificate failure",
        ConnectErrorKind::ServerParse => "invalid server URL",
        ConnectErrorKind::Dns => "server name not found",
        ConnectErrorKind::TimedOut => "connection timed out",
        ConnectErrorKind::Io => "server unreachable",
        ConnectErrorKind::MaxReconnects => "gave up reconnecting",
    };
    // The source chain names the real cause (a certificate error, say); these are I/O,
    // TLS and server messages, which never contain our credentials.
    let mut detail = e.kind().to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    format!("{cause} ({}): {detail}", redact_url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(redact_url("nats://u:p@h:4222"), "nats://***@h:4222");
        assert_eq!(redact_url("nats://tok@h,nats://h2"), "nats://***@h,nats://h2");
        assert_eq!(redact_url("nats://h:4222"), "nats://h:4222");
        assert_eq!(redact_url("tok@h:4222"), "***@h:4222");
        assert_eq!(
            redact_url("https://u:p@otel.example:4318/v1/traces?k=v"),
            "https://***@otel.example:4318/v1/traces?***"
        );
        assert_eq!(redact_url("http://h:4318/v1/logs?mail=a@b"), "http://h:4318/v1/logs?***");
        assert_eq!(redact_url("http://h/p@th"), "http://h/p@th", "an @ in the path is no credential");
    }

    #[test]
    fn host_port_of_server_urls() {
        assert_eq!(host_port("nats://u:p@h:4223").as_deref(), Some("h:4223"));
        assert_eq!(host_port("tls://h").as_deref(), Some("h:4222"));
        assert_eq!(host_port(" 127.0.0.1 ").as_deref(), Some("127.0.0.1:4222"));
        assert_eq!(host_port("nats://[::1]:4222").as_deref(), Some("[::1]:4222"));
        assert_eq!(host_port("nats://"), None);
    }

    #[test]
    fn several_urls_are_several_servers() {
        let servers = |url: &str| NatsOptions::new(url).servers().map(|a| a.len());
        assert_eq!(servers("nats://127.0.0.1:4222"), Some(1));
        assert_eq!(servers("nats://127.0.0.1:4222, nats://127.0.0.1:4223,nats://u:p@h:4224"), Some(3));
        assert_eq!(servers("nats://127.0.0.1:4222,nats://h:notaport"), None, "reported by async-nats as invalid");
    }

    #[test]
    fn debug_hides_every_secret() {
        for auth in [NatsAuth::Token("tkn-123".into()), NatsAuth::NKey("SUAB-seed".into())] {
            let s = format!("{:?}", NatsOptions::new("nats://x:pw-9@h").auth(auth));
            assert!(!s.contains("tkn-123") && !s.contains("SUAB-seed") && !s.contains("pw-9"), "{s}");
        }
    }
}
