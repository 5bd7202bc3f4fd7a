//! A TCP proxy on loopback between a client and a server that can hold back what the
//! server sends. With a delay set, every byte the server writes reaches the client only
//! that long after the proxy read it (in order), while what the client writes reaches
//! the server at once: a server that does its work at once but whose answers arrive
//! late, as over a congested or stalled return path.
//!
//! Plain threads and blocking sockets, so it works the same under any (or no) async
//! runtime of the test.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A running proxy; stops accepting and cuts its connections when dropped.
pub struct DelayProxy {
    port: u16,
    delay_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    /// Both ends of every connection, to cut them on drop (a blocked reader wakes up).
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards each connection to
    /// `127.0.0.1:{upstream_port}`. No delay until [`set_server_delay`](Self::set_server_delay).
    pub fn start(upstream_port: u16) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port for the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let proxy = DelayProxy {
            port,
            delay_ms: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            streams: Arc::new(Mutex::new(Vec::new())),
        };
        let (delay, stop, streams) = (Arc::clone(&proxy.delay_ms), Arc::clone(&proxy.stop), Arc::clone(&proxy.streams));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let Ok(client) = client else { continue };
                // A server that is down refuses: the client sees its connection close, as
                // it would without the proxy.
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
                    streams.lock().unwrap_or_else(|p| p.into_inner()).extend([c, s]);
                }
                forward_now(&client, &server);
                forward_delayed(server, client, Arc::clone(&delay));
            }
        });
        proxy
    }

    /// The client URL, `nats://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// From now on, what the server sends reaches the client `delay` after the proxy read
    /// it; `Duration::ZERO` turns the delay off (what was already held keeps its time,
    /// and later bytes still come after it, so order is kept).
    pub fn set_server_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::Release);
    }

    /// Cuts every connection made so far, both ways; what the server had sent and the
    /// proxy still held is lost, as on a broken link. New connections are accepted.
    pub fn cut_connections(&self) {
        for s in self.streams.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.cut_connections();
    }
}

/// Client to server, as it comes.
fn forward_now(client: &TcpStream, server: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (client.try_clone(), server.try_clone()) else { return };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Server to client, each chunk held until its read time plus the delay then in force.
fn forward_delayed(mut server: TcpStream, mut client: TcpStream, delay_ms: Arc<AtomicU64>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let due = Instant::now() + Duration::from_millis(delay_ms.load(Ordering::Acquire));
                    if tx.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping `tx` lets the writer deliver what is held, then close.
    });
    std::thread::spawn(move || {
        for (due, bytes) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if client.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = client.shutdown(Shutdown::Write);
    });
}
