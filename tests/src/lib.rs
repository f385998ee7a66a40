//! Helpers for fieldsync's end-to-end tests: locating the real `fieldsync` binary and running it
//! as a separate process, the way operators and the apps' relay see it.

use std::path::PathBuf;
use std::process::{Command, Output};

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
