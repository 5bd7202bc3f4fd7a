//! The NATS connection options of `dagnats trace` and `dagnats tail`: the same flags and
//! environment variables as `dagnats otlp-bridge` (`--nats-url` / `NATS_URL`, a
//! credentials file, user and password, token, NKey, TLS), resolved into the core's
//! [`NatsOptions`]. Every flag has its variable, named by the core
//! ([`dagnats_observe::nats::env`]: `NATS_URL`, `NATS_CREDS`, `NATS_USER`, `NATS_PASSWORD`,
//! `NATS_TOKEN`, `NATS_NKEY`, `NATS_TLS_REQUIRED`, `NATS_CA`, `NATS_CERT`, `NATS_KEY`; the
//! table is in core/README.md); a flag on the command line wins. The rules (one kind of
//! credentials, user with password, certificate with key, the URL list) are the core's
//! [`NatsOptions::validate`]. Secrets never appear in `Debug` output.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use dagnats_observe::nats::{env, parse_bool, NatsField, NatsOptions, TlsOptions, DEFAULT_NATS_URL};

use crate::config::ConfigError;

/// How to reach NATS (flattened into a subcommand's options).
#[derive(Args, Clone)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated
    #[arg(long, env = env::URL, default_value = DEFAULT_NATS_URL, value_name = "URL", help_heading = "NATS")]
    pub nats_url: String,

    /// NATS credentials file (user JWT and NKey seed) [default: none]
    #[arg(long, env = env::CREDS, value_name = "FILE", help_heading = "NATS")]
    pub nats_creds: Option<PathBuf>,

    /// NATS user name (with --nats-password) [default: none]
    #[arg(long, env = env::USER, value_name = "USER", help_heading = "NATS")]
    pub nats_user: Option<String>,

    /// NATS password [default: none]
    #[arg(long, env = env::PASSWORD, hide_env_values = true, value_name = "PASSWORD", help_heading = "NATS")]
    pub nats_password: Option<String>,

    /// NATS authentication token [default: none]
    #[arg(long, env = env::TOKEN, hide_env_values = true, value_name = "TOKEN", help_heading = "NATS")]
    pub nats_token: Option<String>,

    /// NATS NKey seed (SU...) [default: none]
    #[arg(long, env = env::NKEY, hide_env_values = true, value_name = "SEED", help_heading = "NATS")]
    pub nats_nkey: Option<String>,

    /// Require TLS towards NATS even for nats:// URLs [default: false]
    #[arg(long, env = env::TLS_REQUIRED, value_parser = boolean, help_heading = "NATS")]
    pub nats_tls_required: bool,

    /// PEM file of the CA certificates that sign the NATS server's certificate [default: none]
    #[arg(long, env = env::CA, value_name = "FILE", help_heading = "NATS")]
    pub nats_tls_ca: Option<PathBuf>,

    /// PEM client certificate for mutual TLS with NATS [default: none]
    #[arg(long, env = env::CERT, value_name = "FILE", help_heading = "NATS")]
    pub nats_tls_cert: Option<PathBuf>,

    /// PEM private key of --nats-tls-cert [default: none]
    #[arg(long, env = env::KEY, value_name = "FILE", help_heading = "NATS")]
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

    /// The connection options, named `name` in the server's monitoring, checked by the
    /// core's [`NatsOptions::validate`]; its error names the flags.
    pub fn options(&self, name: &str) -> Result<NatsOptions, ConfigError> {
        let mut options = NatsOptions::new(self.nats_url.clone());
        options.user = self.nats_user.clone();
        options.password = self.nats_password.clone();
        options.token = self.nats_token.clone();
        options.nkey = self.nats_nkey.clone();
        options.credentials_file = self.nats_creds.clone();
        options.tls = TlsOptions {
            required: self.nats_tls_required,
            ca_file: self.nats_tls_ca.clone(),
            cert_file: self.nats_tls_cert.clone(),
            key_file: self.nats_tls_key.clone(),
        };
        options.name = Some(name.to_owned());
        options.validate().map_err(|e| ConfigError(e.message(|f| flag(f).to_owned())))?;
        Ok(options)
    }
}

/// The flag of a connection option, for the core's error messages.
fn flag(field: NatsField) -> &'static str {
    match field {
        NatsField::Url => "--nats-url",
        NatsField::User => "--nats-user",
        NatsField::Password => "--nats-password",
        NatsField::Token => "--nats-token",
        NatsField::NKey => "--nats-nkey",
        NatsField::CredentialsFile => "--nats-creds",
        NatsField::TlsRequired => "--nats-tls-required",
        NatsField::TlsCaFile => "--nats-tls-ca",
        NatsField::TlsCertFile => "--nats-tls-cert",
        NatsField::TlsKeyFile => "--nats-tls-key",
        NatsField::Name => "connection name",
        NatsField::ConnectTimeout => "connect timeout",
    }
}

/// `--nats-tls-required`'s value (and `NATS_TLS_REQUIRED`), read as the core reads it.
fn boolean(value: &str) -> Result<bool, String> {
    parse_bool(value).ok_or_else(|| format!("{value:?} is not a boolean (true/false, 1/0, yes/no, on/off)"))
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
    use dagnats_observe::nats::NatsAuth;

    #[test]
    fn credentials_resolve_and_conflict() {
        let mut a = NatsArgs::new("nats://h:4222");
        assert_eq!(a.options("t").unwrap().validate().unwrap().auth, NatsAuth::None);
        a.nats_user = Some("u".into());
        a.nats_password = Some("p".into());
        let auth = a.options("t").unwrap().validate().unwrap().auth;
        assert_eq!(auth, NatsAuth::UserPassword { user: "u".into(), password: "p".into() });
        a.nats_token = Some("t".into());
        let e = a.options("t").unwrap_err().0;
        assert!(e.starts_with("conflicting_credentials: --nats-user (NATS_USER) and --nats-token (NATS_TOKEN)"), "{e}");
        let mut b = NatsArgs::new("nats://h:4222");
        b.nats_password = Some("p".into());
        let e = b.options("t").unwrap_err().0;
        assert!(e.starts_with("missing_user: --nats-password (NATS_PASSWORD) is given without --nats-user"), "{e}");
        b.nats_password = None;
        b.nats_user = Some("u".into());
        assert!(b.options("t").unwrap_err().0.starts_with("missing_password: "), "a user needs a password");
        let mut c = NatsArgs::new("nats://h:4222");
        c.nats_tls_cert = Some("c.pem".into());
        assert!(c.options("t").unwrap_err().0.starts_with("incomplete_tls: --nats-tls-cert"));
        c.nats_tls_key = Some("k.pem".into());
        c.nats_tls_required = true;
        let o = c.options("dagnats trace").unwrap();
        assert!(o.tls.required);
        assert_eq!(o.name.as_deref(), Some("dagnats trace"));
    }

    #[test]
    fn the_flags_read_the_cores_variables() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            nats: NatsArgs,
        }
        let read: Vec<String> = Cli::command()
            .get_arguments()
            .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
            .collect();
        let core: Vec<&str> = NatsField::ALL.iter().filter_map(|f| f.env_var()).collect();
        let mut read_sorted = read.clone();
        read_sorted.sort();
        let mut core_sorted = core.clone();
        core_sorted.sort();
        assert_eq!(read_sorted, core_sorted);
        for (value, want) in [("yes", Ok(true)), ("OFF", Ok(false)), ("maybe", Err(()))] {
            assert_eq!(boolean(value).map_err(|_| ()), want, "{value}");
        }
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
