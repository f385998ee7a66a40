//! The query projections: small SQL rows derived from each document, written in the same
//! transaction as the document so they can never disagree with it, and rebuildable from the
//! documents at any time (a new projection or a fixed bug only needs a rebuild).

use automerge::Automerge;
use rusqlite::{Connection, params};

use super::error::{Result, StoreError};
use crate::dedup::fold_width;
use crate::ids::DocId;
use crate::model::{Customer, LeadCard, Opportunity, Record, RecordKind, Visit};

/// Rewrites the projection rows of one document from its current state.
pub(crate) fn project(conn: &Connection, id: DocId, kind: RecordKind, doc: &Automerge) -> Result<()> {
    match kind {
        RecordKind::Customer => project_customer(conn, &hydrate::<Customer>(doc, id)?),
        RecordKind::Visit => project_visit(conn, &hydrate::<Visit>(doc, id)?),
        RecordKind::Opportunity => project_opportunity(conn, &hydrate::<Opportunity>(doc, id)?),
        RecordKind::LeadCard => project_lead_card(conn, &hydrate::<LeadCard>(doc, id)?),
        // Slips and rules are read by id; nothing queries them by field yet.
        RecordKind::ServiceSlip | RecordKind::TeamRules => Ok(()),
    }
}

pub(crate) fn hydrate<R: Record>(doc: &Automerge, id: DocId) -> Result<R> {
    autosurgeon::hydrate(doc).map_err(|e| StoreError::CorruptDocument {
        id,
        reason: format!("it does not read as a {}: {e}", R::KIND),
    })
}

/// Deletes every projection row and rebuilds them from the documents.
pub(crate) fn rebuild(conn: &Connection) -> Result<u64> {
    conn.execute_batch(
        "DELETE FROM customer_geo; DELETE FROM customer_phone_index; DELETE FROM customer_index;
         DELETE FROM visit_index; DELETE FROM opportunity_index; DELETE FROM lead_card_index;",
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
    let existing_row: Option<i64> = conn
        .prepare_cached("SELECT row_id FROM customer_index WHERE doc_id = ?1")?
        .query_row([&id], |r| r.get(0))
        .ok();
    let first_phone = customer.phones.first().cloned();
    let merged_into = customer.merged_into.map(|m| m.to_string());
    let row_id = match existing_row {
        Some(row_id) => {
            conn.prepare_cached(
                "UPDATE customer_index SET company_name = ?2, name_key = ?3, first_phone = ?4,
                 merged_into = ?5 WHERE row_id = ?1",
            )?
            .execute(params![
                row_id,
                customer.company_name,
                name_key(&customer.company_name),
                first_phone,
                merged_into
            ])?;
            row_id
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO customer_index (doc_id, company_name, name_key, first_phone, merged_into, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                id,
                customer.company_name,
                name_key(&customer.company_name),
                first_phone,
                merged_into,
                customer.provenance.created_at
            ])?;
            conn.last_insert_rowid()
        }
    };

    conn.prepare_cached("DELETE FROM customer_phone_index WHERE doc_id = ?1")?.execute([&id])?;
    let phones = customer.phones.iter().chain(customer.contacts.iter().flat_map(|c| c.phones.iter()));
    for phone in phones {
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

fn project_visit(conn: &Connection, visit: &Visit) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO visit_index
         (doc_id, customer_id, opportunity_id, at, started_at, ended_at, photo_count)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        visit.id.to_string(),
        visit.customer_id.to_string(),
        visit.opportunity_id.map(|o| o.to_string()),
        visit.started_at.unwrap_or(visit.planned_at),
        visit.started_at,
        visit.ended_at,
        visit.photos.len() as i64
    ])?;
    Ok(())
}

fn project_opportunity(conn: &Connection, opportunity: &Opportunity) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO opportunity_index
         (doc_id, customer_id, owner, title, stage, stage_entered_at, next_action_due_at, amount_minor, currency)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        opportunity.id.to_string(),
        opportunity.customer_id.to_string(),
        opportunity.owner,
        opportunity.title,
        opportunity.stage.as_str(),
        opportunity.stage_entered_at,
        opportunity.next_action_due_at,
        opportunity.amount.as_ref().map(|a| a.minor_units),
        opportunity.amount.as_ref().map(|a| a.currency.clone())
    ])?;
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
    fn name_keys_fold_width_case_and_spaces() {
        assert_eq!(name_key("ＡＢＣ 精工 Machinery"), "abc精工machinery");
    }
}
