//! The store's schema: numbered migrations applied in order, and the checks that keep fieldsync
//! from opening (and damaging) a file that is not its own or that a newer build wrote.

use std::path::Path;

use rusqlite::{Connection, ErrorCode};

use super::error::{Result, StoreError};

/// Written into the SQLite header so a fieldsync store is recognisable ("FSYN").
pub(crate) const APPLICATION_ID: i32 = 0x4653_594E;

/// One schema step: its SQL, then (for projections SQL cannot compute, such as normalised names)
/// a Rust step in the same transaction.
struct Migration {
    sql: &'static str,
    then: Option<fn(&Connection) -> Result<()>>,
}

/// The migrations, in order; entry `i` upgrades version `i` to version `i + 1`.
const MIGRATIONS: &[Migration] = &[
    Migration { sql: include_str!("migrations/0001_initial.sql"), then: None },
    Migration { sql: include_str!("migrations/0002_sync_state_and_blob_queue.sql"), then: None },
    Migration { sql: include_str!("migrations/0003_rejected_changes.sql"), then: None },
    Migration {
        sql: include_str!("migrations/0004_customer_name_grams.sql"),
        then: Some(super::projection::index_customers_for_dedup),
    },
    Migration {
        sql: include_str!("migrations/0005_funnel.sql"),
        then: Some(super::projection::index_funnel),
    },
    Migration { sql: include_str!("migrations/0006_quarantine.sql"), then: None },
    Migration { sql: include_str!("migrations/0007_device_clock_and_track.sql"), then: None },
    Migration { sql: include_str!("migrations/0008_activities.sql"), then: None },
    Migration {
        sql: include_str!("migrations/0009_ownership.sql"),
        then: Some(super::projection::index_visits_on_site),
    },
    Migration { sql: include_str!("migrations/0010_kpi_rows.sql"), then: Some(super::kpi::index_kpi) },
    Migration { sql: include_str!("migrations/0011_scoreboards.sql"), then: None },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Checks that `conn` holds a fieldsync store this build can read, then upgrades it to
/// version `target` (normally [`SCHEMA_VERSION`]; lower to make old-version fixtures, 0 to only
/// check). A brand-new file becomes an empty store.
pub(crate) fn prepare_up_to(conn: &mut Connection, path: &Path, target: u32) -> Result<()> {
    let (application_id, version, objects) = header(conn, path)?;
    let fresh = application_id == 0 && version == 0 && objects == 0;
    if !fresh && application_id != APPLICATION_ID {
        return Err(StoreError::NotAFieldsyncStore { path: path.to_owned(), application_id });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let next = index as u32 + 1;
        if next > target {
            break;
        }
        apply(conn, next, migration).map_err(|e| match e {
            StoreError::Sqlite(source) => {
                StoreError::Migration { path: path.to_owned(), version: next, source }
            }
            other => other,
        })?;
    }
    Ok(())
}

fn header(conn: &Connection, path: &Path) -> Result<(i32, u32, i64)> {
    let read = || -> rusqlite::Result<(i32, u32, i64)> {
        let application_id = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let objects = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        Ok((application_id, version, objects))
    };
    read().map_err(|e| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path: path.to_owned() },
        _ => StoreError::Sqlite(e),
    })
}

/// Applies one migration atomically: its SQL, its Rust step, the new version number and the
/// application id.
fn apply(conn: &mut Connection, version: u32, migration: &Migration) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(migration.sql)?;
    if let Some(step) = migration.then {
        step(&tx)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", version)?;
    Ok(tx.commit()?)
}

#[cfg(test)]
/// The schema as SQLite reports it, normalised; two stores with equal descriptions have equal
/// schemas. Used by the upgrade test.
pub(crate) fn describe(conn: &Connection) -> Result<Vec<String>> {
    let mut statement = conn.prepare(
        "SELECT type, name, tbl_name, sql FROM sqlite_master
         WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )?;
    let rows = statement.query_map([], |row| {
        let sql: Option<String> = row.get(3)?;
        Ok(format!(
            "{} {} on {}: {}",
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            sql.map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default()
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The schema version of an open store.
pub(crate) fn version(conn: &Connection) -> Result<u32> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}
