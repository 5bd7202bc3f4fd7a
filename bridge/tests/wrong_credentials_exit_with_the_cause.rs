//! The bridge with wrong NATS credentials exits non-zero with a message naming the
//! cause, and no password or token appears in anything it printed.

use std::process::Command;
use std::time::{Duration, Instant};

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

#[test]
fn a_wrong_password_exits_non_zero_naming_the_cause() {
    let server = NatsServer::start_with_args(&["--user", "bridge", "--pass", "right-pass-77"]);
    let (code, output) = run_bridge(&[
        "--nats-url",
        &server.url(),
        "--nats-user",
        "bridge",
        "--nats-password",
        "wrong-pass-99",
        "--endpoint",
        "http://127.0.0.1:9",
    ]);
    assert_ne!(code, 0, "{output}");
    assert!(output.contains("authentication") || output.contains("authorization"), "{output}");
    assert!(!output.contains("wrong-pass-99") && !output.contains("right-pass-77"), "a secret leaked: {output}");
}

#[test]
fn a_wrong_token_exits_non_zero_naming_the_cause() {
    let server = NatsServer::start_with_args(&["--auth", "tok-right-88"]);
    let (code, output) =
        run_bridge(&["--nats-url", &server.url(), "--nats-token", "tok-wrong-11", "--endpoint", "http://127.0.0.1:9"]);
    assert_ne!(code, 0, "{output}");
    assert!(output.contains("authentication") || output.contains("authorization"), "{output}");
    assert!(!output.contains("tok-wrong-11"), "a secret leaked: {output}");
}
