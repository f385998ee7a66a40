//! Heat tags on the relay (docs/heat-tags.md): every customer's heat in a team, computed from the
//! documents the relay stores with the core's own rule ([`fieldsync_core::heat`]) and the
//! team's thresholds, so a supervisor's list agrees with the reps' phones. Derived when asked,
//! never written.
//!
//! It reads the team's stored snapshots page by page (not the writer's cache: no job queues
//! behind it), so its cost grows with the team's documents; it is a supervisor's query, run
//! from `spawn_blocking`. A document that does not read as its kind is left out, as the phones
//! leave it out of their projections.

use std::collections::HashMap;

use fieldsync_core::DocId;
use fieldsync_core::heat::{Heat, HeatFilter, HeatInput, HeatRules, heat, touched_first};
use fieldsync_core::model::{Activity, Customer, LeadCard, Opportunity, RecordKind, Visit};

use super::scan::read;
use crate::storage::{RelayStorage, StorageError};

/// One customer's heat, as the relay lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerHeat {
    /// The customer.
    pub customer_id: DocId,
    /// Its company name.
    pub company_name: String,
    /// Its heat.
    pub heat: Heat,
}

/// A customer's records, gathered from the team's documents.
#[derive(Debug, Default)]
struct CustomerRecords {
    activities: Vec<Activity>,
    visits: Vec<Visit>,
    cards: Vec<LeadCard>,
    deals: Vec<Opportunity>,
}

/// The heat thresholds of a team: its rules' when they read and validate, the defaults otherwise.
pub fn team_heat_rules(storage: &dyn RelayStorage, team_id: &str) -> Result<HeatRules, StorageError> {
    Ok(super::scan::team_rules(storage, team_id)?.heat_rules())
}

/// The heat at `now` of every customer of `team_id` (merged customers left out) whose heat
/// passes `filter` (all when `None`), most recently touched first, then by name and id.
pub fn team_heat(
    storage: &dyn RelayStorage,
    team_id: &str,
    filter: Option<HeatFilter>,
    now: i64,
) -> Result<Vec<CustomerHeat>, StorageError> {
    let rules = team_heat_rules(storage, team_id)?;
    let mut customers: Vec<Customer> = Vec::new();
    let mut records: HashMap<DocId, CustomerRecords> = HashMap::new();
    super::scan::each_team_document(storage, team_id, |id, kind, doc| {
        match kind {
            RecordKind::Customer => customers.extend(read::<Customer>(doc, id)),
            RecordKind::Activity => {
                if let Some(a) = read::<Activity>(doc, id) {
                    records.entry(a.customer_id).or_default().activities.push(a);
                }
            }
            RecordKind::Visit => {
                if let Some(v) = read::<Visit>(doc, id) {
                    records.entry(v.customer_id).or_default().visits.push(v);
                }
            }
            RecordKind::LeadCard => {
                if let Some(c) = read::<LeadCard>(doc, id)
                    && let Some(customer_id) = c.customer_id
                {
                    records.entry(customer_id).or_default().cards.push(c);
                }
            }
            RecordKind::Opportunity => {
                if let Some(d) = read::<Opportunity>(doc, id) {
                    records.entry(d.customer_id).or_default().deals.push(d);
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    let mut found: Vec<CustomerHeat> = customers
        .into_iter()
        .filter(|c| c.merged_into.is_none())
        .filter_map(|customer| {
            let mine = records.remove(&customer.id).unwrap_or_default();
            let input = HeatInput::from_records(
                customer.id,
                Some(&customer),
                &mine.activities,
                &mine.visits,
                &mine.cards,
                &mine.deals,
            );
            let heat = heat(&input, &rules, now);
            filter.is_none_or(|f| f.matches(&heat)).then_some(CustomerHeat {
                customer_id: customer.id,
                company_name: customer.company_name,
                heat,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        touched_first(&a.heat, &b.heat)
            .then_with(|| a.company_name.cmp(&b.company_name))
            .then(a.customer_id.cmp(&b.customer_id))
    });
    Ok(found)
}

/// One customer's heat at `now`, from the team's documents; `None` when the team has no such
/// customer (or it was merged into another).
pub fn customer_heat(
    storage: &dyn RelayStorage,
    team_id: &str,
    customer_id: DocId,
    now: i64,
) -> Result<Option<Heat>, StorageError> {
    Ok(team_heat(storage, team_id, None, now)?
        .into_iter()
        .find(|c| c.customer_id == customer_id)
        .map(|c| c.heat))
}
