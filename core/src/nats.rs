//! How to reach NATS: server URLs, credentials and TLS, shared by the collector and the
//! bridge. Secrets never appear in `Debug` output or error messages.
//!
//! ```
//! use dagnats_observe::nats::{NatsAuth, NatsOptions, NatsOptionsErrorKind};
//!
//! let opts = NatsOptions::new("nats://127.0.0.1:4222")
//!     .auth(NatsAuth::UserPassword { user: "worker".into(), password: "s3cret".into() });
//! assert!(!format!("{opts:?}").contains("s3cret"));
//! assert!(opts.validate().is_ok());
//!
//! let mut two = opts.clone();
//! two.token = Some("tok".into());
//! let e = two.validate().unwrap_err();
//! assert_eq!(e.kind(), NatsOptionsErrorKind::ConflictingCredentials);
//! assert!(e.to_string().starts_with("conflicting_credentials: user (NATS_USER) and token (NATS_TOKEN)"));
//! ```
//!
//! Every rule on these options lives in one place, [`NatsOptions::validate`]; the
//! environment variables are read by [`NatsOptions::from_env`] (the table is in the
//! crate's README). The Python, Node and C bindings and the bridge only pass values in
//! and translate [`NatsOptionsError`] into their own errors.

mod check;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::ConnectErrorKind;

use crate::error::{Error, Result};
pub use check::{
    connect_timeout_millis, connect_timeout_secs, env, parse_bool, NatsField, NatsOptionsError, NatsOptionsErrorKind,
    ValidNatsOptions, MAX_CONNECT_TIMEOUT,
};

/// The default server when neither an option nor `NATS_URL` says otherwise.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";

/// One kind of credentials: what [`NatsOptions::validate`] makes of the credential
/// options, and a shorthand to set them ([`NatsOptions::auth`]).
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

/// Where and how to connect, as the user gave it: nothing is judged until
/// [`validate`](NatsOptions::validate), which every connect runs first.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsOptions {
    /// One URL or several separated by commas.
    pub url: String,
    /// User name; needs `password`.
    pub user: Option<String>,
    /// Password; needs `user`.
    pub password: Option<String>,
    /// Authentication token.
    pub token: Option<String>,
    /// NKey seed (`SU...`).
    pub nkey: Option<String>,
    /// A `.creds` file holding a user JWT and its NKey seed.
    pub credentials_file: Option<PathBuf>,
    /// TLS.
    pub tls: TlsOptions,
    /// Connection name shown by the server's monitoring.
    pub name: Option<String>,
    /// How long one connection attempt may take: more than 0, at most
    /// [`MAX_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// A variable [`from_env_with`](NatsOptions::from_env_with) could not read, reported
    /// by `validate`.
    env_error: Option<NatsOptionsError>,
}

impl Default for NatsOptions {
    fn default() -> Self {
        NatsOptions {
            url: DEFAULT_NATS_URL.to_owned(),
            user: None,
            password: None,
            token: None,
            nkey: None,
            credentials_file: None,
            tls: TlsOptions::default(),
            name: None,
            connect_timeout: Duration::from_secs(5),
            env_error: None,
        }
    }
}

impl fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The credential options given, secrets as ***.
        let mut auth = Vec::new();
        if let Some(user) = &self.user {
            auth.push(format!("user={user:?}"));
        }
        for (name, given) in [("password", &self.password), ("token", &self.token), ("nkey", &self.nkey)] {
            if given.is_some() {
                auth.push(format!("{name}=***"));
            }
        }
        if let Some(path) = &self.credentials_file {
            auth.push(format!("credentials_file={path:?}"));
        }
        f.debug_struct("NatsOptions")
            .field("url", &redact_url(&self.url))
            .field("auth", &auth)
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

    /// Options from the process environment: every variable of [`env`] (`NATS_URL`,
    /// `NATS_CREDS`, `NATS_USER`, `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_NKEY`,
    /// `NATS_TLS_REQUIRED`, `NATS_CA`, `NATS_CERT`, `NATS_KEY`), defaults for the rest.
    /// See [`from_env_with`](Self::from_env_with); [`validate`](Self::validate) judges them.
    pub fn from_env() -> Self {
        NatsOptions::from_env_with(|k| std::env::var(k).ok())
    }

    /// Sets the credentials to one kind, clearing every other credential option.
    pub fn auth(mut self, auth: NatsAuth) -> Self {
        self.set_auth(auth);
        self
    }

    /// [`auth`](Self::auth) in place.
    pub fn set_auth(&mut self, auth: NatsAuth) {
        (self.user, self.password, self.token, self.nkey, self.credentials_file) = (None, None, None, None, None);
        match auth {
            NatsAuth::None => {}
            NatsAuth::UserPassword { user, password } => (self.user, self.password) = (Some(user), Some(password)),
            NatsAuth::Token(t) => self.token = Some(t),
            NatsAuth::NKey(seed) => self.nkey = Some(seed),
            NatsAuth::CredentialsFile(path) => self.credentials_file = Some(path),
        }
    }

    async fn connect_options(&self, valid: &ValidNatsOptions, retry: bool) -> Result<async_nats::ConnectOptions> {
        let mut o =
            async_nats::ConnectOptions::new().connection_timeout(self.connect_timeout).max_reconnects(None::<usize>);
        if let Some(name) = &self.name {
            o = o.name(name);
        }
        o = match &valid.auth {
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
        if let (Some(cert), Some(key)) = (&self.tls.cert_file, &self.tls.key_file) {
            o = o.add_client_certificate(cert.clone(), key.clone());
        }
        if retry {
            o = o.retry_on_initial_connect();
        }
        Ok(o)
    }

    /// Validates, then connects. Must run inside a Tokio runtime.
    pub async fn connect(&self, initial: InitialConnect) -> Result<async_nats::Client> {
        let valid = self.validate().map_err(Error::Options)?;
        let first = self.connect_with(&valid, self.connect_options(&valid, false).await?).await;
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
                    self.connect_with(&valid, self.connect_options(&valid, true).await?)
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
    /// Connects to every server of the validated URL list (async-nats reads one string
    /// as one URL, so the list is split by validation).
    async fn connect_with(
        &self,
        valid: &ValidNatsOptions,
        options: async_nats::ConnectOptions,
    ) -> std::result::Result<async_nats::Client, async_nats::ConnectError> {
        options.connect(valid.servers.as_slice()).await
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
        let servers = |url: &str| NatsOptions::new(url).validate().map(|v| v.servers.len()).ok();
        assert_eq!(servers("nats://127.0.0.1:4222"), Some(1));
        assert_eq!(servers("nats://127.0.0.1:4222, nats://127.0.0.1:4223,nats://u:p@h:4224"), Some(3));
        assert_eq!(servers("nats://127.0.0.1:4222,nats://h:notaport"), None, "an invalid URL");
    }

    #[test]
    fn debug_hides_every_secret() {
        for auth in [NatsAuth::Token("tkn-123".into()), NatsAuth::NKey("SUAB-seed".into())] {
            let s = format!("{:?}", NatsOptions::new("nats://x:pw-9@h").auth(auth));
            assert!(!s.contains("tkn-123") && !s.contains("SUAB-seed") && !s.contains("pw-9"), "{s}");
        }
    }
}
