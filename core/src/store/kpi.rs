//! The phone's own KPI figures (docs/kpi.md): this phone's user's records, read from the store,
//! through the same pure functions the relay runs ([`crate::kpi`]), so "my figures" on the
//! phone match the relay's for the same records, offline.
//!
//! A record counts for this phone's user when this device created it; a deal when its `owner`
//! is this user, or when this device created it (the relay resolves an owner that names another
//! user against its users; a rep's phone cannot). Records made on the same user's other devices
//! are the relay's to count.
//!
//! The records are kept as rows of the KPI projection (`kpi_rows`), written in the same
//! transaction as each document like every projection: a visit's row holds its verdict, remade
//! when one of its slips is saved or signed, so a dashboard verifies no signature and loads no
//! document.

use rusqlite::{Connection, OptionalExtension, params};

use super::error::{Result, StoreError};
use super::projection::hydrate;
use super::{Store, capture, documents};
use crate::clock::UnixMillis;
use crate::ids::{DeviceId, DocId};
use crate::kpi::{
    ActivityRow, CustomerRow, DealRow, KpiContext, KpiIndex, KpiRow, Payout, Period, RepFigures, RepRows,
    VisitRow,
};
use crate::model::{
    Activity, Customer, Opportunity, Record, RecordKind, Scoreboard, ServiceSlip, TeamRules, TeamTable, Visit,
};

/// One period of "my figures": what the phone's 我的业绩 screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyFigures {
    /// The figures.
    pub figures: RepFigures,
    /// The payout the rules in force give these figures (a projection while the period runs),
    /// or why there is none.
    pub payout: std::result::Result<Payout, String>,
    /// The team's scoreboard of the period as last synced from the relay (its mean and median
    /// of each metric), `None` before one arrived.
    pub team: Option<Scoreboard>,
}

/// This device's id, as the store keeps it.
fn my_device(conn: &Connection) -> Result<Option<DeviceId>> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT device_id FROM device_identity WHERE singleton = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(bytes.and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok()).map(DeviceId::from_bytes))
}

fn made_here(conn: &Connection, by: DeviceId) -> Result<bool> {
    Ok(my_device(conn)? == Some(by))
}

fn put_row(conn: &Connection, id: DocId, row: &KpiRow) -> Result<()> {
    let (lo, hi) = row.span();
    let text = serde_json::to_string(row).map_err(|e| StoreError::CorruptDocument {
        id,
        reason: format!("its KPI row does not serialise: {e}"),
    })?;
    conn.prepare_cached(
        "INSERT INTO kpi_rows (doc_id, lo, hi, is_deal, row) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (doc_id) DO UPDATE SET lo = ?2, hi = ?3, is_deal = ?4, row = ?5",
    )?
    .execute(params![id.to_string(), lo, hi, row.is_deal(), text])?;
    Ok(())
}

fn drop_row(conn: &Connection, id: DocId) -> Result<()> {
    conn.prepare_cached("DELETE FROM kpi_rows WHERE doc_id = ?1")?.execute([id.to_string()])?;
    Ok(())
}

/// The visit's row, with its verdict from the slips this phone holds for it.
pub(crate) fn project_visit(conn: &Connection, visit: &Visit) -> Result<()> {
    if !made_here(conn, visit.provenance.created_by)? {
        return drop_row(conn, visit.id);
    }
    let slip_ids: Vec<DocId> = conn
        .prepare_cached("SELECT slip_id FROM kpi_slips WHERE visit_id = ?1 ORDER BY slip_id")?
        .query_map([visit.id.to_string()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut slips = Vec::with_capacity(slip_ids.len());
    for id in slip_ids {
        // A slip that does not load or read gives no evidence, as on the relay.
        if let Ok(Some(stored)) = documents::load(conn, id)
            && let Ok(slip) = hydrate::<ServiceSlip>(&stored.doc, id)
        {
            slips.push(slip);
        }
    }
    let refs: Vec<&ServiceSlip> = slips.iter().collect();
    put_row(conn, visit.id, &KpiRow::Visit(VisitRow::of(visit, &refs)))
}

/// Notes which visit a slip made here is for, and remakes that visit's row.
pub(crate) fn project_slip(conn: &Connection, slip: &ServiceSlip) -> Result<()> {
    if !made_here(conn, slip.provenance.created_by)? {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO kpi_slips (slip_id, visit_id) VALUES (?1, ?2)
         ON CONFLICT (slip_id) DO UPDATE SET visit_id = ?2",
    )?
    .execute(params![slip.id.to_string(), slip.visit_id.to_string()])?;
    if let Ok(Some(stored)) = documents::load(conn, slip.visit_id)
        && stored.kind == RecordKind::Visit
        && let Ok(visit) = hydrate::<Visit>(&stored.doc, slip.visit_id)
    {
        project_visit(conn, &visit)?;
    }
    Ok(())
}

/// The follow-up's row.
pub(crate) fn project_activity(conn: &Connection, activity: &Activity) -> Result<()> {
    if !made_here(conn, activity.provenance.created_by)? {
        return drop_row(conn, activity.id);
    }
    put_row(conn, activity.id, &KpiRow::Activity(ActivityRow::of(activity)))
}

/// The customer's row.
pub(crate) fn project_customer(conn: &Connection, customer: &Customer) -> Result<()> {
    if !made_here(conn, customer.provenance.created_by)? {
        return drop_row(conn, customer.id);
    }
    put_row(conn, customer.id, &KpiRow::Customer(CustomerRow::of(customer)))
}

/// The deal's row, when it is this user's: owned by them, or made here for no other user.
pub(crate) fn project_deal(conn: &Connection, deal: &Opportunity) -> Result<()> {
    let user = super::ownership::user_of(conn)?;
    if !(user.as_deref() == Some(deal.owner.as_str()) || made_here(conn, deal.provenance.created_by)?) {
        return drop_row(conn, deal.id);
    }
    put_row(conn, deal.id, &KpiRow::Deal(DealRow::of(deal)))
}

/// Migration 10: the KPI rows of the records stored before it.
pub(crate) fn index_kpi(conn: &Connection) -> Result<()> {
    let ids: Vec<(DocId, String)> = conn
        .prepare(
            "SELECT doc_id, kind FROM documents
             WHERE kind IN ('service_slip', 'visit', 'activity', 'opportunity', 'customer')
             ORDER BY kind = 'visit', doc_id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, kind) in ids {
        let Ok(Some(stored)) = documents::load(conn, id) else { continue };
        let projected = match kind.as_str() {
            "service_slip" => hydrate::<ServiceSlip>(&stored.doc, id).map(|s| project_slip(conn, &s)),
            "visit" => hydrate::<Visit>(&stored.doc, id).map(|v| project_visit(conn, &v)),
            "activity" => hydrate::<Activity>(&stored.doc, id).map(|a| project_activity(conn, &a)),
            "opportunity" => hydrate::<Opportunity>(&stored.doc, id).map(|d| project_deal(conn, &d)),
            _ => hydrate::<Customer>(&stored.doc, id).map(|c| project_customer(conn, &c)),
        };
        // A record that does not read has no row, as in every projection.
        if let Ok(written) = projected {
            written?;
        }
    }
    Ok(())
}

/// Notes which period a received scoreboard or team table is for.
pub(crate) fn project_board(
    conn: &Connection,
    id: DocId,
    kind: RecordKind,
    period: &str,
    computed_at: UnixMillis,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO scoreboard_index (doc_id, kind, period, computed_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (doc_id) DO UPDATE SET kind = ?2, period = ?3, computed_at = ?4",
    )?
    .execute(params![id.to_string(), kind.as_str(), period, computed_at])?;
    Ok(())
}

/// The newest received board of `kind` for `period`, if one reads.
fn board<R: Record>(conn: &Connection, period: Period) -> Result<Option<R>> {
    let id: Option<DocId> = conn
        .prepare_cached(
            "SELECT doc_id FROM scoreboard_index WHERE kind = ?1 AND period = ?2
             ORDER BY computed_at DESC LIMIT 1",
        )?
        .query_row(params![R::KIND.as_str(), period.to_string()], |r| r.get(0))
        .optional()?;
    let Some(id) = id else { return Ok(None) };
    match documents::load(conn, id)? {
        Some(stored) if stored.kind == R::KIND => Ok(Some(hydrate(&stored.doc, id)?)),
        _ => Ok(None),
    }
}

/// This user's rows that a period within `[lo, hi)` may count, and every deal of theirs.
fn my_rows(conn: &Connection, lo: UnixMillis, hi: UnixMillis) -> Result<RepRows> {
    let mut rows = RepRows::default();
    let mut statement =
        conn.prepare_cached("SELECT doc_id, row FROM kpi_rows WHERE is_deal = 1 OR (hi >= ?1 AND lo < ?2)")?;
    let mut found = statement.query(params![lo, hi])?;
    while let Some(r) = found.next()? {
        let text: String = r.get(1)?;
        let row: KpiRow = serde_json::from_str(&text).map_err(|e| StoreError::CorruptDocument {
            id: r.get(0).unwrap_or(DocId::from_bytes([0; 16])),
            reason: format!("its KPI row does not read ({e}); rebuild the projections"),
        })?;
        rows.push(row);
    }
    Ok(rows)
}

impl Store {
    /// This phone's user's figures for `period` as of now, with the projected payout under the
    /// team's incentive rules as last synced. [`StoreError::NotEnrolled`] before enrollment.
    pub fn my_figures(&self, period: Period) -> Result<MyFigures> {
        self.my_figures_at(period, self.now_ms())
    }

    /// [`Store::my_figures`] as of `as_of`.
    pub fn my_figures_at(&self, period: Period, as_of: UnixMillis) -> Result<MyFigures> {
        let mut all = self.my_figures_for(&[period], as_of)?;
        Ok(all.remove(0))
    }

    /// [`Store::my_figures`] for several periods at once (the dashboard's week, month and
    /// quarter), reading the records once. One entry per period, in order.
    pub fn my_figures_for(&self, periods: &[Period], as_of: UnixMillis) -> Result<Vec<MyFigures>> {
        self.db.read(|conn| {
            let user = super::ownership::user_of(conn)?.ok_or(StoreError::NotEnrolled)?;
            let rules = capture::team_rules(conn)?.unwrap_or_else(TeamRules::defaults);
            let calendar = rules.calendar().map_err(StoreError::Invalid)?;
            let ctx = KpiContext {
                calendar,
                required_customer_fields: rules.required_customer_fields.clone(),
                as_of,
            };
            let book = rules.rule_book();
            let offset = ctx.calendar.utc_offset_minutes;
            let lo = periods.iter().map(|p| p.span_ms(offset).0).min().unwrap_or(0);
            let hi = periods.iter().map(|p| p.span_ms(offset).1).max().unwrap_or(0);
            let rows = my_rows(conn, lo, hi)?;
            let index = KpiIndex::from_rows(std::iter::once((user.clone(), rows)).collect());
            periods
                .iter()
                .map(|&period| {
                    let figures = index.rep(&ctx, period, &user);
                    let payout = match &book {
                        Ok(Some(book)) => book
                            .in_force(period)
                            .map(|r| r.evaluate(&figures.facts))
                            .map_err(|e| e.to_string()),
                        Ok(None) => Err("the team has no incentive rules".into()),
                        Err(e) => Err(e.to_string()),
                    };
                    Ok(MyFigures { figures, payout, team: board::<Scoreboard>(conn, period)? })
                })
                .collect::<Result<Vec<_>>>()
        })
    }

    /// The team's scoreboard of `period` as last synced (the relay writes those of the running
    /// and the previous week, month and quarter), `None` when none arrived.
    pub fn team_scoreboard(&self, period: Period) -> Result<Option<Scoreboard>> {
        self.db.read(|conn| board::<Scoreboard>(conn, period))
    }

    /// Every rep's figures for `period` as last synced: the relay sends team tables to
    /// supervisors' and admins' devices only, so a rep's phone always gets `None`.
    pub fn team_table(&self, period: Period) -> Result<Option<TeamTable>> {
        self.db.read(|conn| board::<TeamTable>(conn, period))
    }
}
