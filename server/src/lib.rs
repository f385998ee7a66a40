//! fieldsync-server: the sync relay (`fieldsync serve`) and the `fieldsync` command-line tool's
//! subcommands, kept in a library so tests drive them in-process.

pub mod admin;
pub mod app;
pub mod auth;
pub mod bench;
pub mod blobs;
pub mod config;
pub mod connections;
pub mod dedup_cli;
pub mod delivery;
#[cfg(feature = "tools")]
pub mod demo;
pub mod error;
pub mod geo_cli;
pub mod heat_routes;
pub mod import_cli;
pub mod incentive_cli;
pub mod kpi_routes;
pub mod lead_cli;
pub mod limits;
pub mod metrics;
pub mod photo_cli;
pub mod process;
#[cfg(feature = "tools")]
pub mod push_cli;
pub mod qr_cli;
pub mod relay;
pub mod slip_cli;
pub mod storage;
