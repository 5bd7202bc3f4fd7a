//! The NATS connection options of `dagnats trace` and `dagnats tail`: the same flags and
//! environment variables as `dagnats otlp-bridge` (`--nats-url` / `NATS_URL`, a
//! credentials file, user and password, token, NKey, TLS), resolved into the core's
//! [`NatsOptions`]. Every flag has its variable (`NATS_URL`, `NATS_CREDS`, `NATS_USER`,
//! `NATS_PASSWORD`, `NATS_TOKEN`, `NATS_NKEY`, `NATS_TLS_REQUIRED`, `NATS_CA`, `NATS_CERT`,
//! `NATS_KEY`); a flag on the command line wins. Secrets never appear in `Debug` output.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use dagnats_observe::nats::{NatsAuth, NatsOptions, TlsOptions, DEFAULT_NATS_URL};

use crate::config::ConfigError;

/// How to reach NATS (flattened into a subcommand's options).
#[derive(Args, Clone)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated
    #[arg(long, env = "NATS_URL", default_value = DEFAULT_NATS_URL, value_name = "URL", help_heading = "NATS")]
    pub nats_url: String,

    /// NATS credentials file (user JWT and NKey seed) [default: none]
    #[arg(long, env = "NATS_CREDS", value_name = "FILE", help_heading = "NATS")]
    pub nats_creds: Option<PathBuf>,

    /// NATS user name (with --nats-password) [default: none]
    #[arg(long, env = "NATS_USER", value_name = "USER", help_heading = "NATS")]
    pub nats_user: Option<String>,

    /// NATS password [default: none]
    #[arg(long, env = "NATS_PASSWORD", hide_env_values = true, value_name = "PASSWORD", help_heading = "NATS")]
    pub nats_password: Option<String>,

    /// NATS authentication token [default: none]
    #[arg(long, env = "NATS_TOKEN", hide_env_values = true, value_name = "TOKEN", help_heading = "NATS")]
    pub nats_token: Option<String>,

    /// NATS NKey seed (SU...) [default: none]
    #[arg(long, env = "NATS_NKEY", hide_env_values = true, value_name = "SEED", help_heading = "NATS")]
    pub nats_nkey: Option<String>,

    /// Require TLS towards NATS even for nats:// URLs [default: false]
    #[arg(long, env = "NATS_TLS_REQUIRED", value_parser = clap::builder::BoolishValueParser::new(), help_heading = "NATS")]
    pub nats_tls_required: bool,

    /// PEM file of the CA certificates that sign the NATS server's certificate [default: none]
    #[arg(long, env = "NATS_CA", value_name = "FILE", help_heading = "NATS")]
    pub nats_tls_ca: Option<PathBuf>,

    /// PEM client certificate for mutual TLS with NATS [default: none]
    #[arg(long, env = "NATS_CERT", value_name = "FILE", help_heading = "NATS")]
    pub nats_tls_cert: Option<PathBuf>,

    /// PEM private key of --nats-tls-cert [default: none]
    #[arg(long, env = "NATS_KEY", value_name = "FILE", help_heading = "NATS")]
    pub nats_tls_key: Option<PathBuf>,
}

impl NatsArgs {
    /// Plain options for `url` (tests and programs without a command line).
    pub fn new(url: impl Into<String>) -> NatsArgs {
        NatsArgs {
            nats_url: url.into(),
            nats_creds: None,
            nats_user: None,
            nats_password: None,
            nats_token: None,
            nats_nkey: None,
            nats_tls_required: false,
            nats_tls_ca: None,
            nats_tls_cert: None,
            nats_tls_key: None,
        }
    }

    /// The connection options, named `name` in the server's monitoring. Errors when two
    /// kinds of credentials are given, or a password without a user, or half a client
    /// certificate.
    pub fn options(&self, name: &str) -> Result<NatsOptions, ConfigError> {
        let given =
            [self.nats_creds.is_some(), self.nats_user.is_some(), self.nats_token.is_some(), self.nats_nkey.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(ConfigError(
                "use one NATS authentication: credentials file, user/password, token or NKey".into(),
            ));
        }
        if self.nats_password.is_some() && self.nats_user.is_none() {
            return Err(ConfigError("--nats-password needs --nats-user".into()));
        }
        if self.nats_tls_cert.is_some() != self.nats_tls_key.is_some() {
            return Err(ConfigError("--nats-tls-cert and --nats-tls-key go together".into()));
        }
        if self.nats_url.trim().is_empty() {
            return Err(ConfigError("--nats-url is empty".into()));
        }
        let auth = if let Some(path) = &self.nats_creds {
            NatsAuth::CredentialsFile(path.clone())
        } else if let Some(user) = &self.nats_user {
            NatsAuth::UserPassword { user: user.clone(), password: self.nats_password.clone().unwrap_or_default() }
        } else if let Some(token) = &self.nats_token {
            NatsAuth::Token(token.clone())
        } else if let Some(seed) = &self.nats_nkey {
            NatsAuth::NKey(seed.clone())
        } else {
            NatsAuth::None
        };
        let mut options = NatsOptions::new(self.nats_url.clone()).auth(auth);
        options.tls = TlsOptions {
            required: self.nats_tls_required,
            ca_file: self.nats_tls_ca.clone(),
            cert_file: self.nats_tls_cert.clone(),
            key_file: self.nats_tls_key.clone(),
        };
        options.name = Some(name.to_owned());
        Ok(options)
    }
}

impl fmt::Debug for NatsArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "***");
        f.debug_struct("NatsArgs")
            .field("nats_url", &dagnats_observe::nats::redact_url(&self.nats_url))
            .field("nats_creds", &self.nats_creds)
            .field("nats_user", &self.nats_user)
            .field("nats_password", &hidden(&self.nats_password))
            .field("nats_token", &hidden(&self.nats_token))
            .field("nats_nkey", &hidden(&self.nats_nkey))
            .field("nats_tls_required", &self.nats_tls_required)
            .field("nats_tls_ca", &self.nats_tls_ca)
            .field("nats_tls_cert", &self.nats_tls_cert)
            .field("nats_tls_key", &self.nats_tls_key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_resolve_and_conflict() {
        let mut a = NatsArgs::new("nats://h:4222");
        assert_eq!(a.options("t").unwrap().auth, NatsAuth::None);
        a.nats_user = Some("u".into());
        a.nats_password = Some("p".into());
        assert_eq!(a.options("t").unwrap().auth, NatsAuth::UserPassword { user: "u".into(), password: "p".into() });
        a.nats_token = Some("t".into());
        assert!(a.options("t").is_err());
        let mut b = NatsArgs::new("nats://h:4222");
        b.nats_password = Some("p".into());
        assert!(b.options("t").is_err());
        let mut c = NatsArgs::new("nats://h:4222");
        c.nats_tls_cert = Some("c.pem".into());
        assert!(c.options("t").is_err());
        c.nats_tls_key = Some("k.pem".into());
        c.nats_tls_required = true;
        let o = c.options("dagnats trace").unwrap();
        assert!(o.tls.required);
        assert_eq!(o.name.as_deref(), Some("dagnats trace"));
    }

    #[test]
    fn debug_hides_secrets() {
        let mut a = NatsArgs::new("nats://u:url-secret@h:4222");
        a.nats_password = Some("pw-secret".into());
        a.nats_token = Some("tok-secret".into());
        a.nats_nkey = Some("seed-secret".into());
        let s = format!("{a:?}");
        for secret in ["url-secret", "pw-secret", "tok-secret", "seed-secret"] {
            assert!(!s.contains(secret), "{s}");
        }
    }
}
