//! Follow-ups through the real store (issue 13 §1): logging them offline, a call finished with
//! what was said, the rep's to-do, the customer's timeline, and bad input refused with nothing
//! saved.

use std::sync::Arc;

use fieldsync_core::model::{
    Activity, ActivityType, Customer, NewActivity, NewCustomer, NewLeadCard, NewOpportunity, NewVisit,
    NextAction, Opportunity, Stage, StallKind, StallLevel,
};
use fieldsync_core::store::{ActivityResult, ReminderKind, TimelineKind};
use fieldsync_core::{Clock, DocId, ManualClock, Store, StoreError, StoreOptions};

const NOW: i64 = 1_790_000_000_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

struct Phone {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<ManualClock>,
}

fn phone() -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let store =
        Store::open_with(dir.path().join("rep.fieldsync"), StoreOptions { clock: clock.clone() }).unwrap();
    Phone { _dir: dir, store, clock }
}

fn customer(p: &Phone, name: &str) -> Customer {
    p.store.create(NewCustomer { company_name: name.into(), ..Default::default() }).unwrap()
}

fn follow_up(customer: &Customer, kind: ActivityType, at: i64, summary: &str) -> NewActivity {
    NewActivity {
        activity_type: kind,
        customer_id: customer.id,
        opportunity_id: None,
        visit_id: None,
        contact: None,
        phone: None,
        at,
        duration_s: None,
        summary: summary.into(),
        outcome: None,
        next_action: None,
    }
}

fn deal(p: &Phone, customer: &Customer, title: &str) -> Opportunity {
    p.store
        .create(NewOpportunity {
            customer_id: customer.id,
            title: title.into(),
            owner: "rep-li".into(),
            stage: Stage::FirstContact,
            amount: None,
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap()
}

#[test]
fn a_call_started_from_the_phone_is_saved_at_once_and_finished_with_what_was_said() {
    let p = phone();
    let c = customer(&p, "宁波海天塑机");
    let call = p.store.start_call(c.id, "0574-8888 1234".into(), Some("王经理".into())).unwrap();
    assert_eq!((call.activity_type, call.at, call.summary.as_str()), (ActivityType::Call, NOW, ""));
    assert_eq!(p.store.get::<Activity>(call.id).unwrap(), call, "saved before the rep returns");

    p.clock.advance(6 * 60_000);
    let next = NextAction { what: "周五前发报价".into(), due_at: NOW + 2 * DAY, done_at: None };
    let finished = p
        .store
        .finish_activity(
            call.id,
            ActivityResult {
                duration_s: Some(340),
                outcome: Some("接通".into()),
                summary: "确认二期要两台 450 吨".into(),
                next_action: Some(next.clone()),
            },
        )
        .unwrap();
    assert_eq!(finished.duration_s, Some(340));
    assert_eq!(finished.next_action, Some(next));

    // Not due yet; due the day after tomorrow; done once completed.
    assert!(p.store.follow_up_todo(p.clock.now_ms(), p.clock.now_ms() + DAY).unwrap().due.is_empty());
    let todo = p.store.follow_up_todo(p.clock.now_ms(), NOW + 3 * DAY).unwrap();
    assert_eq!(todo.due.len(), 1);
    assert_eq!(todo.due[0].next_action, Some(("周五前发报价".into(), NOW + 2 * DAY)));
    assert_eq!(todo.due[0].summary_head, "确认二期要两台 450 吨");
    assert_eq!(p.store.overdue_next_actions(NOW + 3 * DAY, 10).unwrap().len(), 1);
    let done = p.store.complete_next_action(call.id).unwrap();
    assert_eq!(done.next_action.unwrap().done_at, Some(p.clock.now_ms()));
    assert!(p.store.follow_up_todo(p.clock.now_ms(), NOW + 3 * DAY).unwrap().due.is_empty());
}

#[test]
fn a_call_left_without_a_summary_for_a_day_is_on_the_reps_to_do() {
    let p = phone();
    let c = customer(&p, "苏州精工");
    let call = p.store.start_call(c.id, "13912345678".into(), None).unwrap();
    p.clock.advance(23 * HOUR);
    assert!(
        p.store.follow_up_todo(p.clock.now_ms(), p.clock.now_ms()).unwrap().calls_without_summary.is_empty()
    );
    p.clock.advance(2 * HOUR);
    let todo = p.store.follow_up_todo(p.clock.now_ms(), p.clock.now_ms()).unwrap();
    assert_eq!(todo.calls_without_summary.iter().map(|a| a.id).collect::<Vec<_>>(), [call.id]);
    p.store
        .finish_activity(
            call.id,
            ActivityResult {
                duration_s: None,
                outcome: Some("未接".into()),
                summary: "没人接".into(),
                next_action: None,
            },
        )
        .unwrap();
    assert!(
        p.store.follow_up_todo(p.clock.now_ms(), p.clock.now_ms()).unwrap().calls_without_summary.is_empty()
    );
}

#[test]
fn the_timeline_lists_visits_follow_ups_deals_and_cards_newest_first_in_pages() {
    let p = phone();
    let c = customer(&p, "东莞立讯模具");
    let other = customer(&p, "别家公司");
    let d = deal(&p, &c, "二期注塑机");
    let v = p
        .store
        .create(NewVisit {
            customer_id: c.id,
            opportunity_id: Some(d.id),
            planned_at: NOW + HOUR,
            notes: String::new(),
        })
        .unwrap();
    p.store.log_activity(follow_up(&c, ActivityType::SampleSent, NOW + 2 * HOUR, "寄了两件样品")).unwrap();
    p.store.log_activity(follow_up(&c, ActivityType::InquiryReceived, NOW + 3 * HOUR, "")).unwrap();
    p.store.log_activity(follow_up(&other, ActivityType::Call, NOW + 4 * HOUR, "别家的电话")).unwrap();
    let card = p
        .store
        .create(NewLeadCard {
            raw_payload: "MECARD:N:李四;ORG:东莞立讯模具;;".into(),
            format: "mecard".into(),
            name: Some("李四".into()),
            company: Some("东莞立讯模具".into()),
            title: None,
            phones: Vec::new(),
            emails: Vec::new(),
            address: None,
            url: None,
            source_event: None,
            customer_id: Some(c.id),
        })
        .unwrap();

    let page = p.store.customer_timeline(c.id, None, 10).unwrap();
    let kinds: Vec<TimelineKind> = page.entries.iter().map(|e| e.kind).collect();
    // The deal (stage entered) and the card (scanned) are both at NOW: their order is by id.
    assert_eq!(kinds[..3], [TimelineKind::Activity, TimelineKind::Activity, TimelineKind::Visit]);
    let mut oldest = kinds[3..].to_vec();
    oldest.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(oldest, [TimelineKind::Deal, TimelineKind::LeadCard]);
    assert_eq!(page.entries.len(), 5, "{page:?}");
    assert_eq!(page.entries[0].line, "询价 · (未填写沟通内容)");
    assert_eq!(page.entries[1].line, "寄样 · 寄了两件样品");
    assert!(page.entries.iter().any(|e| e.id == v.id && e.line == "拜访 · 0 张照片"));
    assert!(page.entries.iter().any(|e| e.id == card.id && e.line == "李四 · 东莞立讯模具"));
    assert!(page.entries.iter().any(|e| e.id == d.id && e.line.starts_with("商机 · 二期注塑机 · ")));
    let times: Vec<i64> = page.entries.iter().map(|e| e.at).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    assert_eq!(page.next, None);

    // Two at a time: the same entries, in the same order, with no repeats.
    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = p.store.customer_timeline(c.id, before, 2).unwrap();
        paged.extend(page.entries.iter().map(|e| e.id));
        match page.next {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    assert_eq!(paged, page.entries.iter().map(|e| e.id).collect::<Vec<_>>());
}

#[test]
fn bad_follow_ups_are_refused_and_nothing_is_saved() {
    let p = phone();
    let c = customer(&p, "宁波海天塑机");
    let other = customer(&p, "别家公司");
    let others_deal = deal(&p, &other, "别家的商机");
    let outbox = p.store.outbox_len().unwrap();
    let base = follow_up(&c, ActivityType::Call, NOW, "谈了价格");

    let cases: Vec<(NewActivity, &str)> = vec![
        (NewActivity { duration_s: Some(-30), ..base.clone() }, "duration_s"),
        (NewActivity { summary: "长".repeat(100_000), ..base.clone() }, "summary"),
        (
            NewActivity {
                next_action: Some(NextAction { what: "回电".into(), due_at: NOW - DAY, done_at: None }),
                ..base.clone()
            },
            "next_action.due_at",
        ),
        (NewActivity { opportunity_id: Some(others_deal.id), ..base.clone() }, "opportunity_id"),
        (NewActivity { activity_type: ActivityType::Visit, ..base.clone() }, "visit_id"),
    ];
    for (draft, field) in cases {
        match p.store.log_activity(draft) {
            Err(StoreError::Invalid(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: expected Invalid, got {other:?}"),
        }
    }
    let nowhere = DocId::generate();
    assert!(matches!(
        p.store.log_activity(NewActivity { customer_id: nowhere, ..base.clone() }),
        Err(StoreError::NotFound { id, .. }) if id == nowhere
    ));
    assert!(matches!(
        p.store.log_activity(NewActivity { customer_id: others_deal.id, ..base.clone() }),
        Err(StoreError::WrongKind { .. })
    ));
    assert_eq!(p.store.outbox_len().unwrap(), outbox, "nothing was saved");
    assert!(p.store.customer_timeline(c.id, None, 10).unwrap().entries.is_empty());

    // A finished call that breaks a rule leaves the call as it was.
    let call = p.store.start_call(c.id, "13912345678".into(), None).unwrap();
    let err = p
        .store
        .finish_activity(
            call.id,
            ActivityResult {
                duration_s: Some(1_000_000),
                outcome: None,
                summary: "x".into(),
                next_action: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(ref e) if e.field == "duration_s"), "{err}");
    assert_eq!(p.store.get::<Activity>(call.id).unwrap(), call);
}

#[test]
fn a_due_next_action_reminds_the_rep_offline_in_the_same_list_as_the_stall_reminders() {
    let p = phone();
    let c = customer(&p, "常州恒力精密机械有限公司");
    let d = deal(&p, &c, "两台五轴机床"); // 初步接触: reminded on day 4, supervisor on day 5
    let theirs = p
        .store
        .create(NewOpportunity { owner: "rep-wang".into(), title: "别人的商机".into(), ..new_deal(&c) })
        .unwrap();
    let call = p
        .store
        .log_activity(NewActivity {
            opportunity_id: Some(d.id),
            next_action: Some(NextAction {
                what: "发报价单".into(), due_at: NOW + 2 * DAY, done_at: None
            }),
            ..follow_up(&c, ActivityType::Call, NOW, "客户要两台的报价")
        })
        .unwrap();

    assert_eq!(p.store.due_reminders("rep-li", NOW, NOW + DAY).unwrap(), vec![]);
    let reminders = p.store.due_reminders("rep-li", NOW, NOW + 2 * DAY).unwrap();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    let next = &reminders[0];
    assert_eq!(next.kind, ReminderKind::NextAction);
    assert_eq!((next.due_at, next.what.as_str()), (NOW + 2 * DAY, "发报价单"));
    assert_eq!((next.customer_id, next.opportunity_id, next.activity_id), (c.id, Some(d.id), Some(call.id)));

    // By day 4 the deal's stage rule reminds too, with the triggers `stalled_deals` reports.
    let reminders = p.store.due_reminders("rep-li", NOW, NOW + 4 * DAY).unwrap();
    let kinds: Vec<_> = reminders.iter().map(|r| (r.kind, r.due_at)).collect();
    let reminder = |kind| ReminderKind::Stall { kind, level: StallLevel::Reminder };
    assert_eq!(
        kinds,
        vec![
            (ReminderKind::NextAction, NOW + 2 * DAY),
            (reminder(StallKind::NoActivity), NOW + 4 * DAY),
            (reminder(StallKind::StageTooLong), NOW + 4 * DAY),
        ]
    );
    assert!(reminders.iter().all(|r| r.opportunity_id != Some(theirs.id)), "only the rep's deals");
    p.clock.set(NOW + 4 * DAY);
    let stalled = p.store.stalled_deals(Some("rep-li"), StallLevel::Reminder, p.clock.now_ms()).unwrap();
    let stalled_due: Vec<_> = stalled[0].due.iter().map(|t| t.due_at).collect();
    assert_eq!(stalled_due, vec![NOW + 4 * DAY, NOW + 4 * DAY]);
    let again = p.store.due_reminders("rep-li", p.clock.now_ms(), p.clock.now_ms()).unwrap();
    assert_eq!(again, reminders, "the same reminders, the same keys: each is scheduled once");
    let keys: std::collections::HashSet<_> = again.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), again.len());

    // Done, the next action stops reminding; the stall reminders stay.
    p.store.complete_next_action(call.id).unwrap();
    let left = p.store.due_reminders("rep-li", p.clock.now_ms(), p.clock.now_ms()).unwrap();
    assert!(left.iter().all(|r| matches!(r.kind, ReminderKind::Stall { .. })), "{left:?}");
    assert_eq!(left.len(), 2);
}

fn new_deal(customer: &Customer) -> NewOpportunity {
    NewOpportunity {
        customer_id: customer.id,
        title: String::new(),
        owner: String::new(),
        stage: Stage::FirstContact,
        amount: None,
        expected_close_at: None,
        next_action_due_at: None,
    }
}
