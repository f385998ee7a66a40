//! Heat tags (issue 13 §4) through the real store: a customer's heat from the projection tables
//! equals the pure rule over the same typed records, lists filter by level and tag, summaries
//! carry the heat, the team's thresholds apply, and nothing is written.

use std::sync::Arc;

use fieldsync_core::heat::{Heat, HeatFilter, HeatInput, HeatLevel, HeatRules, HeatTag, heat};
use fieldsync_core::model::{
    Activity, ActivityType, Customer, LeadCard, NewActivity, NewCustomer, NewLeadCard, NewOpportunity,
    NewTeamRules, NewVisit, Opportunity, Stage, Visit,
};
use fieldsync_core::{DocId, ManualClock, Store, StoreError, StoreOptions};

/// A fixed start for the phone clocks.
const NOW: i64 = 1_762_045_200_000;
const DAY: i64 = 86_400_000;

struct Phone {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<ManualClock>,
    records: Records,
}

#[derive(Default)]
struct Records {
    customers: Vec<Customer>,
    activities: Vec<Activity>,
    visits: Vec<Visit>,
    cards: Vec<LeadCard>,
    deals: Vec<Opportunity>,
}

fn phone() -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW - 100 * DAY));
    let store =
        Store::open_with(dir.path().join("rep.fieldsync"), StoreOptions { clock: clock.clone() }).unwrap();
    Phone { _dir: dir, store, clock, records: Records::default() }
}

impl Phone {
    /// Sets the phone's clock `days` before `NOW`.
    fn days_before_now(&self, days: i64) {
        self.clock.set(NOW - days * DAY);
    }

    fn customer(&mut self, name: &str) -> DocId {
        let c: Customer =
            self.store.create(NewCustomer { company_name: name.into(), ..Default::default() }).unwrap();
        self.records.customers.push(c.clone());
        c.id
    }

    fn activity(&mut self, customer_id: DocId, activity_type: ActivityType, days_ago: i64, summary: &str) {
        let a = self
            .store
            .log_activity(NewActivity {
                activity_type,
                customer_id,
                opportunity_id: None,
                visit_id: None,
                contact: None,
                phone: None,
                at: NOW - days_ago * DAY,
                duration_s: None,
                summary: summary.into(),
                outcome: None,
                next_action: None,
            })
            .unwrap();
        self.records.activities.push(a);
    }

    fn visit(&mut self, customer_id: DocId, days_ago: i64, checked_in: bool) {
        let mut v: Visit = self
            .store
            .create(NewVisit {
                customer_id,
                opportunity_id: None,
                planned_at: NOW - days_ago * DAY,
                notes: String::new(),
            })
            .unwrap();
        if checked_in {
            v.started_at = Some(NOW - days_ago * DAY);
            v = self.store.update(&v).unwrap();
        }
        self.records.visits.push(v);
    }

    fn card(&mut self, customer_id: DocId, days_ago: i64) {
        self.days_before_now(days_ago);
        let c: LeadCard = self
            .store
            .create(NewLeadCard {
                raw_payload: "MECARD:N:王伟;ORG:鑫达;;".into(),
                format: "mecard".into(),
                customer_id: Some(customer_id),
                ..Default::default()
            })
            .unwrap();
        self.records.cards.push(c);
    }

    fn deal(&mut self, customer_id: DocId, stage: Stage, days_ago: i64) {
        self.days_before_now(days_ago);
        let d: Opportunity = self
            .store
            .create(NewOpportunity {
                customer_id,
                owner: "李娜".into(),
                title: "二期注塑机".into(),
                stage,
                amount: None,
                expected_close_at: None,
                next_action_due_at: None,
            })
            .unwrap();
        self.records.deals.push(d);
    }

    /// The pure rule over the typed records this test wrote, as the relay computes it.
    fn heat_from_records(&self, customer_id: DocId, rules: &HeatRules) -> Heat {
        let r = &self.records;
        let customer = r.customers.iter().find(|c| c.id == customer_id);
        let input =
            HeatInput::from_records(customer_id, customer, &r.activities, &r.visits, &r.cards, &r.deals);
        heat(&input, rules, NOW)
    }
}

/// Six customers, one of each kind of heat.
struct Team {
    inquiring: DocId,
    negotiating: DocId,
    visited: DocId,
    new_lead: DocId,
    dormant: DocId,
    empty: DocId,
}

fn team(p: &mut Phone) -> Team {
    p.days_before_now(90);
    let t = Team {
        inquiring: p.customer("宁波鑫达精密模具"),
        negotiating: p.customer("苏州精工机械"),
        visited: p.customer("昆山华通电子"),
        new_lead: p.customer("上海博远自动化"),
        dormant: p.customer("南京恒信包装"),
        empty: DocId::generate(),
    };
    p.activity(t.inquiring, ActivityType::InquiryReceived, 30, "");
    p.activity(t.inquiring, ActivityType::Call, 2, "");
    p.deal(t.negotiating, Stage::Negotiation, 5);
    p.visit(t.visited, 3, true);
    p.visit(t.visited, 1, false);
    p.card(t.new_lead, 10);
    p.activity(t.dormant, ActivityType::Call, 61, "问了交期");
    p.days_before_now(1);
    let empty: Customer =
        p.store.create(NewCustomer { company_name: "杭州新客".into(), ..Default::default() }).unwrap();
    p.records.customers.push(empty.clone());
    Team { empty: empty.id, ..t }
}

#[test]
fn the_phone_gives_the_pure_rules_heat_for_the_same_records() {
    let mut p = phone();
    let t = team(&mut p);
    let rules = HeatRules::default();
    let expected = [
        (t.inquiring, HeatLevel::Hot, vec![HeatTag::RecentInquiry]),
        (t.negotiating, HeatLevel::Hot, vec![HeatTag::OpenDeal, HeatTag::LateStageDeal]),
        (t.visited, HeatLevel::Warm, vec![HeatTag::Visited]),
        (t.new_lead, HeatLevel::Warm, vec![HeatTag::NewLead]),
        (t.dormant, HeatLevel::Cold, vec![HeatTag::Dormant]),
        (t.empty, HeatLevel::Cold, vec![]),
    ];
    for (id, level, tags) in expected {
        let on_phone = p.store.customer_heat(id, NOW).unwrap();
        assert_eq!((on_phone.level, &on_phone.tags), (level, &tags), "customer {id}");
        assert_eq!(on_phone, p.heat_from_records(id, &rules), "customer {id}: projection and records differ");
    }
}

#[test]
fn customers_by_tag_filters_by_level_and_tag_most_recently_touched_first() {
    let mut p = phone();
    let t = team(&mut p);
    let ids = |filter: &str| -> Vec<DocId> {
        let filter = HeatFilter::parse(filter).unwrap();
        p.store.customers_by_tag(filter, NOW, 100).unwrap().into_iter().map(|c| c.id).collect()
    };
    assert_eq!(ids("hot"), vec![t.negotiating, t.inquiring], "the call 2 days ago is unsummarised");
    assert_eq!(ids("warm"), vec![t.visited, t.new_lead]);
    assert_eq!(ids("cold"), vec![t.dormant, t.empty], "never touched comes last");
    assert_eq!(ids("dormant"), vec![t.dormant]);
    assert_eq!(ids("late_stage_deal"), vec![t.negotiating]);
    assert_eq!(ids("sample_sent"), Vec::<DocId>::new());
    let limited = p.store.customers_by_tag(HeatFilter::Level(HeatLevel::Hot), NOW, 1).unwrap();
    assert_eq!(limited.len(), 1);
    let heat = limited[0].heat.as_ref().expect("listed customers carry their heat");
    assert_eq!(heat.tags, vec![HeatTag::OpenDeal, HeatTag::LateStageDeal]);
}

#[test]
fn customer_searches_carry_the_heat() {
    let mut p = phone();
    let t = team(&mut p);
    p.clock.set(NOW);
    let found = p.store.customers_by_name_prefix("苏州", 10).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, t.negotiating);
    assert_eq!(found[0].heat.as_ref().map(|h| h.level), Some(HeatLevel::Hot));
}

#[test]
fn the_teams_thresholds_apply_and_heat_writes_nothing() {
    let mut p = phone();
    let t = team(&mut p);
    let documents = p.store.document_count().unwrap();
    let outbox = p.store.outbox_len().unwrap();
    assert_eq!(p.store.customer_heat(t.inquiring, NOW).unwrap().level, HeatLevel::Hot);
    assert_eq!((p.store.document_count().unwrap(), p.store.outbox_len().unwrap()), (documents, outbox));

    // A narrower window: the inquiry 30 days ago is no longer recent.
    let narrow = HeatRules { window_days: 20, ..HeatRules::default() };
    p.store.create(NewTeamRules { heat: narrow, ..NewTeamRules::default() }).unwrap();
    let heat = p.store.customer_heat(t.inquiring, NOW).unwrap();
    assert_eq!((heat.level, heat.tags.clone()), (HeatLevel::Cold, vec![]));
    assert_eq!(heat, p.heat_from_records(t.inquiring, &narrow));
}

#[test]
fn team_rules_with_heat_thresholds_out_of_range_are_refused() {
    let p = phone();
    let bad = HeatRules { dormant_days: 10, ..HeatRules::default() };
    let err = p.store.create(NewTeamRules { heat: bad, ..NewTeamRules::default() }).unwrap_err();
    assert!(matches!(&err, StoreError::Invalid(v) if v.field == "heat_dormant_days"), "{err}");
}

#[test]
fn an_unknown_customer_is_not_found() {
    let p = phone();
    let err = p.store.customer_heat(DocId::generate(), NOW).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

/// Not a test: `cargo test -p fieldsync-core --release --test heat_tags -- --ignored --nocapture
/// customers_by_tag_cost` prints how long one list takes over 5,000 customers.
#[test]
#[ignore]
fn customers_by_tag_cost() {
    const KINDS: [ActivityType; 5] = [
        ActivityType::Call,
        ActivityType::Message,
        ActivityType::InquiryReceived,
        ActivityType::SampleSent,
        ActivityType::QuoteSent,
    ];
    let p = phone();
    let customers: Vec<Customer> = p
        .store
        .create_batch(
            (0..5_000)
                .map(|i| NewCustomer { company_name: format!("客户{i:05}"), ..Default::default() })
                .collect(),
        )
        .unwrap();
    let activities: Vec<NewActivity> = customers
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            (0..4).map(move |k| NewActivity {
                activity_type: KINDS[(i + k) % KINDS.len()],
                customer_id: c.id,
                opportunity_id: None,
                visit_id: None,
                contact: None,
                phone: None,
                at: NOW - ((i as i64 * 7 + k as i64 * 13) % 90) * DAY,
                duration_s: None,
                summary: "沟通".into(),
                outcome: None,
                next_action: None,
            })
        })
        .collect();
    for a in activities {
        p.store.log_activity(a).unwrap();
    }
    for filter in ["hot", "dormant", "cold"] {
        let started = std::time::Instant::now();
        let found = p.store.customers_by_tag(HeatFilter::parse(filter).unwrap(), NOW, 5_000).unwrap();
        println!(
            "customers_by_tag({filter}) over 5000 customers, 20000 activities: {} found in {:?}",
            found.len(),
            started.elapsed()
        );
    }
}
