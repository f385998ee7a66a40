//! Helpers for fieldsync's end-to-end tests: the real `fieldsync` binary as a relay process
//! (started, SIGKILLed, restarted), its admin CLI, and a loopback TCP proxy that counts the
//! bytes crossing it and can cut a connection part-way (a rep's train entering a tunnel).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The `fieldsync` binary built from this workspace (`cargo build --workspace --bins` first;
/// the README's test command does).
pub fn fieldsync_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("FIELDSYNC_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test-binary> → target/<profile>/fieldsync
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let bin = profile_dir.join(format!("fieldsync{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the end-to-end tests",
        bin.display()
    );
    bin
}

/// Runs `fieldsync` with `args` to completion.
pub fn run_fieldsync(args: &[&str]) -> Output {
    Command::new(fieldsync_bin()).args(args).output().expect("spawn fieldsync")
}

/// Runs `fieldsync admin --data-dir DIR …` and parses its JSON answer.
pub fn admin(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["admin", "--data-dir", data_dir.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = run_fieldsync(&all);
    assert!(out.status.success(), "fieldsync {all:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("admin prints JSON")
}

/// A relay running as a separate process on loopback.
#[derive(Debug)]
pub struct RelayProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    data_dir: PathBuf,
}

impl RelayProcess {
    /// Starts `fieldsync serve` on a free port.
    pub fn start(data_dir: &Path) -> Self {
        Self::start_at(data_dir, "127.0.0.1:0")
    }

    /// Starts `fieldsync serve` on a free port with extra environment (configuration such as
    /// `FIELDSYNC_SCHEDULER_INTERVAL_SECS`).
    pub fn start_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_inner(data_dir, "127.0.0.1:0", env)
    }

    /// Starts `fieldsync serve` on `listen` (to restart on the same port after a kill).
    pub fn start_at(data_dir: &Path, listen: &str) -> Self {
        Self::start_inner(data_dir, listen, &[])
    }

    fn start_inner(data_dir: &Path, listen: &str, env: &[(&str, &str)]) -> Self {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut child = Command::new(fieldsync_bin())
                .args(["serve", "--listen", listen, "--data-dir"])
                .arg(data_dir)
                .env("RUST_LOG", "warn")
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn fieldsync serve");
            let stdout = child.stdout.take().expect("stdout");
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            if let Some(addr) = line.trim().strip_prefix("fieldsync relay listening on http://") {
                let addr = addr.parse().expect("address");
                return RelayProcess { child, addr, data_dir: data_dir.to_owned() };
            }
            // The port may still be held by the process we just killed: try again shortly.
            let _ = child.kill();
            let _ = child.wait();
            assert!(Instant::now() < deadline, "the relay did not start: {line:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The relay's process id (to read its memory from `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flush, like a power cut of the process.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills and starts again on the same address.
    pub fn restart(&mut self) {
        self.kill9();
        let again = RelayProcess::start_at(&self.data_dir, &self.addr.to_string());
        *self = again;
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A TCP proxy on loopback that forwards to `target`, counts bytes in both directions, and can
/// cut the first connection after a number of client→server bytes.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// Bytes client → server.
    pub up: Arc<AtomicU64>,
    /// Bytes server → client.
    pub down: Arc<AtomicU64>,
    cut_after: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts a proxy to `target`.
    pub fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let proxy = Proxy {
            addr: listener.local_addr().expect("addr"),
            up: Arc::default(),
            down: Arc::default(),
            cut_after: Arc::new(AtomicU64::new(u64::MAX)),
            stop: Arc::default(),
        };
        let p = proxy.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if p.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (c2, s2) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                let (up, cut) = (p.up.clone(), p.cut_after.clone());
                std::thread::spawn(move || pump(client, server, &up, Some(&cut)));
                let down = p.down.clone();
                std::thread::spawn(move || pump(s2, c2, &down, None));
            }
        });
        proxy
    }

    /// The proxy's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts the connection once this many more client→server bytes have passed (once).
    pub fn cut_after(&self, bytes: u64) {
        self.cut_after.store(self.up.load(Ordering::SeqCst) + bytes, Ordering::SeqCst);
    }

    /// Resets the byte counters.
    pub fn reset_counters(&self) {
        self.up.store(0, Ordering::SeqCst);
        self.down.store(0, Ordering::SeqCst);
    }

    /// Bytes both ways since the last reset.
    pub fn total(&self) -> (u64, u64) {
        (self.up.load(Ordering::SeqCst), self.down.load(Ordering::SeqCst))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, counter: &AtomicU64, cut: Option<&AtomicU64>) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut n = n;
        if let Some(cut) = cut {
            let before = counter.load(Ordering::SeqCst);
            let limit = cut.load(Ordering::SeqCst);
            if before + n as u64 >= limit {
                n = limit.saturating_sub(before) as usize;
                let _ = to.write_all(&buffer[..n]);
                counter.fetch_add(n as u64, Ordering::SeqCst);
                cut.store(u64::MAX, Ordering::SeqCst); // only once
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
        counter.fetch_add(n as u64, Ordering::SeqCst);
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A minimal HTTP/1.1 request over a fresh connection (`Connection: close`), for tests that
/// must send exactly what they mean (bad bodies, other tenants' tokens).
pub fn raw_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    stream.write_all(body).expect("write body");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, head, response[split + 4..].to_vec())
}

/// A front for a relay that damages one change in the first sync answer that carries changes
/// (one bit of its last byte), and passes everything else through unchanged: a relay answering a
/// page with one corrupt entry, as an older relay that stored such a change would.
#[derive(Debug)]
pub struct CorruptingFront {
    /// Where devices connect.
    pub addr: SocketAddr,
    corrupted: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl CorruptingFront {
    /// Listens on a free loopback port in front of `relay`.
    pub fn start(relay: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let corrupted = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (corrupted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let count = count.clone();
                        std::thread::spawn(move || Self::serve(stream, relay, &count));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CorruptingFront { addr, corrupted, stop }
    }

    /// The base URL devices use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many changes it damaged (0 or 1).
    pub fn corrupted(&self) -> u64 {
        self.corrupted.load(Ordering::SeqCst)
    }

    fn serve(mut stream: TcpStream, relay: SocketAddr, corrupted: &AtomicU64) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) =
            (parts.next().unwrap_or("GET").to_owned(), parts.next().unwrap_or("/").to_owned());
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.trim_end().split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                match name.as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "authorization" | "content-type" | "range" | "content-range" => {
                        headers.push((name, value))
                    }
                    _ => {}
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let (status, head, mut answer) = raw_http(relay, &method, &path, &headers, &body);
        if path == "/v1/sync" && status == 200 && corrupted.load(Ordering::SeqCst) == 0 {
            use fieldsync_core::sync::wire::SyncResponse;
            if let Ok(mut response) = SyncResponse::decode(&answer)
                && let Some(change) = response.changes.first_mut()
            {
                let last = change.bytes.len() - 1;
                change.bytes[last] ^= 0x01;
                answer = response.encode();
                corrupted.fetch_add(1, Ordering::SeqCst);
            }
        }
        let content_type = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-type")))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| "application/octet-stream".into());
        let reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            answer.len()
        );
        let _ = stream.write_all(reply.as_bytes());
        let _ = stream.write_all(&answer);
    }
}

impl Drop for CorruptingFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A phone for the end-to-end tests: a real store and the real HTTP client, enrolled.
#[derive(Debug)]
pub struct Device {
    /// The phone's store.
    pub store: fieldsync_core::Store,
    /// Its client for the relay.
    pub client: fieldsync_core::sync::client::RelayClient,
    dir: tempfile::TempDir,
}

impl Device {
    /// The phone's private folder (its store and files such as photos).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Enrolls a new phone at `url` with a one-time `code`; the client retries briefly.
pub async fn enroll(url: &str, code: &str) -> Device {
    use fieldsync_core::sync::client::{RelayClient, RetryPolicy};
    let dir = tempfile::tempdir().expect("temp dir");
    let store = fieldsync_core::Store::open(dir.path().join("phone.fieldsync")).expect("store");
    let client = RelayClient::new(url).expect("client").with_retry(RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..RetryPolicy::default()
    });
    client.enroll(&store, code, "test phone").await.expect("enroll");
    Device { store, client, dir }
}
