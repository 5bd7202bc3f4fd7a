//! Runs every case of the shared `testdata/connection-options-vectors.json` through
//! `NatsOptions::validate`: as explicit options, and as environment variables through
//! `NatsOptions::from_env_with`. The Python, Node and C suites run the same cases.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use dagnats_observe::nats::{
    connect_timeout_millis, NatsField, NatsOptions, NatsOptionsError, NatsOptionsErrorKind, ValidNatsOptions,
};
use dagnats_observe::{CollectorOptions, Error, Telemetry};
use serde_json::{Map, Value};

fn cases() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/connection-options-vectors.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let v: Value = serde_json::from_str(&text).expect("vectors file is valid JSON");
    let cases = v["cases"].as_array().expect("cases is an array").clone();
    let names: HashSet<&str> = cases.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names.len(), cases.len(), "case names must be present and unique");
    cases
}

/// The core's options for a case's `options` object (keys are the core's option names).
fn explicit(keys: &Map<String, Value>) -> Result<NatsOptions, NatsOptionsError> {
    let mut o = NatsOptions::default();
    let text = |k: &str| keys.get(k).map(|v| v.as_str().unwrap_or_else(|| panic!("{k} is a string")).to_owned());
    for key in keys.keys() {
        let known = NatsField::ALL.iter().any(|f| f.name() == key) || key == "connect_timeout_ms";
        assert!(known, "unknown option {key}");
    }
    if let Some(url) = text("url") {
        o.url = url;
    }
    o.user = text("user");
    o.password = text("password");
    o.token = text("token");
    o.nkey = text("nkey");
    o.credentials_file = text("credentials_file").map(PathBuf::from);
    o.tls.required = keys.get("tls_required").map(|v| v.as_bool().unwrap()).unwrap_or(false);
    o.tls.ca_file = text("tls_ca_file").map(PathBuf::from);
    o.tls.cert_file = text("tls_cert_file").map(PathBuf::from);
    o.tls.key_file = text("tls_key_file").map(PathBuf::from);
    o.name = text("name");
    if let Some(ms) = keys.get("connect_timeout_ms") {
        o.connect_timeout = connect_timeout_millis(ms.as_f64().unwrap())?;
    }
    Ok(o)
}

fn from_env(vars: &Map<String, Value>) -> NatsOptions {
    let vars: HashMap<String, String> =
        vars.iter().map(|(k, v)| (k.clone(), v.as_str().expect("variables are strings").to_owned())).collect();
    for k in vars.keys() {
        assert!(NatsField::ALL.iter().any(|f| f.env_var() == Some(k.as_str())), "{k} is not read by from_env");
    }
    NatsOptions::from_env_with(|k| vars.get(k).cloned())
}

fn check(case: &Value, how: &str, got: Result<ValidNatsOptions, NatsOptionsError>) {
    let name = format!("{} ({how})", case["name"].as_str().unwrap());
    if case["valid"].as_bool().unwrap() {
        let valid = got.unwrap_or_else(|e| panic!("{name}: expected valid, got {e}"));
        if let Some(servers) = case.get("servers") {
            let want: Vec<&str> = servers.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
            assert_eq!(valid.servers, want, "{name}");
        }
        return;
    }
    let e = got.err().unwrap_or_else(|| panic!("{name}: expected an error"));
    let want = case["error"].as_str().unwrap();
    assert!(NatsOptionsErrorKind::from_name(want).is_some(), "{name}: unknown error kind {want}");
    assert_eq!(e.kind().name(), want, "{name}: {e}");
    let fields: Vec<&str> = e.fields().iter().map(|f| f.name()).collect();
    let want_fields: Vec<&str> = case["fields"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(fields, want_fields, "{name}: {e}");
    let message = e.to_string();
    assert!(message.starts_with(&format!("{want}: ")), "{name}: {message}");
    for field in &want_fields {
        assert!(message.contains(field), "{name}: the message does not name {field}: {message}");
    }
    for secret in ["hunter2", "SUAM"] {
        assert!(!message.contains(secret), "{name}: a secret leaked: {message}");
    }
}

#[test]
fn every_case_as_explicit_options() {
    let mut n = 0;
    for case in cases() {
        let Some(options) = case.get("options") else { continue };
        let got = explicit(options.as_object().unwrap()).and_then(|o| o.validate());
        check(&case, "options", got);
        n += 1;
    }
    assert!(n >= 30, "only {n} cases with options");
}

#[test]
fn every_case_as_environment_variables() {
    let mut n = 0;
    for case in cases() {
        let Some(vars) = case.get("env") else { continue };
        check(&case, "env", from_env(vars.as_object().unwrap()).validate());
        n += 1;
    }
    assert!(n >= 15, "only {n} cases with env");
}

#[test]
fn every_error_kind_has_a_case() {
    let kinds: HashSet<String> = cases().iter().filter_map(|c| c["error"].as_str().map(str::to_owned)).collect();
    for kind in NatsOptionsErrorKind::ALL {
        assert!(kinds.contains(kind.name()), "no case for {}", kind.name());
        assert_eq!(NatsOptionsErrorKind::from_name(kind.name()), Some(kind));
    }
}

#[test]
fn connect_refuses_invalid_options_before_any_server() {
    // Port 1: were validation skipped, this would be a (retried) unreachable server.
    let mut o = CollectorOptions::default().url("nats://127.0.0.1:1").service("svc");
    o.nats.user = Some("worker".into());
    o.nats.token = Some("tok-secret".into());
    match Telemetry::connect(o) {
        Err(Error::Options(e)) => {
            assert_eq!(e.kind(), NatsOptionsErrorKind::ConflictingCredentials);
            assert!(!e.to_string().contains("tok-secret"), "{e}");
        }
        other => panic!("expected an options error, got {other:?}"),
    }
    let mut o = CollectorOptions::default().url("nats://127.0.0.1:1").service("svc");
    o.nats.connect_timeout = Duration::ZERO;
    assert!(
        matches!(Telemetry::connect(o), Err(Error::Options(e)) if e.kind() == NatsOptionsErrorKind::InvalidTimeout)
    );
}

#[test]
fn messages_name_options_as_the_caller_spells_them() {
    let mut o = NatsOptions::default();
    o.token = Some("t".into());
    o.nkey = Some("n".into());
    let e = o.validate().unwrap_err();
    let node = e.message(|f| match f {
        NatsField::NKey => "nkeySeed".into(),
        other => other.name().into(),
    });
    assert!(node.starts_with("conflicting_credentials: token (NATS_TOKEN) and nkeySeed (NATS_NKEY)"), "{node}");
    let env = e.message(|f| f.env_var().unwrap().into());
    assert!(env.starts_with("conflicting_credentials: NATS_TOKEN and NATS_NKEY are both given"), "{env}");
}
