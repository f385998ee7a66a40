//! fieldsync-server: the sync relay (from the sync issue on) and the `fieldsync` command-line
//! tool's subcommands, kept in a library so tests drive them in-process.

pub mod bench;
pub mod demo;
pub mod process;
