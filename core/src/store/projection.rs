//! The query projections: small SQL rows derived from each document, written in the same
//! transaction as the document so they can never disagree with it, and rebuildable from the
//! documents at any time (a new projection or a fixed bug only needs a rebuild).

use automerge::Automerge;
use rusqlite::{Connection, OptionalExtension, params};

use super::error::{Result, StoreError};
use crate::dedup::{CustomerKey, NormalizedPhone, PhoneKind, fold_width, name_grams};
use crate::ids::DocId;
use crate::model::{
    Activity, Alert, ClaimRequest, Customer, LeadCard, Opportunity, Ownership, Record, RecordKind,
    Scoreboard, ServiceSlip, TeamTable, Visit,
};

/// Rewrites the projection rows of one document from its current state.
pub(crate) fn project(conn: &Connection, id: DocId, kind: RecordKind, doc: &Automerge) -> Result<()> {
    match kind {
        // Rules are read by id; nothing queries them by field.
        RecordKind::TeamRules => Ok(()),
        _ => Projected::read(id, kind, doc)?.write(conn),
    }
}

/// A record read out of its document, ready to write its projection rows: reading (Automerge
/// work, no SQL) and writing (SQL only) are apart so that a sync can read many documents on
/// several threads before its one write transaction (issue 17).
pub(crate) enum Projected {
    Customer(Customer),
    Visit(Visit),
    Opportunity(Opportunity),
    LeadCard(LeadCard),
    Alert(Alert),
    Activity(Activity),
    Ownership(Ownership),
    ClaimRequest(ClaimRequest),
    /// The relay's scoreboard of a period: indexed by period.
    Scoreboard(Scoreboard),
    /// The relay's team table of a period: indexed by period.
    TeamTable(TeamTable),
    /// A slip: its row in the KPI projection.
    Slip(ServiceSlip),
    /// Rules: read (so known to be readable), with no rows.
    NoRows,
}

impl Projected {
    /// Reads document `id` as a `kind` record; `CorruptDocument` when it does not read as one.
    pub(crate) fn read(id: DocId, kind: RecordKind, doc: &Automerge) -> Result<Projected> {
        Ok(match kind {
            RecordKind::Customer => Projected::Customer(hydrate(doc, id)?),
            RecordKind::Visit => Projected::Visit(hydrate(doc, id)?),
            RecordKind::Opportunity => Projected::Opportunity(hydrate(doc, id)?),
            RecordKind::LeadCard => Projected::LeadCard(hydrate(doc, id)?),
            RecordKind::Alert => Projected::Alert(hydrate(doc, id)?),
            RecordKind::Activity => Projected::Activity(hydrate(doc, id)?),
            RecordKind::Ownership => Projected::Ownership(hydrate(doc, id)?),
            RecordKind::ClaimRequest => Projected::ClaimRequest(hydrate(doc, id)?),
            RecordKind::Scoreboard => Projected::Scoreboard(hydrate(doc, id)?),
            RecordKind::TeamTable => Projected::TeamTable(hydrate(doc, id)?),
            RecordKind::ServiceSlip => Projected::Slip(hydrate(doc, id)?),
            RecordKind::TeamRules => {
                crate::model::check_readable(doc)
                    .map_err(|reason| StoreError::CorruptDocument { id, reason })?;
                Projected::NoRows
            }
        })
    }

    /// Writes the record's projection rows.
    pub(crate) fn write(&self, conn: &Connection) -> Result<()> {
        match self {
            Projected::Customer(customer) => {
                project_customer(conn, customer)?;
                super::kpi::project_customer(conn, customer)
            }
            Projected::Visit(visit) => {
                project_visit(conn, visit)?;
                super::kpi::project_visit(conn, visit)
            }
            Projected::Opportunity(deal) => {
                project_opportunity(conn, deal)?;
                super::kpi::project_deal(conn, deal)
            }
            Projected::LeadCard(card) => project_lead_card(conn, card),
            Projected::Alert(alert) => project_alert(conn, alert),
            Projected::Activity(activity) => {
                project_activity(conn, activity)?;
                super::kpi::project_activity(conn, activity)
            }
            Projected::Ownership(ownership) => super::ownership::project_ownership(conn, ownership),
            Projected::ClaimRequest(claim) => super::ownership::project_claim(conn, claim),
            Projected::Slip(slip) => super::kpi::project_slip(conn, slip),
            Projected::Scoreboard(board) => super::kpi::project_board(
                conn,
                board.id,
                RecordKind::Scoreboard,
                &board.period,
                board.computed_at,
            ),
            Projected::TeamTable(table) => super::kpi::project_board(
                conn,
                table.id,
                RecordKind::TeamTable,
                &table.period,
                table.computed_at,
            ),
            Projected::NoRows => Ok(()),
        }
    }
}

pub(crate) fn hydrate<R: Record>(doc: &Automerge, id: DocId) -> Result<R> {
    crate::model::read_record(doc).map_err(|e| StoreError::CorruptDocument {
        id,
        reason: format!("it does not read as a {}: {e}", R::KIND),
    })
}

/// Deletes every projection row and rebuilds them from the documents.
pub(crate) fn rebuild(conn: &Connection) -> Result<u64> {
    conn.execute_batch(
        "DELETE FROM customer_geo; DELETE FROM customer_phone_index; DELETE FROM customer_index;
         DELETE FROM customer_e164_index; DELETE FROM customer_name_grams;
         DELETE FROM customer_name_gram_counts;
         DELETE FROM visit_index; DELETE FROM opportunity_index; DELETE FROM lead_card_index;
         DELETE FROM stage_history_index; DELETE FROM alert_index; DELETE FROM activity_index;
         DELETE FROM ownership_index; DELETE FROM claim_index; DELETE FROM kpi_rows;
         DELETE FROM kpi_slips; DELETE FROM scoreboard_index;",
    )?;
    let ids: Vec<DocId> = conn
        .prepare("SELECT doc_id FROM documents ORDER BY doc_id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut count = 0;
    for id in ids {
        if let Some(stored) = super::documents::load(conn, id)? {
            project(conn, id, stored.kind, &stored.doc)?;
            count += 1;
        }
    }
    Ok(count)
}

/// The key customers are searched by name with: full-width ASCII folded to half-width,
/// lowercase, no white space — what a rep types on a phone keyboard should match.
pub(crate) fn name_key(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let c = fold_width(c);
            (!c.is_whitespace()).then(|| c.to_lowercase()).map(|l| l.collect::<String>())
        })
        .collect()
}

/// The key customers are searched by phone with: digits only, a leading +86/0086 country code
/// removed, so "138 1234" and "+86-138-1234" share a prefix.
pub(crate) fn phone_key(phone: &str) -> String {
    let digits: String = phone.chars().map(fold_width).filter(char::is_ascii_digit).collect();
    let trimmed = if phone.trim_start().starts_with('+') {
        digits.strip_prefix("86").unwrap_or(&digits)
    } else {
        digits.strip_prefix("0086").unwrap_or(&digits)
    };
    trimmed.to_owned()
}

fn project_customer(conn: &Connection, customer: &Customer) -> Result<()> {
    let id = customer.id.to_string();
    let existing: Option<(i64, String, String)> = conn
        .prepare_cached("SELECT row_id, company_name, dedup_phones FROM customer_index WHERE doc_id = ?1")?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let first_phone = customer.phones.first().cloned();
    let merged_into = customer.merged_into.map(|m| m.to_string());
    let key = customer_key(customer);
    let dedup_phones = encode_phones(&key.phones);
    let row_id = match &existing {
        Some((row_id, _, _)) => {
            conn.prepare_cached(
                "UPDATE customer_index SET company_name = ?2, name_key = ?3, first_phone = ?4,
                 merged_into = ?5, dedup_phones = ?6, credit_code = ?7 WHERE row_id = ?1",
            )?
            .execute(params![
                row_id,
                customer.company_name,
                name_key(&customer.company_name),
                first_phone,
                merged_into,
                dedup_phones,
                key.credit_code
            ])?;
            *row_id
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO customer_index
                 (doc_id, company_name, name_key, first_phone, merged_into, created_at, dedup_phones, credit_code)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id,
                customer.company_name,
                name_key(&customer.company_name),
                first_phone,
                merged_into,
                customer.provenance.created_at,
                dedup_phones,
                key.credit_code
            ])?;
            conn.last_insert_rowid()
        }
    };
    let previous = existing.as_ref().map(|(_, name, phones)| DedupEntries::of(name, &decode_phones(phones)));
    DedupEntries::of(&customer.company_name, &key.phones).write(conn, row_id, previous.as_ref())?;

    conn.prepare_cached("DELETE FROM customer_phone_index WHERE doc_id = ?1")?.execute([&id])?;
    for phone in all_phones(customer) {
        let key = phone_key(phone);
        if !key.is_empty() {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO customer_phone_index (phone_key, doc_id) VALUES (?1, ?2)",
            )?
            .execute(params![key, id])?;
        }
    }

    conn.prepare_cached("DELETE FROM customer_geo WHERE id = ?1")?.execute([row_id])?;
    if let Some((lat, lon)) = customer.location.as_ref().and_then(|l| l.to_wgs84()) {
        conn.prepare_cached(
            "INSERT INTO customer_geo (id, min_lat, max_lat, min_lon, max_lon) VALUES (?1, ?2, ?2, ?3, ?3)",
        )?
        .execute(params![row_id, lat, lon])?;
    }
    Ok(())
}

/// The company's phones and its contacts' phones: any of them can tell a duplicate.
fn all_phones(customer: &Customer) -> impl Iterator<Item = &String> {
    customer.phones.iter().chain(customer.contacts.iter().flat_map(|c| c.phones.iter()))
}

/// The duplicate-check key of a stored customer: its name, company and contact phones, and
/// credit code.
pub(crate) fn customer_key(customer: &Customer) -> CustomerKey {
    let phones: Vec<&str> = all_phones(customer).map(String::as_str).collect();
    CustomerKey::new(&customer.company_name, &phones, customer.credit_code.as_deref())
}

/// Normalised phones as stored in `customer_index.dedup_phones`: `E164[#EXT]/KIND`, separated by
/// spaces. Neither part can hold a space, `#` or `/`: E.164 is `+` and digits, an extension
/// digits.
pub(crate) fn encode_phones(phones: &[NormalizedPhone]) -> String {
    let mut out = String::new();
    for phone in phones {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&phone.e164);
        if let Some(extension) = &phone.extension {
            out.push('#');
            out.push_str(extension);
        }
        out.push_str(match phone.kind {
            PhoneKind::Mobile => "/m",
            PhoneKind::Landline => "/l",
            PhoneKind::Service => "/s",
        });
    }
    out
}

/// The inverse of [`encode_phones`]; entries it cannot read are skipped.
pub(crate) fn decode_phones(encoded: &str) -> Vec<NormalizedPhone> {
    encoded
        .split(' ')
        .filter_map(|entry| {
            let (number, kind) = entry.rsplit_once('/')?;
            let kind = match kind {
                "m" => PhoneKind::Mobile,
                "l" => PhoneKind::Landline,
                "s" => PhoneKind::Service,
                _ => return None,
            };
            let (e164, extension) = match number.split_once('#') {
                Some((e164, extension)) => (e164, Some(extension.to_owned())),
                None => (number, None),
            };
            Some(NormalizedPhone { e164: e164.to_owned(), extension, kind })
        })
        .collect()
}

/// The rows one customer has in the duplicate-check indexes.
struct DedupEntries {
    grams: Vec<String>,
    e164: Vec<String>,
}

impl DedupEntries {
    fn of(company_name: &str, phones: &[NormalizedPhone]) -> Self {
        let mut e164: Vec<String> = phones.iter().map(|p| p.e164.clone()).collect();
        e164.sort();
        e164.dedup();
        DedupEntries { grams: name_grams(company_name), e164 }
    }

    /// Writes these entries for `row_id`, replacing `previous` (what the row had before, or
    /// `None` for a row with no entries yet). Only the difference is written, so an edit that
    /// leaves the name alone touches no gram.
    fn write(&self, conn: &Connection, row_id: i64, previous: Option<&DedupEntries>) -> Result<()> {
        let (old_grams, old_e164) = previous.map(|p| (&p.grams[..], &p.e164[..])).unwrap_or_default();
        let mut delete_gram =
            conn.prepare_cached("DELETE FROM customer_name_grams WHERE gram = ?1 AND row_id = ?2")?;
        for gram in old_grams.iter().filter(|g| !self.grams.contains(g)) {
            delete_gram.execute(params![gram, row_id])?;
        }
        let mut insert_gram =
            conn.prepare_cached("INSERT OR IGNORE INTO customer_name_grams (gram, row_id) VALUES (?1, ?2)")?;
        for gram in self.grams.iter().filter(|g| !old_grams.contains(g)) {
            insert_gram.execute(params![gram, row_id])?;
        }
        let mut delete_phone =
            conn.prepare_cached("DELETE FROM customer_e164_index WHERE e164 = ?1 AND row_id = ?2")?;
        for e164 in old_e164.iter().filter(|p| !self.e164.contains(p)) {
            delete_phone.execute(params![e164, row_id])?;
        }
        let mut insert_phone =
            conn.prepare_cached("INSERT OR IGNORE INTO customer_e164_index (e164, row_id) VALUES (?1, ?2)")?;
        for e164 in self.e164.iter().filter(|p| !old_e164.contains(p)) {
            insert_phone.execute(params![e164, row_id])?;
        }
        Ok(())
    }
}

/// The Rust step of migration 0004: fills the duplicate-check columns and indexes for the
/// customers already in the store. A customer whose document cannot be read keeps its other
/// projection rows and is left out of these indexes (a later edit or a rebuild puts it in):
/// one damaged document must not keep the whole store from opening.
pub(crate) fn index_customers_for_dedup(conn: &Connection) -> Result<()> {
    let rows: Vec<(i64, DocId)> = conn
        .prepare("SELECT row_id, doc_id FROM customer_index ORDER BY row_id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (row_id, id) in rows {
        let Ok(Some(stored)) = super::documents::load(conn, id) else {
            continue;
        };
        let Ok(customer) = hydrate::<Customer>(&stored.doc, id) else {
            continue;
        };
        let key = customer_key(&customer);
        conn.prepare_cached(
            "UPDATE customer_index SET dedup_phones = ?2, credit_code = ?3 WHERE row_id = ?1",
        )?
        .execute(params![row_id, encode_phones(&key.phones), key.credit_code])?;
        DedupEntries::of(&customer.company_name, &key.phones).write(conn, row_id, None)?;
    }
    Ok(())
}

fn project_visit(conn: &Connection, visit: &Visit) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO visit_index
         (doc_id, customer_id, opportunity_id, at, started_at, ended_at, photo_count, on_site)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        visit.id.to_string(),
        visit.customer_id.to_string(),
        visit.opportunity_id.map(|o| o.to_string()),
        visit.started_at.unwrap_or(visit.planned_at),
        visit.started_at,
        visit.ended_at,
        visit.photos.len() as i64,
        visit.on_site
    ])?;
    Ok(())
}

fn project_activity(conn: &Connection, activity: &Activity) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO activity_index
         (doc_id, customer_id, opportunity_id, activity_type, at, has_summary, next_action_due_at, next_action,
          summary_head, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        activity.id.to_string(),
        activity.customer_id.to_string(),
        activity.opportunity_id.map(|o| o.to_string()),
        activity.activity_type.as_str(),
        activity.at,
        activity.has_summary(),
        activity.open_next_action_due(),
        activity.next_action.as_ref().filter(|n| n.done_at.is_none()).map(|n| n.what.as_str()),
        activity.summary.trim().chars().take(60).collect::<String>(),
        activity.provenance.created_by.to_string()
    ])?;
    Ok(())
}

fn project_opportunity(conn: &Connection, opportunity: &Opportunity) -> Result<()> {
    let id = opportunity.id.to_string();
    conn.prepare_cached(
        "INSERT OR REPLACE INTO opportunity_index
         (doc_id, customer_id, owner, title, stage, stage_entered_at, next_action_due_at, amount_minor,
          currency, last_activity_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        id,
        opportunity.customer_id.to_string(),
        opportunity.owner,
        opportunity.title,
        opportunity.stage.as_str(),
        opportunity.stage_entered_at,
        opportunity.next_action_due_at,
        opportunity.amount.as_ref().map(|a| a.minor_units),
        opportunity.amount.as_ref().map(|a| a.currency.clone()),
        crate::funnel::deal_activity(opportunity)
    ])?;
    conn.prepare_cached("DELETE FROM stage_history_index WHERE opportunity_id = ?1")?.execute([&id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO stage_history_index (opportunity_id, seq, from_stage, to_stage, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (seq, change) in opportunity.stage_history.iter().enumerate() {
        insert.execute(params![
            id,
            seq as i64,
            change.from.map(|s| s.as_str()),
            change.to.as_str(),
            change.at
        ])?;
    }
    Ok(())
}

fn project_alert(conn: &Connection, alert: &Alert) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO alert_index (doc_id, opportunity_id, owner, stage, level, due_at, raised_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        alert.id.to_string(),
        alert.opportunity_id.to_string(),
        alert.owner,
        alert.stage.as_str(),
        alert.level.as_str(),
        alert.due_at,
        alert.raised_at
    ])?;
    Ok(())
}

/// The Rust step of migration 0005: projects the funnel columns and the stage history of the
/// deals already in the store (alerts did not exist before it). An unreadable deal is skipped,
/// as in 0004.
/// Migration 0009: visits' on-site check-ins, which count as effective follow-ups.
pub(crate) fn index_visits_on_site(conn: &Connection) -> Result<()> {
    let ids: Vec<DocId> = conn
        .prepare("SELECT doc_id FROM documents WHERE kind = 'visit' ORDER BY doc_id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids {
        let Ok(Some(stored)) = super::documents::load(conn, id) else { continue };
        if let Ok(visit) = hydrate::<Visit>(&stored.doc, id) {
            project_visit(conn, &visit)?;
        }
    }
    Ok(())
}

pub(crate) fn index_funnel(conn: &Connection) -> Result<()> {
    let ids: Vec<DocId> = conn
        .prepare("SELECT doc_id FROM documents WHERE kind = 'opportunity' ORDER BY doc_id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids {
        let Ok(Some(stored)) = super::documents::load(conn, id) else { continue };
        if let Ok(opportunity) = hydrate::<Opportunity>(&stored.doc, id) {
            project_opportunity(conn, &opportunity)?;
        }
    }
    Ok(())
}

fn project_lead_card(conn: &Connection, card: &LeadCard) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO lead_card_index (doc_id, name, company, customer_id, scanned_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        card.id.to_string(),
        card.name,
        card.company,
        card.customer_id.map(|c| c.to_string()),
        card.provenance.created_at
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_keys_ignore_country_code_separators_and_full_width_digits() {
        assert_eq!(phone_key("+86 138-1234-5678"), "13812345678");
        assert_eq!(phone_key("0086 13812345678"), "13812345678");
        assert_eq!(phone_key("１３８１２３４５６７８"), "13812345678");
        assert_eq!(phone_key("(0512) 6888 8888"), "051268888888");
    }

    #[test]
    fn chinese_cores_give_character_pairs_one_and_two_apart() {
        assert_eq!(name_grams("苏州市精工机械有限公司"), vec!["工机", "工械", "机械", "精工", "精机"]);
        assert_eq!(name_grams("华为"), vec!["华为"]);
    }

    #[test]
    fn a_one_character_typo_or_a_dropped_character_keeps_rare_grams_in_common() {
        let original = name_grams("精工机械");
        for typo in ["精功机械", "经工机械", "精工机戒", "精机械"] {
            let shared: Vec<_> =
                name_grams(typo).into_iter().filter(|g| original.contains(g) && g != "机械").collect();
            assert!(!shared.is_empty(), "{typo} shares only the common industry word");
        }
    }

    #[test]
    fn latin_words_give_padded_trigrams() {
        assert_eq!(name_grams("AB Co., Ltd."), vec![" ab", "ab "]);
        let grams = name_grams("Jinggong Machinery Co., Ltd.");
        assert!(grams.contains(&" ji".to_string()) && grams.contains(&"ry ".to_string()), "{grams:?}");
        assert!(!grams.iter().any(|g| g.contains("ltd")), "legal words are not indexed: {grams:?}");
    }

    #[test]
    fn normalised_phones_survive_the_column_encoding() {
        let key = CustomerKey::new("x", &["0512-68888888转201", "+86 138 1234 5678", "400-800-1234"], None);
        assert_eq!(decode_phones(&encode_phones(&key.phones)), key.phones);
        assert_eq!(decode_phones(""), vec![]);
    }

    #[test]
    fn name_keys_fold_width_case_and_spaces() {
        assert_eq!(name_key("ＡＢＣ 精工 Machinery"), "abc精工machinery");
    }
}
