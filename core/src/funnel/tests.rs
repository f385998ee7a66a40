//! Fake-clock scenarios built from the stage table (DESIGN §4): the rules are pure functions of
//! the deal's times and `now`, so every scenario is a list of instants.

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::ids::DeviceId;
use crate::model::{Draft, NewOpportunity, NewTeamRules, Provenance};

const T0: UnixMillis = 1_790_000_000_000;

fn rules() -> TeamRules {
    let provenance = Provenance { created_at: T0, created_by: DeviceId::from_bytes([1; 16]) };
    NewTeamRules::default().into_record(DocId::generate(), provenance)
}

fn deal(stage: Stage, entered: UnixMillis, active: UnixMillis) -> DealTimes {
    DealTimes {
        opportunity_id: DocId::generate(),
        stage,
        stage_entered_at: entered,
        last_activity_at: active,
    }
}

fn days(n: i64) -> i64 {
    n * DAY_MS
}

#[test]
fn a_proposal_without_progress_for_eight_days_alerts_the_supervisor_after_reminding_the_rep() {
    let rules = rules();
    let clock = ManualClock::new(T0);
    let deal = deal(Stage::ProposalSubmitted, T0, T0);
    let at = |clock: &ManualClock| assess(&deal, &rules, clock.now_ms());

    clock.set(T0 + days(7) - 1);
    assert!(at(&clock).due.is_empty(), "nothing due before day 7");
    assert_eq!(at(&clock).next_due_at, Some(T0 + days(7)));

    clock.set(T0 + days(7));
    let day7 = at(&clock);
    assert_eq!(day7.worst(), Some(StallLevel::Reminder), "the rep is reminded a day before: {day7:?}");
    assert_eq!(day7.next_due_at, Some(T0 + days(8)));

    clock.set(T0 + days(8));
    let day8 = at(&clock);
    assert_eq!(day8.worst(), Some(StallLevel::Supervisor));
    // 方案提交: 8 days without activity and 8 days in the stage fall due together.
    let kinds: Vec<_> = day8.at_level(StallLevel::Supervisor).map(|t| t.kind).collect();
    assert_eq!(kinds, [StallKind::NoActivity, StallKind::StageTooLong]);

    clock.set(T0 + days(11));
    assert_eq!(at(&clock).worst(), Some(StallLevel::Escalation), "three more days escalate");
    assert_eq!(at(&clock).next_due_at, None, "nothing left to fall due");
}

#[test]
fn activity_restarts_the_no_activity_clock_but_not_the_stage_clock() {
    let rules = rules();
    // 商务谈判: 10 days without activity, 15 in the stage.
    let entered = T0;
    let visited = T0 + days(6);
    let deal = deal(Stage::Negotiation, entered, visited);
    let day12 = assess(&deal, &rules, T0 + days(12));
    assert!(day12.at_level(StallLevel::Supervisor).next().is_none(), "{day12:?}");
    let day15 = assess(&deal, &rules, T0 + days(15));
    let supervisor: Vec<_> = day15.at_level(StallLevel::Supervisor).collect();
    assert_eq!(supervisor.len(), 1);
    assert_eq!(supervisor[0].kind, StallKind::StageTooLong);
    let day16 = assess(&deal, &rules, T0 + days(16));
    assert!(day16.at_level(StallLevel::Supervisor).any(|t| t.kind == StallKind::NoActivity));
    assert_eq!(
        day16
            .at_level(StallLevel::Supervisor)
            .find(|t| t.kind == StallKind::NoActivity)
            .unwrap()
            .period_start,
        visited
    );
}

#[test]
fn every_stage_of_the_table_alerts_at_its_threshold_and_closed_deals_never() {
    let rules = rules();
    for (stage, no_activity, max_days) in [
        (Stage::FirstContact, 5, 5),
        (Stage::NeedsConfirmed, 7, 10),
        (Stage::ProposalSubmitted, 8, 8),
        (Stage::Negotiation, 10, 15),
        (Stage::ContractSigning, 3, 3),
    ] {
        let d = deal(stage, T0, T0);
        let first = no_activity.min(max_days);
        assert!(assess(&d, &rules, T0 + days(first) - 1).at_level(StallLevel::Supervisor).next().is_none());
        assert!(
            assess(&d, &rules, T0 + days(first)).at_level(StallLevel::Supervisor).next().is_some(),
            "{stage}"
        );
        let norm = dwell_norm(stage).unwrap();
        assert!(norm.min_days < norm.max_days);
        assert_eq!(
            max_days,
            i64::from(norm.max_days),
            "{stage}: the stage limit is the top of the dwell norm"
        );
    }
    for closed in [Stage::Won, Stage::Lost] {
        let d = deal(closed, T0, T0);
        assert_eq!(assess(&d, &rules, T0 + days(400)), Assessment::default());
        assert_eq!(dwell_norm(closed), None);
    }
}

#[test]
fn keys_and_alert_ids_are_stable_and_distinct() {
    let rules = rules();
    let d = deal(Stage::ProposalSubmitted, T0, T0);
    let a = assess(&d, &rules, T0 + days(20));
    let again = assess(&d, &rules, T0 + days(30));
    let keys: Vec<_> = a.due.iter().map(|t| t.key(&d)).collect();
    let keys_again: Vec<_> = again.due.iter().map(|t| t.key(&d)).collect();
    assert_eq!(keys, keys_again, "the same triggers give the same keys later");
    let ids: std::collections::HashSet<_> = keys.iter().map(|k| alert_id(k)).collect();
    assert_eq!(ids.len(), keys.len());
    assert_eq!(alert_id(&keys[0]), alert_id(&keys[0]));
    assert_eq!(alert_id(&keys[0]).to_string().as_bytes()[14], b'8', "UUIDv8");
}

#[test]
fn forward_moves_need_the_stage_evidence_and_backward_moves_do_not() {
    let rules = rules();
    let provenance = Provenance { created_at: T0, created_by: DeviceId::from_bytes([2; 16]) };
    let mut opp = NewOpportunity {
        customer_id: DocId::generate(),
        owner: "li".into(),
        title: "注塑机".into(),
        stage: Stage::FirstContact,
        amount: None,
        expected_close_at: None,
        next_action_due_at: None,
    }
    .into_record(DocId::generate(), provenance);
    assert_eq!(missing_evidence(&opp, Stage::NeedsConfirmed, &rules), [EvidenceKind::TechnicalDocument]);
    assert_eq!(missing_evidence(&opp, Stage::Lost, &rules), []);
    assert_eq!(missing_evidence(&opp, Stage::Won, &rules), [EvidenceKind::SignedContract]);
    opp.stage = Stage::Negotiation;
    assert_eq!(missing_evidence(&opp, Stage::ProposalSubmitted, &rules), [], "backward");
    assert_eq!(missing_evidence(&opp, Stage::ContractSigning, &rules), [EvidenceKind::SignedContract]);
    opp.stage = Stage::Won;
    assert_eq!(missing_evidence(&opp, Stage::Negotiation, &rules), [], "reopening is not forward");
}
