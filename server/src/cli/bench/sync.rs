//! `fieldsync bench sync-…`: the sync figures of DESIGN §8, against a real relay process on
//! loopback. Bytes are counted by a TCP proxy between device and relay: what crossed the socket,
//! HTTP headers included. Each scenario also measures a reference in the same run.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use automerge::Automerge;
use fieldsync_core::model::{NewCustomer, NewVisit, Record, SCHEMA_VERSION, Visit};
use fieldsync_core::store::PushLimits;
use fieldsync_core::sync::client::RelayClient;
use fieldsync_core::sync::wire::{PushedChange, SyncRequest};
use fieldsync_core::{DeviceIdentity, DocId, Store};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::emit;
use crate::cli::admin::{self, AdminCommand};
use crate::process::quantile;

/// A relay process started for a benchmark; killed on drop.
struct BenchRelay {
    child: Child,
    addr: SocketAddr,
}

impl BenchRelay {
    fn start(data_dir: &Path) -> Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "error")
            // The simulated devices run faster than any phone and all connect from loopback:
            // the figures are the relay's own capacity, not its per-device rate limits or its
            // per-address connection cap (docs/benchmarks.md).
            .env("FIELDSYNC_RATE_LIMITS", "false")
            .env("FIELDSYNC_MAX_CONNECTIONS_PER_IP", "4096")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().context("stdout")?),
            &mut line,
        )?;
        let addr = line
            .trim()
            .strip_prefix("fieldsync relay listening on http://")
            .context("relay did not start")?
            .parse()?;
        Ok(BenchRelay { child, addr })
    }

    /// CPU seconds (user + system) the relay process has used.
    fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(&format!("/proc/{}/stat", self.child.id()))
    }

    fn rss_mb(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib: f64 =
            status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for BenchRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cpu_seconds_of(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the command name (which may contain spaces) — utime and stime are 14 and 15.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Counts the bytes crossing it in both directions.
#[derive(Clone)]
struct CountingProxy {
    addr: SocketAddr,
    up: Arc<AtomicU64>,
    down: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start(target: SocketAddr) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let proxy = CountingProxy { addr: listener.local_addr()?, up: Arc::default(), down: Arc::default() };
        let (up, down) = (proxy.up.clone(), proxy.down.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, up.clone()));
                tokio::spawn(pump(sr, cw, down.clone()));
            }
        });
        Ok(proxy)
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn take(&self) -> (u64, u64) {
        (self.up.swap(0, Ordering::SeqCst), self.down.swap(0, Ordering::SeqCst))
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    counter: Arc<AtomicU64>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
                counter.fetch_add(n as u64, Ordering::SeqCst);
            }
        }
    }
    let _ = to.shutdown().await;
}

fn codes(data_dir: &Path, reps: u32, tenant: &str) -> Result<Vec<String>> {
    team_codes(data_dir, reps, 0, tenant)
}

/// A new tenant with one team `bench` of `reps` reps and `supervisors` supervisors: the admin
/// command's answer (ids, and each user with an enrollment code).
pub(crate) fn bootstrap(
    data_dir: &Path,
    reps: u32,
    supervisors: u32,
    tenant: &str,
) -> Result<serde_json::Value> {
    admin::run(
        data_dir,
        AdminCommand::Bootstrap { tenant: tenant.into(), team: "bench".into(), reps, supervisors, admins: 0 },
    )
}

/// Enrollment codes of a new team: its reps' first, then its supervisors'.
fn team_codes(data_dir: &Path, reps: u32, supervisors: u32, tenant: &str) -> Result<Vec<String>> {
    let out = bootstrap(data_dir, reps, supervisors, tenant)?;
    Ok(out["users"]
        .as_array()
        .context("users")?
        .iter()
        .filter_map(|u| u["code"].as_str().map(str::to_owned))
        .collect())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

pub(crate) fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Creates `n` customers on a device in batches.
fn fill(store: &Store, n: u32) -> Result<()> {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        store.create_batch(
            chunk
                .iter()
                .map(|i| NewCustomer {
                    company_name: format!("苏州第{i}机械有限公司"),
                    phones: vec![format!("138{i:08}")],
                    address: Some("苏州工业园区星湖街 328 号".into()),
                    tags: vec!["机械".into()],
                    ..Default::default()
                })
                .collect(),
        )?;
    }
    Ok(())
}

/// `sync-fresh`: a supervisor's new phone pulls a team of `documents` customers (each with the
/// relay's ownership listing, so twice as many Automerge documents). A supervisor receives every
/// document of the team, so the reference — `Automerge::load` of every snapshot the relay holds
/// for the team — is exactly what the phone received, checked by count.
///
/// Filling the relay takes about a minute; with `--dir` a later run reuses the filled relay of an
/// earlier one (same `documents`) and enrolls a new phone for its supervisor.
pub fn fresh(documents: u32, work: &Path) -> Result<()> {
    let data = work.join("relay-fresh");
    let filled = work.join(format!("relay-fresh-supervisor-{documents}"));
    let supervisor_code = match std::fs::read_to_string(&filled) {
        Ok(user) => {
            let out = admin::run(&data, AdminCommand::EnrollmentCode { user: user.trim().to_owned() })?;
            Some(out["code"].as_str().context("code")?.to_owned())
        }
        Err(_) => None,
    };
    let codes = match &supervisor_code {
        Some(code) => vec![code.clone()],
        None => {
            let _ = std::fs::remove_dir_all(&data);
            team_codes(&data, 1, 1, "fresh")?
        }
    };
    let relay = BenchRelay::start(&data)?;
    runtime()?.block_on(async {
        let proxy = CountingProxy::start(relay.addr).await?;
        let client = RelayClient::new(&proxy.url())?;
        if supervisor_code.is_none() {
            let writer = Store::open(work.join("writer.fieldsync"))?;
            client.enroll(&writer, &codes[0], "writer").await?;
            fill(&writer, documents)?;
            client.sync(&writer, |_| {}).await?;
            let supervisor = rusqlite::Connection::open(data.join("relay.sqlite"))?.query_row(
                "SELECT user_id FROM users WHERE role = 'supervisor'",
                [],
                |r| r.get::<_, String>(0),
            )?;
            std::fs::write(&filled, supervisor)?;
        }
        let reader_path = work.join("fresh.fieldsync");
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", reader_path.display()));
        }
        let reader = Store::open(&reader_path)?;
        client.enroll(&reader, codes.last().context("no code")?, "fresh").await?;
        proxy.take();
        let transactions_before = reader.write_transactions();
        let started = Instant::now();
        let report = client.sync(&reader, |_| {}).await?;
        let seconds = started.elapsed().as_secs_f64();
        let transactions = reader.write_transactions() - transactions_before;
        let (up, down) = proxy.take();
        let customers = reader.customer_count()?;
        if customers != u64::from(documents) {
            bail!("the fresh device has {customers} customers, expected {documents}");
        }
        let received = reader.document_count()?;
        // Reference: the unavoidable decoding work — loading the same snapshots with Automerge.
        let snapshots: Vec<Vec<u8>> = {
            let conn = rusqlite::Connection::open(data.join("relay.sqlite"))?;
            let mut statement = conn.prepare("SELECT snapshot FROM documents")?;
            statement.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
        };
        if snapshots.len() as u64 != received {
            bail!("the relay holds {} documents; the device received {received}", snapshots.len());
        }
        let reference_started = Instant::now();
        for snapshot in &snapshots {
            Automerge::load(snapshot)?;
        }
        let reference_seconds = reference_started.elapsed().as_secs_f64();
        // The phone's added intake check alone (the snapshot checksums it verifies itself).
        let check_started = Instant::now();
        for snapshot in &snapshots {
            fieldsync_core::sync::intake::verify_document_checksum(snapshot)?;
        }
        let check_seconds = check_started.elapsed().as_secs_f64();
        emit(json!({
            "bench": "sync-fresh",
            "intake_check_seconds": round3(check_seconds),
            "intake_check_ratio_to_reference": round3(check_seconds / reference_seconds),
            "customers": documents,
            "documents": received,
            "seconds": round3(seconds),
            "requests": report.progress.requests,
            "sqlite_write_transactions": transactions,
            "bytes_up": up,
            "bytes_down": down,
            "target_seconds": 0.5,
            "reference_seconds": round3(reference_seconds),
            "ratio_to_reference": round3(seconds / reference_seconds),
            "reference": "Automerge::load of the same snapshots in this process (decoding only, no network, no SQLite)",
        }));
        anyhow::Ok(())
    })
}

/// `sync-noop`: reconnect with nothing changed, `documents` on the device.
pub fn noop(documents: u32, samples: u32, work: &Path) -> Result<()> {
    let data = work.join("relay-noop");
    let codes = codes(&data, 1, "noop")?;
    let relay = BenchRelay::start(&data)?;
    runtime()?.block_on(async {
        let proxy = CountingProxy::start(relay.addr).await?;
        let device = Store::open(work.join("noop.fieldsync"))?;
        let client = RelayClient::new(&proxy.url())?;
        client.enroll(&device, &codes[0], "noop").await?;
        fill(&device, documents)?;
        client.sync(&device, |_| {}).await?;
        client.sync(&device, |_| {}).await?; // warm connection, as a reconnecting phone's would not be
        let mut latencies = Vec::new();
        let mut bytes = Vec::new();
        let mut requests = Vec::new();
        for _ in 0..samples {
            proxy.take();
            let started = Instant::now();
            let report = client.sync(&device, |_| {}).await?;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            let (up, down) = proxy.take();
            bytes.push((up, down));
            requests.push(report.progress.requests);
        }
        // Reference: GET /healthz through the same proxy and a raw client on a new connection.
        let mut reference = Vec::new();
        for _ in 0..samples {
            let started = Instant::now();
            raw_get(proxy.addr, "/healthz").await?;
            reference.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        latencies.sort_by(f64::total_cmp);
        reference.sort_by(f64::total_cmp);
        let (up, down) = bytes.last().copied().unwrap_or_default();
        let p50 = quantile(&latencies, 0.5);
        emit(json!({
            "bench": "sync-noop",
            "documents_on_device": documents,
            "samples": samples,
            "requests": requests.iter().max(),
            "bytes_up": up,
            "bytes_down": down,
            "bytes_total": up + down,
            "ms_p50": round3(p50),
            "ms_p99": round3(quantile(&latencies, 0.99)),
            "target": "1 request, <= 2048 bytes, <= 30 ms",
            "reference_ms_p50": round3(quantile(&reference, 0.5)),
            "ratio_to_reference": round3(p50 / quantile(&reference, 0.5)),
            "reference": "GET /healthz (one storage read) on a new connection through the same proxy",
        }));
        anyhow::Ok(())
    })
}

async fn raw_get(addr: SocketAddr, path: &str) -> Result<()> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    if !response.starts_with(b"HTTP/1.1 200") {
        bail!("healthz failed");
    }
    Ok(())
}

/// `sync-visit-bytes`: bytes on the wire to push one new visit record (no photo).
pub fn visit_bytes(work: &Path) -> Result<()> {
    let data = work.join("relay-visit");
    let codes = codes(&data, 1, "visit")?;
    let relay = BenchRelay::start(&data)?;
    runtime()?.block_on(async {
        let proxy = CountingProxy::start(relay.addr).await?;
        let device = Store::open(work.join("visit.fieldsync"))?;
        let client = RelayClient::new(&proxy.url())?;
        client.enroll(&device, &codes[0], "visit").await?;
        let customer = device.create(NewCustomer { company_name: "苏州精工机械有限公司".into(), ..Default::default() })?;
        client.sync(&device, |_| {}).await?;
        let visit: Visit = device.create(NewVisit {
            customer_id: customer.id,
            opportunity_id: None,
            planned_at: 1_795_654_800_000,
            notes: "客户对新型号感兴趣，下周送样".into(),
        })?;
        let change_bytes = device.outbox(1)?.first().map(|e| e.size_bytes).unwrap_or(0);
        let request_body = device.prepare_sync(PushLimits::default())?.request.encode().len();
        proxy.take();
        let report = client.sync(&device, |_| {}).await?;
        let (up, down) = proxy.take();
        if device.outbox_len()? != 0 || report.progress.requests != 1 {
            bail!("the visit did not go up in one request");
        }
        emit(json!({
            "bench": "sync-visit-bytes",
            "visit": visit.id.to_string(),
            "bytes_up": up,
            "bytes_down": down,
            "bytes_total": up + down,
            "target_bytes": 600,
            "change_bytes_raw": change_bytes,
            "request_body_bytes": request_body,
            "response_body_bytes": report.progress.bytes_down,
            "http_overhead_bytes": (up + down) as i64 - request_body as i64 - report.progress.bytes_down as i64,
        }));
        anyhow::Ok(())
    })
}

/// `sync-ingest`: `devices` simulated devices (in teams of `team_size`) push `rounds` requests
/// of `per_request` new visits each, concurrently. With `rate` = 0 each device sends its next
/// request as soon as the last is answered (closed loop: the relay's saturation throughput, with
/// latency ≈ devices / throughput by Little's law). With `rate` > 0 the devices together offer
/// `rate` changes per second on a fixed schedule (open loop), and latency is measured from each
/// request's scheduled time, so a slow relay cannot hide its queueing (no coordinated omission).
pub fn ingest(
    devices: u32,
    team_size: u32,
    rounds: u32,
    per_request: u32,
    rate: u32,
    work: &Path,
) -> Result<()> {
    let data = work.join("relay-ingest");
    let mut all_codes = Vec::new();
    for team in 0..devices.div_ceil(team_size) {
        all_codes.extend(codes(&data, team_size.min(devices - team * team_size), &format!("tenant {team}"))?);
    }
    let relay = BenchRelay::start(&data)?;
    let url = format!("http://{}", relay.addr);
    let rt = runtime()?;
    let relay_cpu_before = relay.cpu_seconds();
    let own_cpu_before = cpu_seconds_of("/proc/self/stat");
    let (latencies, accepted, seconds, pushed) = rt.block_on(async {
        // Enroll everyone and prepare every change before the clock starts: the figure is the
        // relay's, not the simulation's.
        let client = RelayClient::new(&url)?;
        let mut simulated = Vec::new();
        for (i, code) in all_codes.iter().enumerate() {
            let identity = DeviceIdentity::generate()?;
            let (_, token) = client.enroll_identity(&identity, code, &format!("sim {i}")).await?;
            let requests: Vec<Vec<PushedChange>> = (0..rounds)
                .map(|round| {
                    (0..per_request).map(|n| new_visit_change(&identity, round * per_request + n)).collect()
                })
                .collect::<Result<_>>()?;
            simulated.push((token, requests));
        }
        let pushed: Vec<Vec<u8>> =
            simulated.iter().flat_map(|(_, r)| r.iter().flatten().map(|c| c.bytes.clone())).collect();
        let started = Instant::now();
        // Open loop: each device sends every `interval`, devices evenly staggered.
        let interval = (rate > 0)
            .then(|| std::time::Duration::from_secs_f64(f64::from(devices * per_request) / f64::from(rate)));
        let mut tasks = Vec::new();
        for (index, (token, requests)) in simulated.into_iter().enumerate() {
            let client = client.clone();
            let offset = interval.map(|i| i.mul_f64(index as f64 / f64::from(devices)));
            tasks.push(tokio::spawn(async move {
                let mut cursor = Vec::new();
                let mut latencies = Vec::new();
                let mut accepted = 0u64;
                for (round, changes) in requests.into_iter().enumerate() {
                    let request =
                        SyncRequest { cursor: cursor.clone(), max_response_bytes: 1 << 20, changes };
                    let t = match (interval, offset) {
                        (Some(interval), Some(offset)) => {
                            let scheduled = started + offset + interval.mul_f64(round as f64);
                            tokio::time::sleep_until(scheduled.into()).await;
                            scheduled
                        }
                        _ => Instant::now(),
                    };
                    let response = client.exchange(&token, &request).await?;
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    accepted += u64::from(response.accepted);
                    cursor = response.cursor;
                }
                anyhow::Ok((latencies, accepted))
            }));
        }
        let mut latencies = Vec::new();
        let mut accepted = 0;
        for task in tasks {
            let (l, a) = task.await??;
            latencies.extend(l);
            accepted += a;
        }
        anyhow::Ok((latencies, accepted, started.elapsed().as_secs_f64(), pushed))
    })?;
    let (latencies, accepted, seconds, pushed) = (latencies, accepted, seconds, pushed);
    let (check_us, plain_us) = intake_cost(&pushed)?;
    let relay_cpu = relay.cpu_seconds().zip(relay_cpu_before).map(|(a, b)| a - b);
    let client_cpu = cpu_seconds_of("/proc/self/stat").zip(own_cpu_before).map(|(a, b)| a - b);
    let mut latencies = latencies;
    latencies.sort_by(f64::total_cmp);
    let expected = u64::from(devices * rounds * per_request);
    if accepted != expected {
        bail!("the relay accepted {accepted} of {expected} changes");
    }
    emit(json!({
        "bench": "sync-ingest",
        "devices": devices,
        "team_size": team_size,
        "mode": if rate > 0 { "open loop" } else { "closed loop" },
        "offered_changes_per_s": (rate > 0).then_some(rate),
        "requests": latencies.len(),
        "changes": accepted,
        "seconds": round3(seconds),
        "changes_per_s": (accepted as f64 / seconds).round(),
        "p50_ms": round3(quantile(&latencies, 0.5)),
        "p99_ms": round3(quantile(&latencies, 0.99)),
        "relay_rss_mb": relay.rss_mb().map(round3),
        "relay_cpu_seconds": relay_cpu.map(round3),
        "client_cpu_seconds": client_cpu.map(round3),
        "intake_check_us_per_change": round3(check_us),
        "plain_apply_us_per_change": round3(plain_us),
        "intake_check_ratio_to_plain_apply": round3(check_us / plain_us),
        "target": ">= 5000 changes/s, p99 <= 100 ms",
        "note": "client and relay share the machine's 2 cores",
    }));
    Ok(())
}

/// The relay's intake check of each pushed change alone (`verify_change` + `check_pushed`: the
/// checksum, a copy under the panic guard, hydration and validation), in microseconds per
/// change, against what the intake did before these checks (`Change::from_bytes`,
/// `apply_changes`, `check_document`), measured here on the same changes.
fn intake_cost(pushed: &[Vec<u8>]) -> Result<(f64, f64)> {
    use fieldsync_core::sync::intake;
    let empty = Automerge::new();
    let started = Instant::now();
    for bytes in pushed {
        let change = intake::verify_change(bytes)?;
        intake::check_pushed(&empty, change).map_err(|r| anyhow::anyhow!(r.message))?;
    }
    let checked = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for bytes in pushed {
        let change = automerge::Change::from_bytes(bytes.clone())?;
        let mut doc = empty.clone();
        doc.apply_changes([change])?;
        fieldsync_core::model::check_document(&doc).map_err(anyhow::Error::msg)?;
    }
    let plain = started.elapsed().as_secs_f64();
    let per = |s: f64| s * 1e6 / pushed.len().max(1) as f64;
    Ok((per(checked), per(plain)))
}

/// One new-visit change made by a simulated device.
pub(crate) fn new_visit_change(identity: &DeviceIdentity, n: u32) -> Result<PushedChange> {
    use fieldsync_core::model::{Draft as _, NewVisit};
    let visit = NewVisit {
        customer_id: DocId::generate(),
        opportunity_id: None,
        planned_at: 1_795_654_800_000 + i64::from(n),
        notes: format!("模拟拜访 {n}"),
    }
    .into_record(
        DocId::generate(),
        fieldsync_core::model::Provenance { created_at: 1_795_654_800_000, created_by: identity.device_id() },
    );
    new_document_change(identity, &visit)
}

/// The one change that creates a document holding `record`, made by `identity` (as the store
/// would make it, without a store).
pub(crate) fn new_document_change<R: Record>(identity: &DeviceIdentity, record: &R) -> Result<PushedChange> {
    let mut doc = Automerge::new().with_actor(identity.device_id().actor_id());
    let mut tx = doc.transaction();
    automerge::transaction::Transactable::put(&mut tx, automerge::ROOT, "kind", R::KIND.as_str())?;
    automerge::transaction::Transactable::put(&mut tx, automerge::ROOT, "schema", SCHEMA_VERSION)?;
    autosurgeon::reconcile(&mut tx, record)?;
    tx.commit();
    let change = doc.get_last_local_change().context("no change")?;
    Ok(PushedChange { doc_id: record.id(), bytes: change.raw_bytes().to_vec() })
}

pub use super::workdir;
