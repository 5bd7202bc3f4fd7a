//! The bridge with wrong NATS credentials (each wrong way of the shared cases of
//! `testkit::auth`: password, token, NKey, `.creds` file, an untrusted server certificate)
//! exits non-zero with a message naming the cause, and no secret appears in anything it
//! printed. (`both_ends_secured.rs` shows the right ways working.)

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::auth::write_cases;
use testkit::NatsServer;

fn run_bridge(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dagnats"))
        .arg("otlp-bridge")
        .args(args)
        .env_remove("NATS_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start dagnats");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the bridge did not exit with wrong credentials");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// The bridge's flags for a shared case's option keys.
fn flags(keys: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in keys {
        let flag = match key.as_str() {
            "user" => "--nats-user",
            "password" => "--nats-password",
            "token" => "--nats-token",
            "nkey" => "--nats-nkey",
            "credentials_file" => "--nats-creds",
            "tls_ca_file" => "--nats-tls-ca",
            "tls_required" => {
                if value == &Value::Bool(true) {
                    out.push("--nats-tls-required".to_owned());
                }
                continue;
            }
            other => panic!("unknown option {other} in the shared auth cases"),
        };
        out.extend([flag.to_owned(), value.as_str().expect("a string option").to_owned()]);
    }
    out
}

#[test]
fn every_wrong_way_exits_non_zero_naming_the_cause_without_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let cases = write_cases(dir.path());
    assert_eq!(cases.len(), 5);
    for case in cases {
        let server = NatsServer::start_with_args(&case.server_args());
        let mut args =
            vec!["--nats-url".to_owned(), server.url(), "--endpoint".to_owned(), "http://127.0.0.1:9".to_owned()];
        args.extend(flags(&case.wrong));
        let (code, output) = run_bridge(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_ne!(code, 0, "{}: {output}", case.name);
        assert!(output.contains(&case.refusal), "{}: the cause is not named: {output}", case.name);
        assert!(!output.contains(&case.secret), "{}: a secret leaked: {output}", case.name);
    }
}
