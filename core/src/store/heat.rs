//! Heat tags on the phone (docs/heat-tags.md): a customer's heat and the customers carrying a
//! tag, computed when asked by [`crate::heat::heat`] from the projection tables (migrations 0001,
//! 0005 and 0008 hold every fact it reads), never from the documents and never stored.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::error::Result;
use super::query::CustomerSummary;
use super::{Store, funnel};
use crate::clock::UnixMillis;
use crate::heat::{ActivityFact, DealFact, Heat, HeatFilter, HeatInput, HeatRules, heat, touched_first};
use crate::ids::DocId;
use crate::model::{ActivityType, RecordKind, Stage};

/// The most customers one [`Store::customers_by_tag`] call returns.
pub const MAX_HEAT_LIST: u32 = 5_000;

/// The heat thresholds in force: the synced rules when they validate, else the defaults.
fn heat_rules(conn: &Connection) -> Result<HeatRules> {
    Ok(funnel::effective_rules(conn)?.heat_rules())
}

/// The heat facts of one customer (`Some(id)`) or of every customer (`None`), keyed by the
/// customer id as the projection tables store it. Each table is read once, by its customer
/// index when one customer is asked for.
fn heat_inputs(conn: &Connection, customer: Option<DocId>) -> Result<HashMap<String, HeatInput>> {
    let only = customer.map(|c| c.to_string());
    let filter = |column: &str| match only {
        Some(_) => format!("{column} = ?1"),
        None => "?1 IS NULL".to_owned(),
    };
    let mut inputs: HashMap<String, HeatInput> = HashMap::new();

    let sql = format!(
        "SELECT customer_id, activity_type, at, has_summary FROM activity_index WHERE {}",
        filter("customer_id")
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![only])?;
    while let Some(row) = rows.next()? {
        let Some(activity_type) = ActivityType::parse(&row.get::<_, String>(1)?) else { continue };
        let fact = ActivityFact { activity_type, at: row.get(2)?, has_summary: row.get(3)? };
        inputs.entry(row.get(0)?).or_default().activities.push(fact);
    }

    let sql = format!(
        "SELECT customer_id, started_at FROM visit_index WHERE started_at IS NOT NULL AND {}",
        filter("customer_id")
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![only])?;
    while let Some(row) = rows.next()? {
        inputs.entry(row.get(0)?).or_default().visit_starts.push(row.get(1)?);
    }

    let sql = format!(
        "SELECT customer_id, scanned_at FROM lead_card_index WHERE customer_id IS NOT NULL AND {}",
        filter("customer_id")
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![only])?;
    while let Some(row) = rows.next()? {
        inputs.entry(row.get(0)?).or_default().lead_cards_scanned.push(row.get(1)?);
    }

    let sql = format!(
        "SELECT customer_id, stage, last_activity_at FROM opportunity_index WHERE {}",
        filter("customer_id")
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(params![only])?;
    while let Some(row) = rows.next()? {
        let Some(stage) = Stage::parse(&row.get::<_, String>(1)?) else { continue };
        let fact = DealFact { stage, last_activity_at: row.get(2)? };
        inputs.entry(row.get(0)?).or_default().deals.push(fact);
    }
    Ok(inputs)
}

/// One customer's heat at `now` from the projection tables.
pub(crate) fn customer_heat_in(
    conn: &Connection,
    customer_id: DocId,
    rules: &HeatRules,
    now: UnixMillis,
) -> Result<Heat> {
    let created_at: Option<UnixMillis> = conn
        .prepare_cached("SELECT created_at FROM customer_index WHERE doc_id = ?1")?
        .query_row([customer_id.to_string()], |r| r.get(0))
        .map(Some)
        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
    let Some(created_at) = created_at else {
        return Err(super::StoreError::NotFound { kind: RecordKind::Customer, id: customer_id });
    };
    let mut input =
        heat_inputs(conn, Some(customer_id))?.remove(&customer_id.to_string()).unwrap_or_default();
    input.customer_created_at = Some(created_at);
    Ok(heat(&input, rules, now))
}

/// Fills in the heat of each customer of a result list.
pub(crate) fn add_heat(conn: &Connection, customers: &mut [CustomerSummary], now: UnixMillis) -> Result<()> {
    if customers.is_empty() {
        return Ok(());
    }
    let rules = heat_rules(conn)?;
    for customer in customers {
        customer.heat = Some(customer_heat_in(conn, customer.id, &rules, now)?);
    }
    Ok(())
}

impl Store {
    /// A customer's heat at `now` (热/温/冷 and its tags), from the projection tables with the
    /// team's thresholds. `NotFound` for a customer not on this phone.
    pub fn customer_heat(&self, customer_id: DocId, now: UnixMillis) -> Result<Heat> {
        self.db.read(|conn| customer_heat_in(conn, customer_id, &heat_rules(conn)?, now))
    }

    /// Customers whose heat at `now` passes `filter` (a level or a tag), most recently touched
    /// first (then by name), at most `limit` (capped at [`MAX_HEAT_LIST`]); each summary carries
    /// its heat. Merged customers are left out. Reads each projection table once.
    pub fn customers_by_tag(
        &self,
        filter: HeatFilter,
        now: UnixMillis,
        limit: u32,
    ) -> Result<Vec<CustomerSummary>> {
        self.db.read(|conn| {
            let rules = heat_rules(conn)?;
            let mut inputs = heat_inputs(conn, None)?;
            let mut statement = conn.prepare_cached(
                "SELECT doc_id, company_name, first_phone, created_at FROM customer_index
                 WHERE merged_into IS NULL",
            )?;
            let mut rows = statement.query([])?;
            let mut found = Vec::new();
            while let Some(row) = rows.next()? {
                let id: DocId = row.get(0)?;
                let mut input = inputs.remove(&id.to_string()).unwrap_or_default();
                input.customer_created_at = Some(row.get(3)?);
                let heat = heat(&input, &rules, now);
                if !filter.matches(&heat) {
                    continue;
                }
                found.push(CustomerSummary {
                    id,
                    company_name: row.get(1)?,
                    first_phone: row.get(2)?,
                    merged_into: None,
                    distance_m: None,
                    heat: Some(heat),
                });
            }
            found.sort_by(|a, b| {
                let touched = match (&a.heat, &b.heat) {
                    (Some(x), Some(y)) => touched_first(x, y),
                    _ => std::cmp::Ordering::Equal,
                };
                touched.then_with(|| a.company_name.cmp(&b.company_name)).then(a.id.cmp(&b.id))
            });
            found.truncate(limit.min(MAX_HEAT_LIST) as usize);
            Ok(found)
        })
    }
}
