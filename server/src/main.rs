//! `fieldsync`: the relay and the operators' tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fieldsync_server::{bench, demo};

#[derive(Debug, Parser)]
#[command(name = "fieldsync", version, about = "Offline-first field sales: relay and tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Record a rep's offline morning in a real store and print what happened.
    Demo {
        /// Where the demo store goes.
        #[arg(long, default_value = "fieldsync-data/demo")]
        dir: PathBuf,
    },
    /// Run a benchmark; prints one JSON object per line.
    Bench {
        #[command(subcommand)]
        scenario: BenchScenario,
    },
}

#[derive(Debug, Subcommand)]
enum BenchScenario {
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
    /// Internal: open one store in this process and report (used by `bench store`).
    #[command(hide = true)]
    StoreOpen { path: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { dir } => demo::run(&dir).map(|report| print!("{report}")),
        Command::Bench { scenario: BenchScenario::Store { documents, samples, opens, dir } } => {
            bench::store::run(&bench::store::StoreBench { documents, samples, opens, dir })
        }
        Command::Bench { scenario: BenchScenario::StoreOpen { path } } => bench::store::open_once(&path),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fieldsync: {e:#}");
            ExitCode::FAILURE
        }
    }
}
