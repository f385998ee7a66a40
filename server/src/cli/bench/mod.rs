//! `fieldsync bench …`: the project's benchmarks. Each scenario prints one JSON object per line
//! with `bench` (the scenario) and its figures, the unit in each key (`ms`, `rss_mb`, …).

#[cfg(feature = "tools")]
pub mod alerts;
pub mod console;
pub mod dedup;
pub mod follow_ups;
#[cfg(feature = "tools")]
pub mod guard;
#[cfg(feature = "tools")]
pub mod identity;
pub mod kpi;
pub mod pool;
pub mod push;
pub mod store;
#[cfg(feature = "tools")]
pub mod sync;

/// Where benchmark scratch data goes: `dir`, or a temporary directory the returned guard keeps.
pub fn workdir(dir: Option<std::path::PathBuf>) -> anyhow::Result<(tempfile::TempDir, std::path::PathBuf)> {
    let temp = tempfile::tempdir()?;
    let path = dir.unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&path)?;
    Ok((temp, path))
}

/// Prints one benchmark result line.
pub fn emit(value: serde_json::Value) {
    println!("{value}");
}
