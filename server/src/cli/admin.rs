//! `fieldsync admin …`: bootstrap tenants, teams and users, hand out one-time enrollment codes,
//! revoke devices. Works on the relay's storage directly (SQLite allows it while the relay runs).
//! Every command prints one JSON object, so scripts and tests can read it.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::http::auth::{new_enrollment_code, secret_hash};
use crate::storage::sqlite::SqliteStorage;
use crate::storage::{RelayStorage, Role};
use fieldsync_core::{Clock as _, SystemClock};

/// How long an enrollment code stays valid.
pub const CODE_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// `admin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create a tenant (a customer company of fieldsync).
    CreateTenant {
        /// Its name.
        name: String,
    },
    /// Create a team in a tenant.
    CreateTeam {
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// Team name.
        name: String,
    },
    /// Create a user and print a one-time enrollment code for their phone.
    CreateUser {
        /// Team id.
        #[arg(long)]
        team: String,
        /// rep, supervisor or admin.
        #[arg(long)]
        role: String,
        /// The person's name.
        name: String,
    },
    /// Print a new one-time enrollment code for an existing user (a new phone).
    EnrollmentCode {
        /// User id.
        user: String,
    },
    /// Print a one-time sign-in code for the web console (`/console`, docs/console.md), valid 24
    /// hours; the console lets supervisors and admins in only.
    ConsoleCode {
        /// User id.
        #[arg(long)]
        user: String,
    },
    /// Set a user's console password, read from standard input (one line, at least 10
    /// characters); stored as Argon2id. Ends the user's console sessions.
    SetPassword {
        /// User id.
        #[arg(long)]
        user: String,
    },
    /// List every team's users (id, name, role, team).
    Users,
    /// Revoke a device: its token stops working at once.
    RevokeDevice {
        /// Device id (32 hex characters).
        device: String,
    },
    /// Create a tenant, a team and users in one go (for a first install or a demo).
    Bootstrap {
        /// Tenant name.
        #[arg(long, default_value = "Demo Manufacturing")]
        tenant: String,
        /// Team name.
        #[arg(long, default_value = "East China sales")]
        team: String,
        /// Reps to create.
        #[arg(long, default_value_t = 3)]
        reps: u32,
        /// Supervisors to create.
        #[arg(long, default_value_t = 1)]
        supervisors: u32,
        /// Admins to create.
        #[arg(long, default_value_t = 0)]
        admins: u32,
    },
    /// Removes log entries a phone cannot read (damaged checksums, undecodable changes, what
    /// depended on them) from a team's log and rebuilds the documents they touched. Run it with
    /// the relay stopped, or use `POST /v1/repair` from an admin's device while it runs.
    RepairLog {
        /// The team.
        #[arg(long)]
        team: String,
    },
    /// Runs the scheduler (stall alerts and the pool's returns) once, at `--now` (Unix ms; default
    /// the system clock), until nothing more is due: to catch up after downtime. Run it with the
    /// relay stopped; the running relay ticks by itself (`scheduler_interval_secs`).
    Tick {
        /// The time to tick at, Unix ms.
        #[arg(long)]
        now: Option<i64>,
    },
    /// Moves every customer and open deal of one user (a rep leaving) to another user of the
    /// same team in one step; each customer's ownership history keeps the move. Run it with the
    /// relay stopped, or use `POST /v1/admin/transfer` from an admin's device while it runs.
    Transfer {
        /// The user whose customers move.
        #[arg(long)]
        from: String,
        /// The user who takes them over (same tenant and team).
        #[arg(long)]
        to: String,
    },
}

/// Runs one admin command against the data directory and returns its JSON output.
pub fn run(data_dir: &Path, command: AdminCommand) -> Result<Value> {
    let storage = SqliteStorage::open(data_dir).with_context(|| format!("opening {}", data_dir.display()))?;
    let now = SystemClock.now_ms();
    Ok(match command {
        AdminCommand::CreateTenant { name } => json!({ "tenant_id": storage.create_tenant(&name, now)? }),
        AdminCommand::CreateTeam { tenant, name } => {
            json!({ "team_id": storage.create_team(&tenant, &name, now)? })
        }
        AdminCommand::CreateUser { team, role, name } => create_user(&storage, &team, &role, &name, now)?,
        AdminCommand::EnrollmentCode { user } => {
            let code = new_code(&storage, &user, now)?;
            json!({ "user_id": user, "code": code, "expires_at": now + CODE_TTL_MS })
        }
        AdminCommand::ConsoleCode { user } => {
            use crate::http::console::auth;
            use crate::storage::console::ConsoleStorage;
            let Some(info) = storage.user_info(&user)? else { anyhow::bail!("no user {user}") };
            let code = new_enrollment_code().context("no randomness for a sign-in code")?;
            storage.console_add_code(&user, auth::code_hash(&code), now + auth::CODE_MS)?;
            let mut out = json!({ "user_id": user, "role": info.role.as_str(), "code": code, "expires_at": now + auth::CODE_MS });
            if info.role == Role::Rep {
                out["note"] = json!("reps cannot sign in to the console; this code will be refused");
            }
            out
        }
        AdminCommand::SetPassword { user } => {
            use crate::storage::console::ConsoleStorage;
            if storage.user_info(&user)?.is_none() {
                anyhow::bail!("no user {user}");
            }
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 10 || password.len() > 200 {
                anyhow::bail!("a console password is 10 to 200 characters");
            }
            let phc = crate::http::console::auth::hash_password(password).map_err(anyhow::Error::msg)?;
            storage.console_set_password(&user, &phc, now)?;
            json!({ "user_id": user, "password_set": true })
        }
        AdminCommand::Users => {
            let mut users = Vec::new();
            for team in storage.teams()? {
                for (user_id, name, role) in storage.team_users(&team)? {
                    users.push(
                        json!({ "user_id": user_id, "name": name, "role": role.as_str(), "team_id": team }),
                    );
                }
            }
            json!({ "users": users })
        }
        AdminCommand::RevokeDevice { device } => {
            let mut id = [0u8; 16];
            hex::decode_to_slice(device.trim(), &mut id).context("a device id is 32 hex characters")?;
            storage.revoke_device(id, now)?;
            json!({ "revoked": device })
        }
        AdminCommand::RepairLog { team } => {
            let relay = crate::relay::Relay::start(
                std::sync::Arc::new(storage),
                crate::relay::RelayLimits::default(),
                std::sync::Arc::new(crate::metrics::Metrics::default()),
            )?;
            let runtime = tokio::runtime::Builder::new_current_thread().build()?;
            let report = runtime.block_on(relay.repair_team_log(&team))?;
            serde_json::to_value(report)?
        }
        AdminCommand::Tick { now: at } => {
            let at = at.unwrap_or(now);
            let clock = std::sync::Arc::new(fieldsync_core::ManualClock::new(at));
            let relay = crate::relay::Relay::start_with_clock(
                std::sync::Arc::new(storage),
                crate::relay::RelayLimits::default(),
                std::sync::Arc::new(crate::metrics::Metrics::default()),
                clock,
            )?;
            let runtime = tokio::runtime::Builder::new_current_thread().build()?;
            let mut total = crate::relay::TickReport::default();
            for _ in 0..100_000 {
                let report = runtime.block_on(relay.tick(at, 1000))?;
                total.examined += report.examined;
                total.raised += report.raised;
                total.held += report.held;
                total.pool_examined += report.pool_examined;
                total.returned_to_pool += report.returned_to_pool;
                if !report.more {
                    break;
                }
            }
            serde_json::to_value(total)?
        }
        AdminCommand::Transfer { from, to } => {
            let Some(leaving) = storage.user_info(&from)? else {
                anyhow::bail!("no user {from}");
            };
            let scope = crate::storage::DeviceScope {
                device_id: [0; 16],
                user_id: "admin-cli".into(),
                role: crate::storage::Role::Admin,
                tenant_id: leaving.tenant_id,
                team_id: leaving.team_id,
            };
            let relay = crate::relay::Relay::start(
                std::sync::Arc::new(storage),
                crate::relay::RelayLimits::default(),
                std::sync::Arc::new(crate::metrics::Metrics::default()),
            )?;
            let runtime = tokio::runtime::Builder::new_current_thread().build()?;
            let report = runtime.block_on(relay.transfer(&scope, &from, &to))?;
            serde_json::to_value(report)?
        }
        AdminCommand::Bootstrap { tenant, team, reps, supervisors, admins } => {
            let tenant_id = storage.create_tenant(&tenant, now)?;
            let team_id = storage.create_team(&tenant_id, &team, now)?;
            let mut users = Vec::new();
            for (role, count) in [("rep", reps), ("supervisor", supervisors), ("admin", admins)] {
                for n in 1..=count {
                    users.push(create_user(&storage, &team_id, role, &format!("{role} {n}"), now)?);
                }
            }
            json!({ "tenant_id": tenant_id, "team_id": team_id, "users": users })
        }
    })
}

fn create_user(storage: &SqliteStorage, team: &str, role: &str, name: &str, now: i64) -> Result<Value> {
    let role =
        Role::parse(role).with_context(|| format!("role \"{role}\" is not rep, supervisor or admin"))?;
    let user_id = storage.create_user(team, name, role, now)?;
    let code = new_code(storage, &user_id, now)?;
    Ok(
        json!({ "user_id": user_id, "name": name, "role": role.as_str(), "code": code, "expires_at": now + CODE_TTL_MS }),
    )
}

fn new_code(storage: &SqliteStorage, user: &str, now: i64) -> Result<String> {
    let code = new_enrollment_code().context("no randomness for an enrollment code")?;
    storage.add_enrollment_code(user, secret_hash(&code), now + CODE_TTL_MS)?;
    Ok(code)
}
