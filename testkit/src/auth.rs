//! Secured servers for the authentication and TLS tests of every language: one set of
//! cases, written once to a folder (`cases.json` beside the server configs, keys,
//! certificates and `.creds` files it names), so that the Rust, Python, Node and C tests
//! all connect to the same servers with the same credentials.
//!
//! Each case says how to start the server (`server_args`, added to the usual loopback,
//! port, JetStream and store arguments), how a client connects (`connect`), a wrong way
//! to connect (`wrong`), a word the refusal must contain (`refusal`), and the `secret`
//! that no error message may contain. The `connect`/`wrong` keys are the core's: `user`,
//! `password`, `token`, `nkey`, `credentials_file`, `tls_required`, `tls_ca_file`; each
//! binding maps them onto its own option names.
//!
//! Keys are generated fresh each time (NKeys with the `nkeys` crate, certificates with the
//! `openssl` command line), and the `.creds` files hold real user JWTs signed by an
//! account that an operator signed: the server runs in operator mode and checks them.
//!
//! ```no_run
//! let dir = tempfile::tempdir().unwrap();
//! for case in testkit::auth::write_cases(dir.path()) {
//!     let server = testkit::NatsServer::start_with_args(&case.server_args());
//!     // connect with case.connect, then with case.wrong ...
//! }
//! ```

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nkeys::KeyPair;
use serde_json::{json, Map, Value};

/// One way of securing a server, with a right and a wrong way to connect to it.
#[derive(Debug, Clone)]
pub struct AuthCase {
    /// `user_password`, `token`, `nkey`, `credentials_file` or `tls_ca_file`.
    pub name: String,
    /// Extra nats-server arguments.
    pub server_args: Vec<String>,
    /// Connect options that the server accepts.
    pub connect: Map<String, Value>,
    /// Connect options that the server refuses.
    pub wrong: Map<String, Value>,
    /// A word the refusal's message contains (`authentication`, `TLS`).
    pub refusal: String,
    /// What must never appear in any message (the wrong password, token or seed).
    pub secret: String,
}

impl AuthCase {
    /// The server arguments as `&str`s, for [`NatsServer::start_with_args`](crate::NatsServer::start_with_args).
    pub fn server_args(&self) -> Vec<&str> {
        self.server_args.iter().map(String::as_str).collect()
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "server_args": self.server_args,
            "connect": self.connect,
            "wrong": self.wrong,
            "refusal": self.refusal,
            "secret": self.secret,
        })
    }
}

fn options(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn path_str(p: &Path) -> String {
    p.to_str().expect("temporary paths are UTF-8").to_owned()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Writes every case's files into `dir`, and `dir/cases.json`; returns the cases.
pub fn write_cases(dir: &Path) -> Vec<AuthCase> {
    let cases = vec![user_password(dir), token(), nkey(dir), credentials_file(dir), tls_ca_file(dir)];
    let json = Value::Array(cases.iter().map(AuthCase::to_json).collect());
    write(&dir.join("cases.json"), &serde_json::to_string_pretty(&json).unwrap());
    cases
}

fn config_case(dir: &Path, name: &str, config: &str) -> Vec<String> {
    let conf = dir.join(format!("{name}.conf"));
    write(&conf, &format!("{config}\n{}", crate::TEST_SERVER_CONFIG));
    vec!["-c".into(), path_str(&conf)]
}

fn user_password(dir: &Path) -> AuthCase {
    AuthCase {
        name: "user_password".into(),
        server_args: config_case(
            dir,
            "user_password",
            "authorization { users = [ { user: \"worker\", password: \"pw-right-7f3a\" } ] }\n",
        ),
        connect: options(&[("user", json!("worker")), ("password", json!("pw-right-7f3a"))]),
        wrong: options(&[("user", json!("worker")), ("password", json!("pw-wrong-91c2"))]),
        refusal: "authentication".into(),
        secret: "pw-wrong-91c2".into(),
    }
}

fn token() -> AuthCase {
    AuthCase {
        name: "token".into(),
        server_args: vec!["--auth".into(), "tok-right-5d1e".into()],
        connect: options(&[("token", json!("tok-right-5d1e"))]),
        wrong: options(&[("token", json!("tok-wrong-0b8f"))]),
        refusal: "authentication".into(),
        secret: "tok-wrong-0b8f".into(),
    }
}

fn nkey(dir: &Path) -> AuthCase {
    let user = KeyPair::new_user();
    let stranger = KeyPair::new_user().seed().unwrap();
    AuthCase {
        name: "nkey".into(),
        server_args: config_case(
            dir,
            "nkey",
            &format!("authorization {{ users = [ {{ nkey: {} }} ] }}\n", user.public_key()),
        ),
        connect: options(&[("nkey", json!(user.seed().unwrap()))]),
        wrong: options(&[("nkey", json!(stranger))]),
        refusal: "authentication".into(),
        secret: stranger,
    }
}

/// A signed JWT (`typ` JWT, `alg` ed25519-nkey, as nats-server expects) for `claims`.
fn jwt(signer: &KeyPair, subject: &str, name: &str, nats: Value) -> String {
    let iat = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({
        "jti": format!("{:032x}", fastrand::u128(..)),
        "iat": iat,
        "iss": signer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{body}");
    let signature = signer.sign(signing_input.as_bytes()).expect("sign");
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// An account JWT without limits; with JetStream when `jetstream` (never for the system
/// account, which the server refuses).
fn account_jwt(operator: &KeyPair, account: &KeyPair, name: &str, jetstream: bool) -> String {
    let storage = if jetstream { -1 } else { 0 };
    let limits = json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true, "conn": -1,
        "leaf": -1, "mem_storage": storage, "disk_storage": storage, "streams": storage, "consumer": storage,
    });
    jwt(operator, &account.public_key(), name, json!({ "limits": limits, "type": "account", "version": 2 }))
}

/// A `.creds` file: a user JWT signed by `account`, and the user's seed.
fn creds(account: &KeyPair, user: &KeyPair) -> String {
    let user_jwt = jwt(
        account,
        &user.public_key(),
        "worker",
        json!({ "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2 }),
    );
    format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
        user.seed().unwrap()
    )
}

fn credentials_file(dir: &Path) -> AuthCase {
    let operator = KeyPair::new_operator();
    let account = KeyPair::new_account();
    // JetStream in operator mode needs a system account.
    let system = KeyPair::new_account();
    let operator_jwt =
        jwt(&operator, &operator.public_key(), "dagnats-test", json!({ "type": "operator", "version": 2 }));
    let config = format!(
        "operator: {operator_jwt}\nsystem_account: {sys}\nresolver: MEMORY\nresolver_preload: {{\n  {sys}: {}\n  {}: {}\n}}\n",
        account_jwt(&operator, &system, "SYS", false),
        account.public_key(),
        account_jwt(&operator, &account, "telemetry", true),
        sys = system.public_key(),
    );
    let right = dir.join("worker.creds");
    write(&right, &creds(&account, &KeyPair::new_user()));
    // A user of an account this operator never signed.
    let stranger_user = KeyPair::new_user();
    let stranger_seed = stranger_user.seed().unwrap();
    let wrong = dir.join("stranger.creds");
    write(&wrong, &creds(&KeyPair::new_account(), &stranger_user));
    AuthCase {
        name: "credentials_file".into(),
        server_args: config_case(dir, "operator", &config),
        connect: options(&[("credentials_file", json!(path_str(&right)))]),
        wrong: options(&[("credentials_file", json!(path_str(&wrong)))]),
        refusal: "authentication".into(),
        secret: stranger_seed,
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl on PATH");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Writes a CA (`ca.pem`, `ca.key`) and a certificate for 127.0.0.1 and localhost signed
/// by it (`server.pem`, `server.key`) into `dir`. Used by the TLS cases of NATS and of
/// the bridge's OTLP receiver.
pub fn write_certificates(dir: &Path) {
    if dir.join("server.pem").exists() {
        return;
    }
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=dagnats test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    write(&dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

fn tls_ca_file(dir: &Path) -> AuthCase {
    write_certificates(dir);
    AuthCase {
        name: "tls_ca_file".into(),
        server_args: vec![
            "--tls".into(),
            "--tlscert".into(),
            path_str(&dir.join("server.pem")),
            "--tlskey".into(),
            path_str(&dir.join("server.key")),
        ],
        connect: options(&[("tls_required", json!(true)), ("tls_ca_file", json!(path_str(&dir.join("ca.pem"))))]),
        // Without the CA the server's certificate cannot be trusted.
        wrong: options(&[("tls_required", json!(true))]),
        // The real cause, from the source chain, not the hint beside it.
        refusal: "invalid peer certificate".into(),
        secret: "-----BEGIN".into(),
    }
}
