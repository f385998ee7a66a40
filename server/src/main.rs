//! `fieldsync`: the relay and the operators' tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fieldsync_server::cli::admin::{self, AdminCommand};
use fieldsync_server::cli::{bench, dedup, demo, geo, import, incentive, lead, photo, push, qr, slip};
use fieldsync_server::config::{ConfigOverrides, RelayConfig};
use fieldsync_server::http::app::{self, AppState};

#[derive(Debug, Parser)]
#[command(name = "fieldsync", version, about = "Offline-first field sales: relay and tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sync relay (embedded SQLite + blob folder under the data directory).
    Serve {
        #[command(flatten)]
        config: ConfigOverrides,
    },
    /// Manage tenants, teams, users, enrollment codes and devices.
    Admin {
        /// Data directory of the relay.
        #[arg(long, env = "FIELDSYNC_DATA_DIR", default_value = "fieldsync-data")]
        data_dir: PathBuf,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Record a rep's offline morning in a real store and print what happened.
    Demo {
        /// Where the demo store goes.
        #[arg(long, default_value = "fieldsync-data/demo")]
        dir: PathBuf,
    },
    /// Read a photo's EXIF facts, or make its upload copy and thumbnail.
    Photo {
        #[command(subcommand)]
        command: PhotoCommand,
    },
    /// Score pairs of customers with the duplicate rule.
    Dedup {
        #[command(subcommand)]
        command: DedupCommand,
    },
    /// Import records from a spreadsheet into a store, through the duplicate check.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Parse the text of a lead card's QR code as the phone's scan does.
    Lead {
        #[command(subcommand)]
        command: LeadCommand,
    },
    /// Decode QR codes in photos of lead cards.
    Qr {
        #[command(subcommand)]
        command: QrCommand,
    },
    /// Convert coordinates between datums and say where GCJ-02 applies.
    Geo {
        #[command(subcommand)]
        command: GeoCommand,
    },
    /// Verify signed service slips.
    Slip {
        #[command(subcommand)]
        command: SlipCommand,
    },
    /// Web Push: VAPID keys, send a message to a subscription, decrypt one (docs/push.md).
    Push {
        #[command(subcommand)]
        command: push::PushCommand,
    },
    /// Incentive rules offline: check a rule book, pay reps from metric facts, try a candidate
    /// on past facts (docs/kpi.md). Prints JSON lines.
    Incentive {
        #[command(subcommand)]
        command: IncentiveCommand,
    },
    /// Run a benchmark; prints one JSON object per line.
    Bench {
        #[command(subcommand)]
        scenario: BenchScenario,
    },
}

#[derive(Debug, Subcommand)]
enum IncentiveCommand {
    /// Check a rule book (or one rule set) and list its versions.
    Check {
        /// The rules (JSON; docs/kpi.md).
        #[arg(long)]
        rules: PathBuf,
    },
    /// Pay every rep for every period of a facts file by the rules in force for it.
    Eval {
        /// The rule book (JSON).
        #[arg(long)]
        rules: PathBuf,
        /// Per-rep, per-period metric facts (JSON lines).
        #[arg(long)]
        facts: PathBuf,
        /// Today (YYYY-MM-DD, team time; default: today at UTC+8): later periods are refused.
        #[arg(long)]
        today: Option<String>,
        /// The team's reps, one user id per line: facts naming anyone else are refused.
        #[arg(long)]
        roster: Option<PathBuf>,
    },
    /// Compare a candidate rule set with the rules in force on the last N periods of facts.
    Sandbox {
        /// The rule book in force (JSON).
        #[arg(long)]
        rules: PathBuf,
        /// The candidate rule set (JSON).
        #[arg(long)]
        candidate: PathBuf,
        /// Per-rep, per-period metric facts (JSON lines).
        #[arg(long)]
        facts: PathBuf,
        /// How many of the latest periods to evaluate (at most three years' worth).
        #[arg(long, default_value_t = 3)]
        periods: usize,
        /// Today (YYYY-MM-DD).
        #[arg(long)]
        today: Option<String>,
        /// The team's reps, one per line.
        #[arg(long)]
        roster: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PhotoCommand {
    /// Print GPS (WGS-84), time taken, orientation and pixels as JSON; exit 1 on a broken file.
    Inspect {
        /// The JPEG.
        file: PathBuf,
    },
    /// Write the upright upload copy and thumbnail into DIR; print sizes and timings as JSON.
    Ingest {
        /// The JPEG.
        file: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum DedupCommand {
    /// Each input line {"a": {"name", "phone"}, "b": {…}} → {"score": 0..1, "decision": "same"|"possible"|"different"}.
    Pairs {
        /// JSON lines file.
        file: PathBuf,
    },
    /// Precision and recall of "same" on labelled sets (lines {"a", "b", "label": "same"|"different",
    /// "kind"}): one JSON line per file with the decisions per kind.
    Eval {
        /// JSON lines files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Customers from a .csv (UTF-8 or GBK) or .xlsx file: header row 公司名称/company, 电话/phone,
    /// 手机/mobile, 联系人/contact, 地址/address, 统一社会信用代码/credit code, 标签/tags. Rows that
    /// are the same company as a stored customer (or an earlier row) are merged into it; possible
    /// duplicates are created and listed for review.
    Customers {
        /// The spreadsheet.
        file: PathBuf,
        /// The store to import into (created if missing).
        #[arg(long)]
        store: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum LeadCommand {
    /// The parsed card as one JSON object (each phone with its E.164, extension, display and dial
    /// forms); exit 1 with the reason on stderr when the text is not a lead card.
    Parse {
        /// File holding the QR code's text (UTF-8, GBK, Big5, …); `-` or none reads stdin.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum QrCommand {
    /// One JSON line per file: {"file", "text"} or {"file", "error"}.
    Decode {
        /// Images (PNG or JPEG).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum GeoCommand {
    /// One JSON line per point: the input, the result, whether its WGS-84 position is in the
    /// GCJ-02 region and how far it moved. Points are LAT LON pairs, or "LAT LON" lines on stdin.
    Convert {
        /// Datum of the input: wgs84, gcj02 or bd09.
        #[arg(long, value_parser = geo::parse_datum)]
        from: fieldsync_core::geo::Datum,
        /// Datum of the result: wgs84, gcj02 or bd09.
        #[arg(long, value_parser = geo::parse_datum)]
        to: fieldsync_core::geo::Datum,
        /// LAT LON [LAT LON ...]; without them, lines are read from standard input.
        #[arg(allow_negative_numbers = true)]
        points: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SlipCommand {
    /// Check a slip document's signature: prints "valid: …" (exit 0) or "invalid: <reason>"
    /// (exit 1, also for a slip with fields of the wrong type); a file that is not a slip
    /// document at all exits 2.
    Verify {
        /// The slip's Automerge document (as exported by the store or stored by the relay).
        file: PathBuf,
        /// Also check the signature strokes and image blobs, stored as DIR/<sha256>.
        #[arg(long)]
        blobs: Option<PathBuf>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BenchScenario {
    /// Photo ingest (copy + thumbnail + hashes) against djpeg|cjpeg doing the same scaling.
    Photo {
        /// Photos (default: the 9 MP fixture and a generated 12 MP photo).
        files: Vec<PathBuf>,
        /// Also run the libjpeg-turbo reference (needs djpeg and cjpeg on PATH).
        #[arg(long)]
        reference: bool,
    },
    /// Cost of the GCJ-02 region test per point, beside the GCJ-02 transform in the same run.
    Geo {
        /// Points per set (China's box, the world, near land borders).
        #[arg(long, default_value_t = 100_000)]
        points: usize,
    },
    /// QR decode time per image and decoded counts per fixture set.
    Qr {
        /// Images or directories (default: the shared fixtures' qr folder).
        files: Vec<PathBuf>,
    },
    /// Open a store of N documents; latency of recording a visit.
    Store {
        /// Documents in the store.
        #[arg(long, default_value_t = 50_000)]
        documents: u32,
        /// Visits recorded for the latency figures.
        #[arg(long, default_value_t = 500)]
        samples: u32,
        /// Times the store is opened, each in a fresh process.
        #[arg(long, default_value_t = 7)]
        opens: u32,
        /// Directory for the benchmark store (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The phone's duplicate check against N customers, and a full in-memory scan as reference.
    DedupLocal {
        /// Customers in the store.
        #[arg(long, default_value_t = 100_000)]
        customers: u32,
        /// Duplicate checks timed.
        #[arg(long, default_value_t = 2_000)]
        queries: u32,
        /// Queries also answered by the full scan.
        #[arg(long, default_value_t = 100)]
        reference_queries: u32,
        /// Directory for the benchmark store (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Fixed sync scenarios for the instruction-count guard (scripts/perf-guard.sh): `fresh`
    /// (a phone applies a page of snapshots) or `ingest` (visits pushed to an in-process relay).
    Guard {
        /// fresh or ingest.
        scenario: String,
        /// Snapshots in the page (fresh).
        #[arg(long, default_value_t = 2_000)]
        documents: u32,
        /// Changes pushed (ingest).
        #[arg(long, default_value_t = 1_000)]
        changes: u32,
        /// Changes per request (ingest).
        #[arg(long, default_value_t = 10)]
        per_request: u32,
        /// The scenario's input: made and written there with `--prepare`, read from there
        /// otherwise (so that callgrind counts the scenario, not the making of its data). Without
        /// it the input is made in the same process.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Write the input to `--input` and stop.
        #[arg(long, requires = "input")]
        prepare: bool,
        /// Directory for scratch data (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// A new device pulls N documents from a relay (loopback).
    SyncFresh {
        /// Documents to pull.
        #[arg(long, default_value_t = 12_000)]
        documents: u32,
        /// Directory for scratch data (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Reconnect with nothing changed: requests, bytes both ways, latency.
    SyncNoop {
        /// Documents on the device.
        #[arg(long, default_value_t = 10_000)]
        documents: u32,
        /// Reconnects measured.
        #[arg(long, default_value_t = 50)]
        samples: u32,
        /// Directory for scratch data.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Simulated devices pushing concurrently: changes/s, p99 latency, relay RSS.
    SyncIngest {
        /// Simulated devices.
        #[arg(long, default_value_t = 200)]
        devices: u32,
        /// Devices per team (each team is its own tenant).
        #[arg(long, default_value_t = 10)]
        team_size: u32,
        /// Requests per device.
        #[arg(long, default_value_t = 20)]
        rounds: u32,
        /// New visits per request.
        #[arg(long, default_value_t = 5)]
        per_request: u32,
        /// Offered load in changes/s on a fixed schedule (0 = closed loop, as fast as answered).
        #[arg(long, default_value_t = 0)]
        rate: u32,
        /// Directory for scratch data.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Bytes on the wire to push one new visit.
    SyncVisitBytes {
        /// Directory for scratch data.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Identity resolution on the relay with a team of N customers: lookup + scoring per
    /// incoming customer, and pushes end to end through the writer.
    RelayDedup {
        /// Customers in the team.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u32,
        /// Incoming customers timed for lookup + scoring.
        #[arg(long, default_value_t = 2_000)]
        probes: u32,
        /// Customers that are also real documents, and pushes timed end to end.
        #[arg(long, default_value_t = 500)]
        documents: u32,
        /// Directory for scratch data.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Web Push messages the relay's deliverer sends per second to a loopback receiver, against
    /// bare HTTP POSTs of the same size.
    PushDelivery {
        /// Supervisors' devices, one subscription each.
        #[arg(long, default_value_t = 100)]
        subscriptions: u32,
        /// Alerts raised; each goes to every subscription.
        #[arg(long, default_value_t = 50)]
        alerts: u32,
        /// Requests in flight at most.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Directory for scratch data.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The stall scheduler with N open deals of which some are due: draining them (alerts
    /// written), an idle tick, and the due query with and without its index.
    Scheduler {
        /// Open deals.
        #[arg(long, default_value_t = 1_000_000)]
        opportunities: u32,
        /// Per mille of them due (10 = 1 %).
        #[arg(long, default_value_t = 10)]
        due_per_mille: u32,
        /// Deals one tick looks at, at most (the serve loop's default).
        #[arg(long, default_value_t = 5_000)]
        batch: u32,
        /// Directory for scratch data.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The public pool's tick with N owned customers of which D fell due: draining them (each
    /// returned to the pool, its listing rewritten), an idle tick, and the due query with and
    /// without its index.
    Pool {
        /// Owned customers.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u32,
        /// Of which due.
        #[arg(long, default_value_t = 1_000)]
        due: u32,
        /// Rows one tick looks at, at most (the serve loop's default).
        #[arg(long, default_value_t = 5_000)]
        batch: u32,
        /// Directory for scratch data.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Logging a follow-up (a call with its summary and next action) on a store of N documents,
    /// against a bare durable SQLite insert.
    Activity {
        /// Documents in the store.
        #[arg(long, default_value_t = 20_000)]
        documents: u32,
        /// Activities logged for the latency figures.
        #[arg(long, default_value_t = 500)]
        samples: u32,
        /// Directory for the benchmark store (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// One customer's timeline of N entries among many other records: the first page and every
    /// page, against a plain indexed read of one page.
    Timeline {
        /// Documents in the store, the timeline's included.
        #[arg(long, default_value_t = 20_000)]
        documents: u32,
        /// Entries in the customer's timeline.
        #[arg(long, default_value_t = 500)]
        entries: u32,
        /// Entries per page (the demo app's page).
        #[arg(long, default_value_t = 30)]
        page: u32,
        /// Times each read is timed.
        #[arg(long, default_value_t = 200)]
        samples: u32,
        /// Directory for the benchmark store (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The console's funnel page of a team with `deals` deals, rendered by the relay's router in
    /// this process: server time p50/p99 against `GET /healthz` (docs/console.md).
    Console {
        /// Deals in the team.
        #[arg(long, default_value_t = 10_000)]
        deals: u32,
        /// Times each page is rendered.
        #[arg(long, default_value_t = 200)]
        samples: u32,
    },
    /// KPIs on a generated team: a rep's dashboard from two years of records, the repair path
    /// for a team-year, and the incentive sandbox over four quarters (docs/kpi.md).
    Kpi {
        /// Reps in the team.
        #[arg(long, default_value_t = 100)]
        reps: u32,
        /// Days of one rep's history for the dashboard.
        #[arg(long, default_value_t = 730)]
        days: u32,
        /// Times the dashboard is computed.
        #[arg(long, default_value_t = 200)]
        samples: u32,
    },
    /// Internal: open one store in this process and report (used by `bench store`).
    #[command(hide = true)]
    StoreOpen { path: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Slip { command: SlipCommand::Verify { file, blobs, json } } => {
            return match slip::verify_file(&file, blobs.as_deref()) {
                Ok(verdict) => {
                    if json {
                        println!("{}", verdict.json);
                    } else {
                        println!("{}", verdict.line);
                    }
                    if verdict.valid { ExitCode::SUCCESS } else { ExitCode::FAILURE }
                }
                Err(e) => {
                    eprintln!("fieldsync: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Push { command } => return push::run(command),
        Command::Serve { config } => serve(&config),
        Command::Admin { data_dir, command } => admin::run(&data_dir, command).map(|out| println!("{out}")),
        Command::Demo { dir } => demo::run(&dir).map(|report| print!("{report}")),
        Command::Bench { scenario: BenchScenario::Store { documents, samples, opens, dir } } => {
            bench::store::run(&bench::store::StoreBench { documents, samples, opens, dir })
        }
        Command::Bench { scenario: BenchScenario::StoreOpen { path } } => bench::store::open_once(&path),
        Command::Bench {
            scenario: BenchScenario::DedupLocal { customers, queries, reference_queries, dir },
        } => bench::dedup::run(&bench::dedup::DedupBench { customers, queries, reference_queries, dir }),
        Command::Photo { command: PhotoCommand::Inspect { file } } => {
            photo::inspect(&file).map(|v| println!("{v}"))
        }
        Command::Photo { command: PhotoCommand::Ingest { file, out } } => {
            photo::ingest(&file, &out).map(|v| println!("{v}"))
        }
        Command::Dedup { command: DedupCommand::Pairs { file } } => {
            dedup::pairs(&file).and_then(|(lines, bad)| print_lines(lines, bad, "some lines are not pairs"))
        }
        Command::Dedup { command: DedupCommand::Eval { files } } => {
            files.iter().try_for_each(|file| dedup::eval(file).map(|line| println!("{line}")))
        }
        Command::Import { command: ImportCommand::Customers { file, store } } => {
            import::import_customers(&file, &store).map(|report| print!("{report}"))
        }
        Command::Geo { command: GeoCommand::Convert { from, to, points } } => geo::convert(from, to, &points)
            .and_then(|(lines, failed)| print_lines(lines, failed, "some points could not be converted")),
        Command::Bench { scenario: BenchScenario::Geo { points } } => {
            geo::bench(points).map(|lines| lines.into_iter().for_each(bench::emit))
        }
        Command::Incentive { command } => {
            let lines = match command {
                IncentiveCommand::Check { rules } => incentive::check(&rules),
                IncentiveCommand::Eval { rules, facts, today, roster } => {
                    incentive::eval(&rules, &facts, today.as_deref(), roster.as_deref())
                }
                IncentiveCommand::Sandbox { rules, candidate, facts, periods, today, roster } => {
                    incentive::sandbox_cmd(
                        &rules,
                        &candidate,
                        &facts,
                        periods,
                        today.as_deref(),
                        roster.as_deref(),
                    )
                }
            };
            lines.map(|lines| {
                for line in lines {
                    println!("{line}");
                }
            })
        }
        Command::Lead { command: LeadCommand::Parse { file } } => {
            lead::parse(file.as_deref()).map(|card| println!("{card}"))
        }
        Command::Qr { command: QrCommand::Decode { files } } => {
            let lines = qr::decode_files(&files);
            let failed = lines.iter().any(|l| l.get("error").is_some());
            print_lines(lines, failed, "some files could not be decoded")
        }
        Command::Bench { scenario: BenchScenario::Photo { files, reference } } => {
            photo::bench_photo(&files, reference).map(|lines| lines.into_iter().for_each(bench::emit))
        }
        Command::Bench { scenario: BenchScenario::Qr { files } } => {
            let files = if files.is_empty() {
                vec![photo::fixtures_dir().map(|d| d.join("qr")).unwrap_or_default()]
            } else {
                files
            };
            qr::bench_qr(&files).map(|lines| lines.into_iter().for_each(bench::emit))
        }
        Command::Bench {
            scenario: BenchScenario::Guard { scenario, documents, changes, per_request, input, prepare, dir },
        } => bench::sync::workdir(dir).and_then(|(_t, d)| {
            use bench::guard;
            let make = || match scenario.as_str() {
                "fresh" => guard::fresh_input(documents),
                "ingest" => guard::ingest_input(changes, per_request),
                other => Err(anyhow::anyhow!("unknown guard scenario {other}: fresh or ingest")),
            };
            let items = match (&input, prepare) {
                (Some(path), true) => return make().and_then(|items| guard::write_input(path, &items)),
                (Some(path), false) => guard::read_input(path)?,
                (None, _) => make()?,
            };
            match scenario.as_str() {
                "fresh" => guard::fresh(items, &d),
                _ => guard::ingest(items, per_request, &d),
            }
        }),
        Command::Bench { scenario: BenchScenario::SyncFresh { documents, dir } } => {
            bench::sync::workdir(dir).and_then(|(_t, d)| bench::sync::fresh(documents, &d))
        }
        Command::Bench { scenario: BenchScenario::SyncNoop { documents, samples, dir } } => {
            bench::sync::workdir(dir).and_then(|(_t, d)| bench::sync::noop(documents, samples, &d))
        }
        Command::Bench {
            scenario: BenchScenario::SyncIngest { devices, team_size, rounds, per_request, rate, dir },
        } => bench::sync::workdir(dir)
            .and_then(|(_t, d)| bench::sync::ingest(devices, team_size, rounds, per_request, rate, &d)),
        Command::Bench { scenario: BenchScenario::RelayDedup { customers, probes, documents, dir } } => {
            bench::sync::workdir(dir).and_then(|(_t, d)| {
                bench::identity::run(&bench::identity::IdentityBench { customers, probes, documents }, &d)
            })
        }
        Command::Bench {
            scenario: BenchScenario::PushDelivery { subscriptions, alerts, concurrency, dir },
        } => bench::sync::workdir(dir).and_then(|(_t, d)| {
            bench::push::run(&bench::push::PushDeliveryBench { subscriptions, alerts, concurrency }, &d)
        }),
        Command::Bench {
            scenario: BenchScenario::Scheduler { opportunities, due_per_mille, batch, dir },
        } => bench::sync::workdir(dir).and_then(|(_t, d)| {
            bench::alerts::run(&bench::alerts::SchedulerBench { opportunities, due_per_mille, batch }, &d)
        }),
        Command::Bench { scenario: BenchScenario::Pool { customers, due, batch, dir } } => {
            bench::sync::workdir(dir)
                .and_then(|(_t, d)| bench::pool::run(&bench::pool::PoolBench { customers, due, batch }, &d))
        }
        Command::Bench { scenario: BenchScenario::SyncVisitBytes { dir } } => {
            bench::sync::workdir(dir).and_then(|(_t, d)| bench::sync::visit_bytes(&d))
        }
        Command::Bench { scenario: BenchScenario::Activity { documents, samples, dir } } => {
            bench::follow_ups::run_activity(&bench::follow_ups::ActivityBench { documents, samples, dir })
        }
        Command::Bench { scenario: BenchScenario::Console { deals, samples } } => {
            bench::console::run(&bench::console::ConsoleBench { deals, samples })
        }
        Command::Bench { scenario: BenchScenario::Kpi { reps, days, samples } } => {
            bench::kpi::run(&bench::kpi::KpiBench { reps, days, samples })
        }
        Command::Bench { scenario: BenchScenario::Timeline { documents, entries, page, samples, dir } } => {
            bench::follow_ups::run_timeline(&bench::follow_ups::TimelineBench {
                documents,
                entries,
                page,
                samples,
                dir,
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fieldsync: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints JSON lines; fails (exit 1) when any of them reported an error, after printing all.
fn print_lines(lines: Vec<serde_json::Value>, failed: bool, what: &str) -> anyhow::Result<()> {
    for line in lines {
        println!("{line}");
    }
    if failed { Err(anyhow::anyhow!("{what} (see their error lines)")) } else { Ok(()) }
}

fn serve(overrides: &ConfigOverrides) -> anyhow::Result<()> {
    let config = RelayConfig::load(overrides)?;
    init_tracing(&config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let state = AppState::open(config.clone())?;
        tracing::info!(data_dir = %config.data_dir.display(), "relay storage open");
        app::serve(state, |address| {
            // Tests and scripts read this line to learn the port (with --listen 127.0.0.1:0).
            println!("fieldsync relay listening on http://{address}");
            tracing::info!(%address, "listening");
        })
        .await?;
        Ok(())
    })
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
