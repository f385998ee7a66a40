//! Relay configuration: defaults, then a TOML file, then environment variables, then flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the relay can be told.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the database and blobs live.
    pub data_dir: PathBuf,
    /// Largest sync request body, bytes.
    pub max_sync_body_bytes: usize,
    /// Largest blob, bytes.
    pub max_blob_bytes: u64,
    /// Largest blob chunk in one PUT, bytes.
    pub max_blob_chunk_bytes: usize,
    /// Largest sync response the relay builds, bytes.
    pub max_response_bytes: usize,
    /// Per-request timeout, seconds.
    pub request_timeout_secs: u64,
    /// A request's headers must arrive within this many seconds; an idle connection is closed
    /// after as long.
    pub header_timeout_secs: u64,
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// Take the client's address from `X-Forwarded-For` (last entry), for a relay behind a
    /// reverse proxy; otherwise every client would share the proxy's address in the limits.
    pub trust_forwarded_for: bool,
    /// Rate limits (the `[rate_limits]` table; docs/operations.md).
    pub rate_limits: crate::http::limits::RateLimits,
    /// Documents kept merged in memory.
    pub document_cache: usize,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Seconds between stall-scheduler ticks (0: no scheduler in this process).
    pub scheduler_interval_secs: u64,
    /// Deals one tick looks at, at most; a tick that finds more due runs again at once.
    pub scheduler_batch: u32,
    /// Delivering alerts: Web Push, FCM, APNs (the `[push]` table; docs/push.md).
    pub push: crate::delivery::PushConfig,
    /// Keep the KPI rows up to date in the writer's batch (docs/kpi.md); `false` only to measure
    /// what the upkeep costs (the team's figures are then rebuilt from documents when asked
    /// only the first time, and go stale).
    pub kpi_upkeep: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            data_dir: PathBuf::from("fieldsync-data"),
            max_sync_body_bytes: 16 * 1024 * 1024,
            max_blob_bytes: 50 * 1024 * 1024,
            max_blob_chunk_bytes: 16 * 1024 * 1024,
            max_response_bytes: 8 * 1024 * 1024,
            request_timeout_secs: 60,
            header_timeout_secs: 15,
            max_connections: 4096,
            max_connections_per_ip: 256,
            trust_forwarded_for: false,
            rate_limits: crate::http::limits::RateLimits::default(),
            document_cache: 4096,
            log_format: "text".into(),
            scheduler_interval_secs: 60,
            scheduler_batch: 5000,
            push: crate::delivery::PushConfig::default(),
            kpi_upkeep: true,
        }
    }
}

/// Overrides from the environment or the command line (flags win over the environment,
/// which clap resolves); `None` keeps the file's or the default value.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigOverrides {
    /// TOML configuration file.
    #[arg(long, env = "FIELDSYNC_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:7878 (port 0 picks a free port).
    #[arg(long, env = "FIELDSYNC_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory (database and blobs).
    #[arg(long, env = "FIELDSYNC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Largest sync request body in bytes.
    #[arg(long, env = "FIELDSYNC_MAX_SYNC_BODY_BYTES")]
    pub max_sync_body_bytes: Option<usize>,
    /// Largest blob in bytes.
    #[arg(long, env = "FIELDSYNC_MAX_BLOB_BYTES")]
    pub max_blob_bytes: Option<u64>,
    /// Documents kept merged in memory.
    #[arg(long, env = "FIELDSYNC_DOCUMENT_CACHE")]
    pub document_cache: Option<usize>,
    /// Seconds between stall-scheduler ticks (0: no scheduler).
    #[arg(long, env = "FIELDSYNC_SCHEDULER_INTERVAL_SECS")]
    pub scheduler_interval_secs: Option<u64>,
    /// Log format: text or json.
    #[arg(long, env = "FIELDSYNC_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Seconds a request's headers may take to arrive.
    #[arg(long, env = "FIELDSYNC_HEADER_TIMEOUT_SECS")]
    pub header_timeout_secs: Option<u64>,
    /// Connections open at once, in all.
    #[arg(long, env = "FIELDSYNC_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Connections open at once from one client address.
    #[arg(long, env = "FIELDSYNC_MAX_CONNECTIONS_PER_IP")]
    pub max_connections_per_ip: Option<usize>,
    /// Rate limits on or off (`true`/`false`); off only for benchmarks of the relay itself.
    #[arg(long, env = "FIELDSYNC_RATE_LIMITS")]
    pub rate_limits: Option<bool>,
    /// KPI upkeep in the writer's batch on or off (`true`/`false`); off only for benchmarks.
    #[arg(long, env = "FIELDSYNC_KPI_UPKEEP")]
    pub kpi_upkeep: Option<bool>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("configuration file {path} is invalid: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl RelayConfig {
    /// Loads the configuration: defaults, the file named in `overrides` (if any), then the
    /// overrides themselves.
    pub fn load(overrides: &ConfigOverrides) -> Result<Self, ConfigError> {
        let mut config = match &overrides.config {
            Some(path) => Self::from_file(path)?,
            None => RelayConfig::default(),
        };
        if let Some(v) = overrides.listen {
            config.listen = v;
        }
        if let Some(v) = &overrides.data_dir {
            config.data_dir = v.clone();
        }
        if let Some(v) = overrides.max_sync_body_bytes {
            config.max_sync_body_bytes = v;
        }
        if let Some(v) = overrides.max_blob_bytes {
            config.max_blob_bytes = v;
        }
        if let Some(v) = overrides.scheduler_interval_secs {
            config.scheduler_interval_secs = v;
        }
        if let Some(v) = overrides.document_cache {
            config.document_cache = v;
        }
        if let Some(v) = &overrides.log_format {
            config.log_format = v.clone();
        }
        if let Some(v) = overrides.header_timeout_secs {
            config.header_timeout_secs = v;
        }
        if let Some(v) = overrides.max_connections {
            config.max_connections = v;
        }
        if let Some(v) = overrides.max_connections_per_ip {
            config.max_connections_per_ip = v;
        }
        if let Some(v) = overrides.rate_limits {
            config.rate_limits.enabled = v;
        }
        if let Some(v) = overrides.kpi_upkeep {
            config.kpi_upkeep = v;
        }
        let invalid = |message: String| ConfigError::Invalid {
            path: overrides.config.clone().unwrap_or_default(),
            message,
        };
        if config.header_timeout_secs == 0
            || config.max_connections == 0
            || config.max_connections_per_ip == 0
        {
            return Err(invalid(
                "header_timeout_secs, max_connections and max_connections_per_ip must be above 0".into(),
            ));
        }
        if config.rate_limits.enabled {
            config.rate_limits.check().map_err(invalid)?;
        }
        config.push.check().map_err(|message| ConfigError::Invalid {
            path: overrides.config.clone().unwrap_or_default(),
            message,
        })?;
        if !matches!(config.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid {
                path: overrides.config.clone().unwrap_or_default(),
                message: format!("log_format is \"{}\"; use text or json", config.log_format),
            });
        }
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_owned(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_apply_and_flags_override_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/fieldsync\"\ndocument_cache = 10\n",
        )
        .unwrap();
        let overrides =
            ConfigOverrides { config: Some(path.clone()), document_cache: Some(20), ..Default::default() };
        let config = RelayConfig::load(&overrides).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("/srv/fieldsync"));
        assert_eq!(config.document_cache, 20);
        assert_eq!(config.max_blob_bytes, RelayConfig::default().max_blob_bytes);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.toml");
        std::fs::write(&path, "listen_on = 1\n").unwrap();
        let err =
            RelayConfig::load(&ConfigOverrides { config: Some(path), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("listen_on"), "{err}");
        let err =
            RelayConfig::load(&ConfigOverrides { log_format: Some("xml".into()), ..Default::default() })
                .unwrap_err();
        assert!(err.to_string().contains("text or json"), "{err}");
    }
}
