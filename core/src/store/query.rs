//! The queries an app needs, answered from the projection tables alone (never by scanning
//! documents).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, params};

use super::error::{Result, StoreError};
use super::projection::{name_key, phone_key};
use crate::clock::UnixMillis;
use crate::geo::GeoPoint;
use crate::ids::DocId;
use crate::model::{RecordKind, Stage, ValidationError};

impl FromSql for DocId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value.as_str()?.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl ToSql for DocId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

/// A customer in a result list.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerSummary {
    /// The customer's id.
    pub id: DocId,
    /// Company name.
    pub company_name: String,
    /// First company phone, if any.
    pub first_phone: Option<String>,
    /// Set when this customer was merged into another.
    pub merged_into: Option<DocId>,
    /// Distance from the query point in metres (only for [`Store::customers_near`](super::Store::customers_near)).
    pub distance_m: Option<f64>,
    /// Its heat when the list was made (derived, never stored): filled by the customer searches
    /// and [`Store::customers_by_tag`](super::Store::customers_by_tag), `None` elsewhere.
    pub heat: Option<crate::heat::Heat>,
}

/// A visit in a result list.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitSummary {
    /// The visit's id.
    pub id: DocId,
    /// The customer.
    pub customer_id: DocId,
    /// The deal, if any.
    pub opportunity_id: Option<DocId>,
    /// When it started, or when it is planned.
    pub at: UnixMillis,
    /// Check-in time.
    pub started_at: Option<UnixMillis>,
    /// Check-out time.
    pub ended_at: Option<UnixMillis>,
    /// Photos taken.
    pub photo_count: u32,
}

/// A deal in a result list.
#[derive(Debug, Clone, PartialEq)]
pub struct OpportunitySummary {
    /// The deal's id.
    pub id: DocId,
    /// The customer.
    pub customer_id: DocId,
    /// Owning rep.
    pub owner: String,
    /// Short description.
    pub title: String,
    /// Current stage.
    pub stage: Stage,
    /// When the stage was entered.
    pub stage_entered_at: UnixMillis,
    /// When the next action is due.
    pub next_action_due_at: Option<UnixMillis>,
    /// Expected value in minor units, with its currency.
    pub amount: Option<(i64, String)>,
}

const CUSTOMER_COLUMNS: &str = "c.doc_id, c.company_name, c.first_phone, c.merged_into";

fn customer_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CustomerSummary> {
    Ok(CustomerSummary {
        id: row.get(0)?,
        company_name: row.get(1)?,
        first_phone: row.get(2)?,
        merged_into: row.get(3)?,
        distance_m: None,
        heat: None,
    })
}

/// Customers whose name starts with `prefix` (after width/case folding), by name.
pub(crate) fn customers_by_name_prefix(
    conn: &Connection,
    prefix: &str,
    limit: u32,
) -> Result<Vec<CustomerSummary>> {
    let low = name_key(prefix);
    if low.is_empty() {
        return Ok(Vec::new());
    }
    let high = format!("{low}\u{10FFFF}");
    let sql = format!(
        "SELECT {CUSTOMER_COLUMNS} FROM customer_index c
         WHERE c.name_key >= ?1 AND c.name_key < ?2 AND c.merged_into IS NULL ORDER BY c.name_key LIMIT ?3"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![low, high, limit], customer_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Customers with a phone (company or contact) that starts with `prefix`.
pub(crate) fn customers_by_phone_prefix(
    conn: &Connection,
    prefix: &str,
    limit: u32,
) -> Result<Vec<CustomerSummary>> {
    let low = phone_key(prefix);
    if low.is_empty() {
        return Ok(Vec::new());
    }
    // Digits sort below ':' so this bounds every key that starts with `low`.
    let high = format!("{low}:");
    let sql = format!(
        "SELECT DISTINCT {CUSTOMER_COLUMNS} FROM customer_phone_index p
         JOIN customer_index c ON c.doc_id = p.doc_id
         WHERE p.phone_key >= ?1 AND p.phone_key < ?2 AND c.merged_into IS NULL
         ORDER BY c.company_name LIMIT ?3"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![low, high, limit], customer_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Customers within `radius_m` of a WGS-84 point, nearest first.
pub(crate) fn customers_near(
    conn: &Connection,
    lat: f64,
    lon: f64,
    radius_m: f64,
    limit: u32,
) -> Result<Vec<CustomerSummary>> {
    let origin = GeoPoint::wgs84(lat, lon).map_err(|e| {
        StoreError::Invalid(ValidationError::new(RecordKind::Customer, "location", e.to_string()))
    })?;
    // A bounding box in degrees around the point; the exact distance filters it afterwards.
    let dlat = radius_m / METRES_PER_DEGREE_LAT;
    let dlon = radius_m / (METRES_PER_DEGREE_LAT * lat.to_radians().cos().abs().max(0.01));
    let sql = format!(
        "SELECT {CUSTOMER_COLUMNS}, g.min_lat, g.min_lon FROM customer_geo g
         JOIN customer_index c ON c.row_id = g.id
         WHERE g.max_lat >= ?1 AND g.min_lat <= ?2 AND g.max_lon >= ?3 AND g.min_lon <= ?4
           AND c.merged_into IS NULL"
    );
    let mut found = conn
        .prepare_cached(&sql)?
        .query_map(params![lat - dlat, lat + dlat, lon - dlon, lon + dlon], |row| {
            let mut summary = customer_row(row)?;
            let (clat, clon): (f64, f64) = (row.get(4)?, row.get(5)?);
            summary.distance_m = GeoPoint::wgs84(clat, clon).ok().map(|c| c.distance_m(&origin));
            Ok(summary)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    found.retain(|c| c.distance_m.is_some_and(|d| d <= radius_m));
    found.sort_by(|a, b| a.distance_m.partial_cmp(&b.distance_m).unwrap_or(std::cmp::Ordering::Equal));
    found.truncate(limit as usize);
    Ok(found)
}

const METRES_PER_DEGREE_LAT: f64 = 111_320.0;

fn visit_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<VisitSummary> {
    Ok(VisitSummary {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        opportunity_id: row.get(2)?,
        at: row.get(3)?,
        started_at: row.get(4)?,
        ended_at: row.get(5)?,
        photo_count: row.get(6)?,
    })
}

/// Visits started (or planned, if not started) in `[from, to)`, earliest first.
pub(crate) fn visits_between(
    conn: &Connection,
    from: UnixMillis,
    to: UnixMillis,
) -> Result<Vec<VisitSummary>> {
    Ok(conn
        .prepare_cached(
            "SELECT doc_id, customer_id, opportunity_id, at, started_at, ended_at, photo_count
             FROM visit_index WHERE at >= ?1 AND at < ?2 ORDER BY at",
        )?
        .query_map(params![from, to], visit_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub(crate) const OPPORTUNITY_COLUMNS: &str =
    "doc_id, customer_id, owner, title, stage, stage_entered_at, next_action_due_at, amount_minor, currency";

pub(crate) fn opportunity_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<OpportunitySummary> {
    let stage: String = row.get(4)?;
    let amount: Option<i64> = row.get(7)?;
    let currency: Option<String> = row.get(8)?;
    Ok(OpportunitySummary {
        id: row.get(0)?,
        customer_id: row.get(1)?,
        owner: row.get(2)?,
        title: row.get(3)?,
        stage: Stage::parse(&stage).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Text,
                format!("unknown stage {stage}").into(),
            )
        })?,
        stage_entered_at: row.get(5)?,
        next_action_due_at: row.get(6)?,
        amount: amount.zip(currency),
    })
}

/// Deals in `stage`, longest in the stage first.
pub(crate) fn opportunities_in_stage(
    conn: &Connection,
    stage: Stage,
    limit: u32,
) -> Result<Vec<OpportunitySummary>> {
    let sql = format!(
        "SELECT {OPPORTUNITY_COLUMNS} FROM opportunity_index WHERE stage = ?1 ORDER BY stage_entered_at LIMIT ?2"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![stage.as_str(), limit], opportunity_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Open deals whose next action is due before `before`, most overdue first.
pub(crate) fn opportunities_due_before(
    conn: &Connection,
    before: UnixMillis,
    limit: u32,
) -> Result<Vec<OpportunitySummary>> {
    let sql = format!(
        "SELECT {OPPORTUNITY_COLUMNS} FROM opportunity_index
         WHERE next_action_due_at IS NOT NULL AND next_action_due_at < ?1 AND stage NOT IN ('Won', 'Lost')
         ORDER BY next_action_due_at LIMIT ?2"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params![before, limit], opportunity_row)?
        .collect::<rusqlite::Result<_>>()?)
}
