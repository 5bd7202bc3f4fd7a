//! The one decision on connection options: [`NatsOptions::validate`] and the environment
//! reading behind [`NatsOptions::from_env`]. Every binding and the bridge pass the
//! user's values here and only translate the [`NatsOptionsError`] into their own errors.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::{redact_url, NatsAuth, NatsOptions};

/// The longest connect timeout accepted: 10 minutes. One connection attempt never needs
/// more; a larger value is almost always milliseconds given where seconds were meant.
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(600);

/// The environment variables read by [`NatsOptions::from_env`] (and by the bridge's
/// NATS flags), one per option. Empty variables count as unset.
pub mod env {
    /// Server URL(s), comma-separated.
    pub const URL: &str = "NATS_URL";
    /// Credentials file (`.creds`: user JWT and NKey seed).
    pub const CREDS: &str = "NATS_CREDS";
    /// User name (with `NATS_PASSWORD`).
    pub const USER: &str = "NATS_USER";
    /// Password (with `NATS_USER`).
    pub const PASSWORD: &str = "NATS_PASSWORD";
    /// Authentication token.
    pub const TOKEN: &str = "NATS_TOKEN";
    /// NKey seed (`SU...`).
    pub const NKEY: &str = "NATS_NKEY";
    /// Require TLS (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, `y`/`n`, `t`/`f`).
    pub const TLS_REQUIRED: &str = "NATS_TLS_REQUIRED";
    /// PEM file of the CA certificates to trust.
    pub const CA: &str = "NATS_CA";
    /// PEM client certificate (with `NATS_KEY`).
    pub const CERT: &str = "NATS_CERT";
    /// PEM private key of the client certificate (with `NATS_CERT`).
    pub const KEY: &str = "NATS_KEY";
}

/// One connection option, as named in error messages. Bindings render the name their
/// users pass (`credentials_file`, `credentialsFile`, `--nats-creds`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NatsField {
    /// [`NatsOptions::url`].
    Url,
    /// [`NatsOptions::user`].
    User,
    /// [`NatsOptions::password`].
    Password,
    /// [`NatsOptions::token`].
    Token,
    /// [`NatsOptions::nkey`].
    NKey,
    /// [`NatsOptions::credentials_file`].
    CredentialsFile,
    /// [`TlsOptions::required`](super::TlsOptions::required).
    TlsRequired,
    /// [`TlsOptions::ca_file`](super::TlsOptions::ca_file).
    TlsCaFile,
    /// [`TlsOptions::cert_file`](super::TlsOptions::cert_file).
    TlsCertFile,
    /// [`TlsOptions::key_file`](super::TlsOptions::key_file).
    TlsKeyFile,
    /// [`NatsOptions::name`].
    Name,
    /// [`NatsOptions::connect_timeout`].
    ConnectTimeout,
}

impl NatsField {
    /// Every field, in the order validation looks at them.
    pub const ALL: [NatsField; 12] = [
        NatsField::Url,
        NatsField::User,
        NatsField::Password,
        NatsField::Token,
        NatsField::NKey,
        NatsField::CredentialsFile,
        NatsField::TlsRequired,
        NatsField::TlsCaFile,
        NatsField::TlsCertFile,
        NatsField::TlsKeyFile,
        NatsField::Name,
        NatsField::ConnectTimeout,
    ];

    /// The option's name in the core (and in Python's `Telemetry.connect`).
    pub fn name(self) -> &'static str {
        match self {
            NatsField::Url => "url",
            NatsField::User => "user",
            NatsField::Password => "password",
            NatsField::Token => "token",
            NatsField::NKey => "nkey",
            NatsField::CredentialsFile => "credentials_file",
            NatsField::TlsRequired => "tls_required",
            NatsField::TlsCaFile => "tls_ca_file",
            NatsField::TlsCertFile => "tls_cert_file",
            NatsField::TlsKeyFile => "tls_key_file",
            NatsField::Name => "name",
            NatsField::ConnectTimeout => "connect_timeout",
        }
    }

    /// The environment variable that supplies the option, when there is one.
    pub fn env_var(self) -> Option<&'static str> {
        Some(match self {
            NatsField::Url => env::URL,
            NatsField::User => env::USER,
            NatsField::Password => env::PASSWORD,
            NatsField::Token => env::TOKEN,
            NatsField::NKey => env::NKEY,
            NatsField::CredentialsFile => env::CREDS,
            NatsField::TlsRequired => env::TLS_REQUIRED,
            NatsField::TlsCaFile => env::CA,
            NatsField::TlsCertFile => env::CERT,
            NatsField::TlsKeyFile => env::KEY,
            NatsField::Name | NatsField::ConnectTimeout => return None,
        })
    }
}

/// What is wrong with connection options. The names are stable: the shared vectors
/// (`testdata/connection-options-vectors.json`) and every binding use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NatsOptionsErrorKind {
    /// The URL list is empty, has an empty entry, or an entry that is not a NATS server
    /// URL (schemes `nats`, `tls`, `ws`, `wss`, or none for `nats`).
    InvalidUrl,
    /// A user without a password.
    MissingPassword,
    /// A password without a user.
    MissingUser,
    /// Two kinds of credentials at once (user/password, token, NKey seed, credentials
    /// file): the error names both.
    ConflictingCredentials,
    /// A TLS client certificate without its key, or a key without its certificate.
    IncompleteTls,
    /// A connect timeout of zero or less, not a number, or above [`MAX_CONNECT_TIMEOUT`].
    InvalidTimeout,
    /// An option given as an empty string.
    EmptyValue,
    /// `NATS_TLS_REQUIRED` that is not a boolean.
    InvalidBoolean,
}

impl NatsOptionsErrorKind {
    /// Every kind.
    pub const ALL: [NatsOptionsErrorKind; 8] = [
        NatsOptionsErrorKind::InvalidUrl,
        NatsOptionsErrorKind::MissingPassword,
        NatsOptionsErrorKind::MissingUser,
        NatsOptionsErrorKind::ConflictingCredentials,
        NatsOptionsErrorKind::IncompleteTls,
        NatsOptionsErrorKind::InvalidTimeout,
        NatsOptionsErrorKind::EmptyValue,
        NatsOptionsErrorKind::InvalidBoolean,
    ];

    /// The stable name: `invalid_url`, `missing_password`, ...
    pub fn name(self) -> &'static str {
        match self {
            NatsOptionsErrorKind::InvalidUrl => "invalid_url",
            NatsOptionsErrorKind::MissingPassword => "missing_password",
            NatsOptionsErrorKind::MissingUser => "missing_user",
            NatsOptionsErrorKind::ConflictingCredentials => "conflicting_credentials",
            NatsOptionsErrorKind::IncompleteTls => "incomplete_tls",
            NatsOptionsErrorKind::InvalidTimeout => "invalid_timeout",
            NatsOptionsErrorKind::EmptyValue => "empty_value",
            NatsOptionsErrorKind::InvalidBoolean => "invalid_boolean",
        }
    }

    /// The kind of a stable name.
    pub fn from_name(name: &str) -> Option<NatsOptionsErrorKind> {
        NatsOptionsErrorKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Connection options that cannot be used: the kind, the options involved (first the one
/// at fault) and a detail without secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsOptionsError {
    kind: NatsOptionsErrorKind,
    fields: Vec<NatsField>,
    detail: String,
}

impl NatsOptionsError {
    fn new(kind: NatsOptionsErrorKind, fields: &[NatsField], detail: impl Into<String>) -> NatsOptionsError {
        NatsOptionsError { kind, fields: fields.to_vec(), detail: detail.into() }
    }

    /// What is wrong.
    pub fn kind(&self) -> NatsOptionsErrorKind {
        self.kind
    }

    /// The options involved, the one at fault first.
    pub fn fields(&self) -> &[NatsField] {
        &self.fields
    }

    /// The message, with each option named by `name` (a binding's own spelling) and its
    /// environment variable in brackets when it has one and `name` does not give it:
    /// `conflicting_credentials: user (NATS_USER) and token (NATS_TOKEN) are both given; ...`.
    pub fn message(&self, name: impl Fn(NatsField) -> String) -> String {
        let named: Vec<String> = self
            .fields
            .iter()
            .map(|&f| {
                let n = name(f);
                match f.env_var() {
                    Some(var) if var != n => format!("{n} ({var})"),
                    _ => n,
                }
            })
            .collect();
        let first = named.first().map_or("", String::as_str);
        let second = named.get(1).map_or("", String::as_str);
        let text = match self.kind {
            NatsOptionsErrorKind::InvalidUrl => format!("{first} {}", self.detail),
            NatsOptionsErrorKind::MissingPassword | NatsOptionsErrorKind::MissingUser => {
                format!("{first} is given without {second}; give both")
            }
            NatsOptionsErrorKind::ConflictingCredentials => format!(
                "{first} and {second} are both given; use one kind of credentials (user/password, token, NKey seed or credentials file)"
            ),
            NatsOptionsErrorKind::IncompleteTls => {
                format!("{first} is given without {second}; a TLS client certificate needs both")
            }
            NatsOptionsErrorKind::InvalidTimeout => format!(
                "{first} must be more than 0 and at most {} seconds, got {}",
                MAX_CONNECT_TIMEOUT.as_secs(),
                self.detail
            ),
            NatsOptionsErrorKind::EmptyValue => format!("{first} is empty; leave it out or give a value"),
            NatsOptionsErrorKind::InvalidBoolean => {
                format!("{first} must be true or false (1/0, yes/no, on/off), got {:?}", self.detail)
            }
        };
        format!("{}: {text}", self.kind.name())
    }
}

impl fmt::Display for NatsOptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(|field| field.name().to_owned()))
    }
}

impl std::error::Error for NatsOptionsError {}

/// What [`NatsOptions::validate`] accepted: the servers and the one kind of credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidNatsOptions {
    /// The URL list, split at commas and trimmed, with `nats://` added where no scheme
    /// was given. May hold credentials: redact before logging.
    pub servers: Vec<String>,
    /// The credentials.
    pub auth: NatsAuth,
}

/// A connect timeout in seconds (Python) as a duration, by the same rule as
/// [`NatsOptions::validate`]: more than 0, at most [`MAX_CONNECT_TIMEOUT`], a number.
pub fn connect_timeout_secs(seconds: f64) -> Result<Duration, NatsOptionsError> {
    let invalid = || {
        NatsOptionsError::new(NatsOptionsErrorKind::InvalidTimeout, &[NatsField::ConnectTimeout], format!("{seconds}"))
    };
    if !(seconds > 0.0 && seconds <= MAX_CONNECT_TIMEOUT.as_secs_f64()) {
        return Err(invalid());
    }
    let d = Duration::from_secs_f64(seconds);
    if d.is_zero() {
        return Err(invalid());
    }
    Ok(d)
}

/// A connect timeout in milliseconds (Node, C) as a duration; see [`connect_timeout_secs`].
pub fn connect_timeout_millis(millis: f64) -> Result<Duration, NatsOptionsError> {
    connect_timeout_secs(millis / 1000.0).map_err(|mut e| {
        e.detail = format!("{millis} ms");
        e
    })
}

/// A boolean variable, as the bridge's boolean flags read them.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "y" | "t" => Some(true),
        "false" | "0" | "no" | "off" | "n" | "f" => Some(false),
        _ => None,
    }
}

impl NatsOptions {
    /// Options from the environment variables of [`env`] over `lookup` (empty values count
    /// as unset); [`from_env`](Self::from_env) passes the process environment. Nothing is
    /// judged here: [`validate`](Self::validate) (and every connect) reports what is wrong,
    /// a malformed `NATS_TLS_REQUIRED` included.
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> NatsOptions {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut o = NatsOptions::default();
        if let Some(url) = var(env::URL) {
            o.url = url;
        }
        o.user = var(env::USER);
        o.password = var(env::PASSWORD);
        o.token = var(env::TOKEN);
        o.nkey = var(env::NKEY);
        o.credentials_file = var(env::CREDS).map(Into::into);
        o.tls.ca_file = var(env::CA).map(Into::into);
        o.tls.cert_file = var(env::CERT).map(Into::into);
        o.tls.key_file = var(env::KEY).map(Into::into);
        if let Some(v) = var(env::TLS_REQUIRED) {
            match parse_bool(&v) {
                Some(b) => o.tls.required = b,
                None => {
                    o.env_error =
                        Some(NatsOptionsError::new(NatsOptionsErrorKind::InvalidBoolean, &[NatsField::TlsRequired], v))
                }
            }
        }
        o
    }

    /// The one check of connection options, made before any connection (no server
    /// needed). In this order: a malformed environment variable, the URL list, empty
    /// values, the credentials (one kind; user and password together), the TLS client
    /// certificate (certificate and key together), the connect timeout. Files are not
    /// opened here; an unreadable one is reported by connect.
    pub fn validate(&self) -> Result<ValidNatsOptions, NatsOptionsError> {
        use NatsOptionsErrorKind as K;
        if let Some(e) = &self.env_error {
            return Err(e.clone());
        }
        let servers = self.servers_checked()?;
        let strings = [
            (NatsField::User, self.user.as_deref()),
            (NatsField::Password, self.password.as_deref()),
            (NatsField::Token, self.token.as_deref()),
            (NatsField::NKey, self.nkey.as_deref()),
            (NatsField::CredentialsFile, self.credentials_file.as_deref().and_then(Path::to_str)),
            (NatsField::TlsCaFile, self.tls.ca_file.as_deref().and_then(Path::to_str)),
            (NatsField::TlsCertFile, self.tls.cert_file.as_deref().and_then(Path::to_str)),
            (NatsField::TlsKeyFile, self.tls.key_file.as_deref().and_then(Path::to_str)),
            (NatsField::Name, self.name.as_deref()),
        ];
        if let Some((field, _)) = strings.iter().find(|(_, v)| v.is_some_and(|s| s.trim().is_empty())) {
            return Err(NatsOptionsError::new(K::EmptyValue, &[*field], ""));
        }
        let kinds = [
            (NatsField::User, self.user.is_some() || self.password.is_some()),
            (NatsField::Token, self.token.is_some()),
            (NatsField::NKey, self.nkey.is_some()),
            (NatsField::CredentialsFile, self.credentials_file.is_some()),
        ];
        let mut given = kinds.iter().filter(|(_, g)| *g).map(|(f, _)| *f);
        if let (Some(a), Some(b)) = (given.next(), given.next()) {
            let a = if a == NatsField::User && self.user.is_none() { NatsField::Password } else { a };
            return Err(NatsOptionsError::new(K::ConflictingCredentials, &[a, b], ""));
        }
        let auth = match (&self.user, &self.password) {
            (Some(_), None) => {
                return Err(NatsOptionsError::new(K::MissingPassword, &[NatsField::User, NatsField::Password], ""))
            }
            (None, Some(_)) => {
                return Err(NatsOptionsError::new(K::MissingUser, &[NatsField::Password, NatsField::User], ""))
            }
            (Some(user), Some(password)) => NatsAuth::UserPassword { user: user.clone(), password: password.clone() },
            (None, None) => match (&self.token, &self.nkey, &self.credentials_file) {
                (Some(t), _, _) => NatsAuth::Token(t.clone()),
                (_, Some(seed), _) => NatsAuth::NKey(seed.clone()),
                (_, _, Some(path)) => NatsAuth::CredentialsFile(path.clone()),
                _ => NatsAuth::None,
            },
        };
        match (&self.tls.cert_file, &self.tls.key_file) {
            (Some(_), None) => {
                return Err(NatsOptionsError::new(
                    K::IncompleteTls,
                    &[NatsField::TlsCertFile, NatsField::TlsKeyFile],
                    "",
                ))
            }
            (None, Some(_)) => {
                return Err(NatsOptionsError::new(
                    K::IncompleteTls,
                    &[NatsField::TlsKeyFile, NatsField::TlsCertFile],
                    "",
                ))
            }
            _ => {}
        }
        if self.connect_timeout.is_zero() || self.connect_timeout > MAX_CONNECT_TIMEOUT {
            return Err(NatsOptionsError::new(
                K::InvalidTimeout,
                &[NatsField::ConnectTimeout],
                format!("{:?}", self.connect_timeout),
            ));
        }
        Ok(ValidNatsOptions { servers, auth })
    }

    /// The URL list's servers, each checked by async-nats's own parser.
    fn servers_checked(&self) -> Result<Vec<String>, NatsOptionsError> {
        let invalid =
            |detail: String| Err(NatsOptionsError::new(NatsOptionsErrorKind::InvalidUrl, &[NatsField::Url], detail));
        if self.url.trim().is_empty() {
            return invalid("is empty; give a NATS server URL such as nats://127.0.0.1:4222".into());
        }
        let mut servers = Vec::new();
        for part in self.url.split(',').map(str::trim) {
            if part.is_empty() {
                return invalid(format!("{:?} has an empty entry between commas", redact_url(&self.url)));
            }
            if let Err(e) = part.parse::<async_nats::ServerAddr>() {
                // async-nats's message names the scheme or the URL error, never the input.
                return invalid(format!(
                    "{:?} is not a NATS server URL ({e}; schemes: nats, tls, ws, wss)",
                    redact_url(part)
                ));
            }
            servers.push(if part.contains("://") { part.to_owned() } else { format!("nats://{part}") });
        }
        Ok(servers)
    }
}
