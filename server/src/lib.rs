//! fieldsync-server: the sync relay (`fieldsync serve`) and the `fieldsync` command-line tool's
//! subcommands, kept in a library so tests drive them in-process.
//!
//! - [`http`]: the relay's HTTP surface (router, device auth, blobs, the API routes, the accept
//!   loop, rate limits, the error type);
//! - [`relay`]: the sync engine (the writer thread, identity, ownership, the scheduler, KPIs);
//! - [`storage`]: the relay's database;
//! - [`delivery`]: Web Push, FCM, APNs and the alert stream;
//! - [`cli`]: the operator commands (`admin`, `demo`, `bench`, `photo`, `qr`, …), one file each;
//! - [`config`], [`metrics`], [`process`]: settings, Prometheus counters, process limits.

pub mod cli;
pub mod config;
pub mod delivery;
pub mod http;
pub mod metrics;
pub mod process;
pub mod relay;
pub mod storage;
