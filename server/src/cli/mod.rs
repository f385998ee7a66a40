//! The `fieldsync` command-line tool's subcommands, one file each (`main.rs` parses the command
//! line and calls them): the operators' `admin` and `demo`, the benches (`bench`), and the
//! offline tools that run the phone's own code on files (`photo`, `qr`, `slip`, `lead`, `geo`,
//! `dedup`, `import`, `incentive`, `push`).

pub mod admin;
pub mod bench;
pub mod dedup;
#[cfg(feature = "tools")]
pub mod demo;
pub mod geo;
pub mod import;
pub mod incentive;
pub mod lead;
pub mod photo;
#[cfg(feature = "tools")]
pub mod push;
pub mod qr;
pub mod slip;
