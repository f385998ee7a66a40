//! The stall scheduler through the real relay engine, real SQLite and real phone stores on fake
//! clocks (in one process; the HTTP path and delivery have their own suites). Scenarios follow
//! the stage table of DESIGN §4: 方案提交 without progress for 8 days alerts the supervisor, three
//! more days escalate. Alert documents sync to supervisors' and admins' devices, never to reps'.

use std::sync::Arc;

use fieldsync_core::funnel::{DAY_MS, payload};
use fieldsync_core::model::{
    Activity, ActivityType, Alert, Customer, EvidenceKind, NewActivity, NewCustomer, NewOpportunity,
    NewTeamRules, NewVisit, Opportunity, Stage, StageRule, StallKind, StallLevel, TeamRules,
};
use fieldsync_core::store::StoreOptions;
use fieldsync_core::{DocId, ManualClock, Store};
use fieldsync_server::metrics::Metrics;
use fieldsync_server::relay::{Cursor, Relay, RelayLimits};
use fieldsync_server::storage::sqlite::SqliteStorage;
use fieldsync_server::storage::{DeviceScope, RelayStorage, Role, SyncVisibility};
use tempfile::TempDir;

/// A fixed start: every clock in a scenario counts from here.
const T0: i64 = 1_800_000_000_000;

struct World {
    dir: TempDir,
    relay: Relay,
    storage: Arc<SqliteStorage>,
    team: String,
}

struct Phone {
    store: Store,
    clock: Arc<ManualClock>,
    scope: DeviceScope,
    _dir: TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(SqliteStorage::open(dir.path()).unwrap());
    let tenant = storage.create_tenant("Acme", 0).unwrap();
    let team = storage.create_team(&tenant, "East", 0).unwrap();
    // Customers' ownership counts from the phones' (fake) time, as the scheduler's ticks do.
    let clock = Arc::new(ManualClock::new(T0));
    let relay =
        Relay::start_with_clock(storage.clone(), RelayLimits::default(), Arc::new(Metrics::default()), clock)
            .unwrap();
    World { dir, relay, storage, team }
}

impl World {
    fn phone(&self, role: Role) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let store =
            Store::open_with(dir.path().join("phone.fieldsync"), StoreOptions { clock: clock.clone() })
                .unwrap();
        let user = self.storage.create_user(&self.team, "李娜", role, 0).unwrap();
        // Enrolled like a real phone, so the relay knows whose device it is (the grace period
        // reads the user's devices' last sync).
        let code_hash = sha(format!("code for {user}").as_bytes());
        self.storage.add_enrollment_code(&user, code_hash, i64::MAX).unwrap();
        let scope = self
            .storage
            .enroll_device(
                code_hash,
                *store.device_id().as_bytes(),
                store.identity().public_key(),
                "phone",
                sha(format!("token for {user}").as_bytes()),
                T0,
            )
            .unwrap();
        assert_eq!((scope.role, &scope.team_id), (role, &self.team));
        Phone { store, clock, scope, _dir: dir }
    }

    /// Syncs a phone at its clock's time; the relay records the sync like the HTTP layer does.
    async fn sync(&self, phone: &Phone) {
        for _ in 0..100 {
            let prepared = phone.store.prepare_sync(Default::default()).unwrap();
            let now = phone.clock.now();
            let response = self.relay.sync(&phone.scope, prepared.request.clone(), now as u64).await.unwrap();
            let applied = phone.store.apply_sync(&prepared, &response).unwrap();
            if !applied.more && phone.store.outbox_len().unwrap() == 0 {
                self.storage.touch_device(phone.scope.device_id, now).unwrap();
                return;
            }
        }
        panic!("sync did not settle");
    }

    /// Restarts the relay engine over the same data directory.
    fn restart(&mut self) {
        let storage = Arc::new(SqliteStorage::open(self.dir.path()).unwrap());
        self.relay =
            Relay::start(storage.clone(), RelayLimits::default(), Arc::new(Metrics::default())).unwrap();
        self.storage = storage;
    }

    fn alerts(&self) -> Vec<Alert> {
        self.storage
            .team_alerts(&self.team, false, 100)
            .unwrap()
            .into_iter()
            .map(|(_, bytes)| payload::decode(&bytes).unwrap())
            .collect()
    }
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

trait Now {
    fn now(&self) -> i64;
}

impl Now for ManualClock {
    fn now(&self) -> i64 {
        fieldsync_core::Clock::now_ms(self)
    }
}

fn days(n: f64) -> i64 {
    (n * DAY_MS as f64) as i64
}

/// A rep with a deal in 方案提交 since T0 (the quote attached), synced at T0.
async fn deal_in_proposal(w: &World, rep: &Phone) -> Opportunity {
    let customer = rep
        .store
        .create(fieldsync_core::model::NewCustomer {
            company_name: "苏州精工机械".into(),
            ..Default::default()
        })
        .unwrap();
    let deal = rep
        .store
        .create(NewOpportunity {
            customer_id: customer.id,
            owner: rep.scope.user_id.clone(),
            title: "注塑机二期".into(),
            stage: Stage::FirstContact,
            amount: None,
            expected_close_at: None,
            next_action_due_at: None,
        })
        .unwrap();
    rep.store
        .attach_deal_evidence(deal.id, EvidenceKind::TechnicalDocument, "需求.pdf", b"%PDF tech")
        .unwrap();
    rep.store.move_stage(deal.id, Stage::NeedsConfirmed, None).unwrap();
    rep.store.attach_deal_evidence(deal.id, EvidenceKind::Quote, "报价.xlsx", b"quote v1").unwrap();
    let deal = rep.store.move_stage(deal.id, Stage::ProposalSubmitted, None).unwrap();
    w.sync(rep).await;
    deal
}

#[tokio::test]
async fn a_proposal_stalled_eight_days_alerts_the_supervisor_once_then_escalates() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let supervisor = w.phone(Role::Supervisor);
    let deal = deal_in_proposal(&w, &rep).await;

    let before = w.relay.tick(T0 + days(7.9), 100).await.unwrap();
    assert_eq!(before.raised, 0, "{before:?}");

    // The rep synced on day 8.5 without touching the deal: nothing of theirs is unknown.
    rep.clock.set(T0 + days(8.5));
    w.sync(&rep).await;
    let day9 = w.relay.tick(T0 + days(9.0), 100).await.unwrap();
    assert_eq!((day9.raised, day9.held), (1, 0), "{day9:?}");
    let alerts = w.alerts();
    assert_eq!(alerts.len(), 1);
    let alert = &alerts[0];
    assert_eq!(
        (alert.opportunity_id, alert.stage, alert.level),
        (deal.id, Stage::ProposalSubmitted, StallLevel::Supervisor)
    );
    assert_eq!(
        alert.kinds,
        [StallKind::NoActivity, StallKind::StageTooLong],
        "both 8-day rules fell due together"
    );
    assert_eq!(alert.due_at, T0 + days(8.0));
    assert_eq!(alert.rep_last_sync_at, Some(T0 + days(8.5)));
    assert_eq!(alert.opportunity_title, "注塑机二期");

    // The supervisor's phone receives it as an ordinary synced document.
    supervisor.clock.set(T0 + days(9.1));
    w.sync(&supervisor).await;
    assert_eq!(supervisor.store.alerts(10).unwrap(), alerts);

    // Ticking again raises nothing new. The escalation falls due on day 11; the rep has not
    // synced since day 8.5, so it waits out the 24 h grace and goes on day 12, once.
    assert_eq!(w.relay.tick(T0 + days(10.0), 100).await.unwrap().raised, 0);
    let day11 = w.relay.tick(T0 + days(11.0), 100).await.unwrap();
    assert_eq!((day11.raised, day11.held), (0, 1));
    assert_eq!(w.relay.tick(T0 + days(12.0), 100).await.unwrap().raised, 1);
    assert_eq!(w.relay.tick(T0 + days(13.0), 100).await.unwrap().raised, 0);
    let levels: Vec<_> = w.alerts().iter().map(|a| a.level).collect();
    assert_eq!(levels, [StallLevel::Escalation, StallLevel::Supervisor]);
}

#[tokio::test]
async fn an_offline_rep_inside_the_grace_period_holds_the_alert_until_they_sync_or_it_runs_out() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let deal = deal_in_proposal(&w, &rep).await;

    // Last sync at T0; the rules fall due on day 8; the default grace is 24 h.
    let held = w.relay.tick(T0 + days(8.5), 100).await.unwrap();
    assert_eq!((held.raised, held.held), (0, 1), "the rep may have unsynced work: {held:?}");
    assert!(w.alerts().is_empty());

    // The rep was in a basement and visited the customer on day 7; they sync on day 8.6.
    rep.clock.set(T0 + days(7.0));
    let visit = rep
        .store
        .create(NewVisit {
            customer_id: deal.customer_id,
            opportunity_id: Some(deal.id),
            planned_at: T0 + days(7.0),
            notes: "补拜访".into(),
        })
        .unwrap();
    let mut started = rep.store.get::<fieldsync_core::model::Visit>(visit.id).unwrap();
    started.started_at = Some(T0 + days(7.0));
    rep.store.update(&started).unwrap();
    rep.clock.set(T0 + days(8.6));
    w.sync(&rep).await;

    // Their sync released the hold: the no-activity rule no longer holds, the stage rule does.
    let after = w.relay.tick(T0 + days(8.6), 100).await.unwrap();
    eprintln!("{after:?} {:#?} visit {:?}", w.alerts(), w.storage.last_visit(deal.id));
    assert_eq!((after.raised, after.held), (1, 0), "{after:?}");
    let alerts = w.alerts();
    assert_eq!(alerts[0].kinds, [StallKind::StageTooLong]);
    assert_eq!(alerts[0].last_activity_at, T0 + days(7.0));

    // A rep who never syncs again: the stage rule escalates on day 11, once its grace (from the
    // day-11 due time) has run out; the no-activity alert of day 15 waits out its own grace too.
    assert_eq!(w.relay.tick(T0 + days(11.5), 100).await.unwrap().held, 1);
    let escalated = w.relay.tick(T0 + days(12.0), 100).await.unwrap();
    assert_eq!(escalated.raised, 1, "{escalated:?}");
    assert_eq!(w.alerts()[0].level, StallLevel::Escalation);
    let no_activity_due = T0 + days(15.0);
    let inside = w.relay.tick(no_activity_due + days(0.5), 100).await.unwrap();
    assert_eq!((inside.raised, inside.held), (0, 1));
    let outside = w.relay.tick(no_activity_due + days(1.0), 100).await.unwrap();
    assert_eq!(outside.raised, 1);
    let newest = &w.alerts()[0];
    assert_eq!(newest.kinds, [StallKind::NoActivity]);
    assert_eq!(newest.rep_last_sync_at, Some(T0 + days(8.6)), "the alert says how stale the rep's data is");
}

#[tokio::test]
async fn restarting_the_relay_never_raises_an_alert_twice() {
    let mut w = world();
    let rep = w.phone(Role::Rep);
    deal_in_proposal(&w, &rep).await;
    rep.clock.set(T0 + days(8.5));
    w.sync(&rep).await;
    assert_eq!(w.relay.tick(T0 + days(9.0), 100).await.unwrap().raised, 1);
    w.restart();
    for day in [9.0, 9.5, 10.0] {
        assert_eq!(w.relay.tick(T0 + days(day), 100).await.unwrap().raised, 0, "day {day}");
    }
    // Even a deal made due again (its row rewritten by an unrelated edit) is not re-raised.
    let mut deal = rep.store.get::<Opportunity>(w.alerts()[0].opportunity_id).unwrap();
    deal.title = "注塑机二期（改）".into();
    rep.store.update(&deal).unwrap();
    w.sync(&rep).await;
    w.restart();
    assert_eq!(w.relay.tick(T0 + days(10.5), 100).await.unwrap().raised, 0);
    assert_eq!(w.alerts().len(), 1);
}

#[tokio::test]
async fn moving_the_deal_on_clears_the_stall_and_closed_deals_never_alert() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let deal = deal_in_proposal(&w, &rep).await;
    rep.clock.set(T0 + days(5.0));
    rep.store.move_stage(deal.id, Stage::Negotiation, Some("客户约了谈判".into())).unwrap();
    w.sync(&rep).await;
    assert_eq!(w.relay.tick(T0 + days(9.0), 100).await.unwrap().raised, 0, "no longer in 方案提交");
    rep.clock.set(T0 + days(6.0));
    rep.store.move_stage(deal.id, Stage::Lost, Some("选了别家".into())).unwrap();
    w.sync(&rep).await;
    for day in [20.0, 40.0, 400.0] {
        assert_eq!(w.relay.tick(T0 + days(day), 100).await.unwrap().raised, 0);
    }
}

#[tokio::test]
async fn the_scheduler_follows_the_teams_synced_rules_and_a_tick_reads_only_due_deals() {
    let w = world();
    let admin = w.phone(Role::Admin);
    // An admin sets 方案提交 to 2 days: the scheduler follows the synced rules.
    let mut rules = NewTeamRules::default();
    rules.stage_rules.retain(|r| r.stage != Stage::ProposalSubmitted);
    rules.stage_rules.push(StageRule::new(Stage::ProposalSubmitted, 2, 30));
    let rules: TeamRules = admin.store.create(rules).unwrap();
    w.sync(&admin).await;
    let rep = w.phone(Role::Rep);
    rep.clock.set(T0);
    deal_in_proposal(&w, &rep).await;
    rep.clock.set(T0 + days(2.5));
    w.sync(&rep).await;
    let tick = w.relay.tick(T0 + days(3.0), 100).await.unwrap();
    assert_eq!(tick.raised, 1, "2-day rule: {tick:?}");

    // A batch limit of 1 with one due deal: the tick reads one row and says whether more wait.
    let limited = w.relay.tick(T0 + days(3.1), 1).await.unwrap();
    assert!(limited.examined <= 1);

    // Rules with absurd days never reach the relay's copy: the change is refused, and the
    // scheduler keeps the rules it had (no storm of alerts from a 0-day rule).
    let mut broken = rules.clone();
    broken.stage_rules.iter_mut().for_each(|r| r.no_activity_days = 0);
    let refused = admin.store.update(&broken);
    assert!(refused.is_err(), "the phone refuses to write them: {refused:?}");
    assert_eq!(w.relay.tick(T0 + days(3.2), 100).await.unwrap().raised, 0);
}

/// The one change that creates a team-rules document as the admin's device, bypassing the
/// phone's own checks, with the stage rules' days set to `days` (which may be negative).
fn raw_rules_change(admin: &Phone, rules: &TeamRules, days: i64) -> Vec<u8> {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT, ReadDoc};
    let mut doc = Automerge::new().with_actor(admin.store.device_id().actor_id());
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", "team_rules").unwrap();
    tx.put(ROOT, "schema", 1_u64).unwrap();
    autosurgeon::reconcile(&mut tx, rules).unwrap();
    let (_, list) = tx.get(ROOT, "stage_rules").unwrap().unwrap();
    let first = tx.get(&list, 0).unwrap().unwrap().1;
    // Automerge keeps signed and unsigned integers apart; the phones write days unsigned.
    match u64::try_from(days) {
        Ok(unsigned) => tx.put(&first, "no_activity_days", unsigned).unwrap(),
        Err(_) => tx.put(&first, "no_activity_days", days).unwrap(),
    }
    tx.commit();
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

#[tokio::test]
async fn rules_with_negative_or_absurd_days_are_refused_by_the_relay_and_cause_no_alert_storm() {
    use fieldsync_core::sync::wire::{PushedChange, RejectCode, SyncRequest};
    let w = world();
    let admin = w.phone(Role::Admin);
    let rep = w.phone(Role::Rep);
    deal_in_proposal(&w, &rep).await;
    let rules: TeamRules = admin.store.create(NewTeamRules::default()).unwrap();
    let push = |days| {
        let request = SyncRequest {
            changes: vec![PushedChange { doc_id: rules.id, bytes: raw_rules_change(&admin, &rules, days) }],
            ..Default::default()
        };
        w.relay.sync(&admin.scope, request, 1)
    };
    for days in [-3_i64, 0, 100_000] {
        let response = push(days).await.unwrap();
        assert_eq!(response.accepted, 0, "{days} days");
        assert_eq!(response.rejected[0].code, RejectCode::InvalidDocument, "{days}: {:?}", response.rejected);
    }
    // The same document with sane days is accepted: the refusals were about the days.
    let sane = push(6).await.unwrap();
    assert_eq!(sane.accepted, 1, "{:?}", sane.rejected);
    // No storm: one day into 方案提交 nothing is due.
    let tick = w.relay.tick(T0 + days(1.0), 100).await.unwrap();
    assert_eq!((tick.raised, tick.held), (0, 0), "{tick:?}");
}

/// A deal stalled in 方案提交 by `rep`, its supervisor alert raised on day 9 (the rep synced on
/// day 8.5). Returns the alert.
async fn raised_alert(w: &World, rep: &Phone) -> Alert {
    deal_in_proposal(w, rep).await;
    rep.clock.set(T0 + days(8.5));
    w.sync(rep).await;
    let tick = w.relay.tick(T0 + days(9.0), 100).await.unwrap();
    assert_eq!(tick.raised, 1, "{tick:?}");
    w.alerts().remove(0)
}

/// A customer written by `phone` at day 9.5, after the alert, and synced.
async fn customer_after_the_alert(w: &World, phone: &Phone, name: &str) -> Customer {
    phone.clock.set(T0 + days(9.5));
    let customer =
        phone.store.create(NewCustomer { company_name: name.into(), ..Default::default() }).unwrap();
    w.sync(phone).await;
    customer
}

#[tokio::test]
async fn alert_documents_reach_supervisors_and_admins_but_not_reps() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let other_rep = w.phone(Role::Rep);
    let supervisor = w.phone(Role::Supervisor);
    let admin = w.phone(Role::Admin);
    for phone in [&other_rep, &supervisor, &admin] {
        w.sync(phone).await; // all follow the log from here on, not the snapshot path
    }
    let alert = raised_alert(&w, &rep).await;
    // Written after the alert, so it follows the alert in the log.
    let later = customer_after_the_alert(&w, &other_rep, "无锡恒通").await;

    for phone in [&supervisor, &admin] {
        phone.clock.set(T0 + days(9.6));
        w.sync(phone).await;
        assert_eq!(phone.store.alerts(10).unwrap(), std::slice::from_ref(&alert), "{:?}", phone.scope.role);
    }
    rep.clock.set(T0 + days(9.6));
    w.sync(&rep).await;
    for phone in [&rep, &other_rep] {
        assert_eq!(phone.store.alerts(10).unwrap(), [], "a rep's device holds no alert");
        assert_eq!(phone.store.find::<Alert>(alert.id).unwrap(), None, "nor the alert's document");
    }
    // Everything else still arrives, before and after the alert in the log; another rep's
    // customer as its listing (who owns it), not its record (docs/ownership.md).
    let listing = rep.store.ownership(later.id).unwrap().expect("the listing of the other rep's customer");
    assert_eq!(listing.company_name, "无锡恒通");
    assert_eq!(listing.owner_user_id.as_deref(), Some(other_rep.scope.user_id.as_str()));
    assert_eq!(rep.store.find::<Customer>(later.id).unwrap(), None);
    let deal = other_rep.store.get::<Opportunity>(alert.opportunity_id).unwrap();
    assert_eq!(deal.stage, Stage::ProposalSubmitted);
    assert!(other_rep.store.ownership(alert.customer_id).unwrap().is_some());
    supervisor.store.get::<Customer>(alert.customer_id).unwrap();

    // The rep's cursor went past the hidden entry: the next sync is empty and at the head.
    let head = w.storage.head_seq(&w.team).unwrap();
    let prepared = rep.store.prepare_sync(Default::default()).unwrap();
    let again = w.relay.sync(&rep.scope, prepared.request, 0).await.unwrap();
    assert!(again.changes.is_empty() && again.snapshots.is_empty() && !again.more, "{again:?}");
    assert_eq!(Cursor::decode(&again.cursor).unwrap(), Some(Cursor::Log { seq: head }));
}

#[tokio::test]
async fn a_newly_enrolled_rep_device_gets_the_team_snapshot_without_alerts() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let alert = raised_alert(&w, &rep).await;
    let later = customer_after_the_alert(&w, &rep, "无锡恒通").await;

    // Devices that never synced start from snapshots.
    let new_rep = w.phone(Role::Rep);
    let new_supervisor = w.phone(Role::Supervisor);
    w.sync(&new_rep).await;
    w.sync(&new_supervisor).await;
    assert_eq!(new_supervisor.store.alerts(10).unwrap(), std::slice::from_ref(&alert));
    assert_eq!(new_rep.store.alerts(10).unwrap(), []);
    assert_eq!(new_rep.store.find::<Alert>(alert.id).unwrap(), None);
    new_rep.store.get::<Opportunity>(alert.opportunity_id).unwrap();
    // Another rep's customers come as listings only (docs/ownership.md).
    for id in [alert.customer_id, later.id] {
        assert_eq!(new_rep.store.find::<Customer>(id).unwrap(), None);
        let listing = new_rep.store.ownership(id).unwrap().expect("listing");
        assert_eq!(listing.owner_user_id.as_deref(), Some(rep.scope.user_id.as_str()));
        new_supervisor.store.get::<Customer>(id).unwrap();
    }

    // A later alert (the escalation) does not reach the new rep through the log either.
    assert_eq!(w.relay.tick(T0 + days(12.0), 100).await.unwrap().raised, 1);
    w.sync(&new_rep).await;
    w.sync(&new_supervisor).await;
    assert_eq!(new_rep.store.alerts(10).unwrap(), []);
    assert_eq!(new_supervisor.store.alerts(10).unwrap().len(), 2);
}

#[tokio::test]
async fn pages_without_alerts_skip_them_yet_advance_the_cursor_and_end() {
    let w = world();
    let rep = w.phone(Role::Rep);
    // Three stalled deals: three alerts side by side in the log, then ordinary changes after them.
    for _ in 0..3 {
        deal_in_proposal(&w, &rep).await;
    }
    rep.clock.set(T0 + days(8.5));
    w.sync(&rep).await;
    assert_eq!(w.relay.tick(T0 + days(9.0), 100).await.unwrap().raised, 3);
    customer_after_the_alert(&w, &rep, "无锡恒通").await;
    assert_eq!(w.relay.tick(T0 + days(12.0), 100).await.unwrap().raised, 3, "escalations end the log");
    let alerts: Vec<DocId> = w.alerts().iter().map(|a| a.id).collect();
    let head = w.storage.head_seq(&w.team).unwrap();

    // The whole log, one entry per page (a 1-byte budget still sends one change), as a device
    // that wrote nothing sees it: its seq and document.
    let reader = [0xEE; 16];
    let mut log = Vec::new();
    let mut seq = 0;
    while seq < head {
        let page =
            w.storage.changes_after(&w.team, seq, reader, SyncVisibility::Everything, None, 1).unwrap();
        assert_eq!(page.changes.len(), 1);
        log.push((page.through_seq, page.changes[0].0));
        seq = page.through_seq;
    }
    let visible: Vec<(u64, DocId)> = log.iter().copied().filter(|(_, doc)| !alerts.contains(doc)).collect();
    assert_eq!(log.len() - visible.len(), 6, "{log:?}");

    // From every cursor, a rep's page holds the next visible entry only; `more` says whether
    // another visible one follows; a page ends at the head when none does.
    for from in 0..=head {
        let page = w.storage.changes_after(&w.team, from, reader, SyncVisibility::ForReps, None, 1).unwrap();
        let mut after = visible.iter().filter(|(seq, _)| *seq > from);
        let (next, following) = (after.next(), after.next());
        let got: Vec<DocId> = page.changes.iter().map(|(doc, _)| *doc).collect();
        assert_eq!(got, next.map(|(_, doc)| *doc).into_iter().collect::<Vec<_>>(), "from {from}");
        assert_eq!(page.more, following.is_some(), "from {from}");
        let expected_through = if page.more { next.map(|(seq, _)| *seq) } else { Some(head) };
        assert_eq!(Some(page.through_seq), expected_through, "from {from}");
    }
    // Skipping a device's own entries and the alerts together: one page, to the head.
    let own = w
        .storage
        .changes_after(&w.team, 0, rep.scope.device_id, SyncVisibility::ForReps, None, 1 << 20)
        .unwrap();
    assert!(!own.more && own.through_seq == head, "{own:?}");
    assert!(own.changes.iter().all(|(doc, _)| !alerts.contains(doc)));

    // Snapshot pages, one document each: every document but the alerts, in id order, and the
    // walk ends (whether the alerts sort before, between or after the others).
    let walk = |visibility| {
        let mut documents = Vec::new();
        let mut after = None;
        for _ in 0..1000 {
            let page = w.storage.snapshots_after(&w.team, after, visibility, None, 1).unwrap();
            assert!(page.documents.len() <= 1);
            documents.extend(page.documents.iter().map(|(doc, _)| *doc));
            after = documents.last().copied();
            if !page.more {
                return documents;
            }
        }
        panic!("snapshot paging did not end");
    };
    let everything = walk(SyncVisibility::Everything);
    let without: Vec<DocId> = everything.iter().copied().filter(|doc| !alerts.contains(doc)).collect();
    assert_eq!(everything.len() - without.len(), 6);
    assert_eq!(walk(SyncVisibility::ForReps), without);
}

/// One change creating `alert` as a new document written by `phone` (as only the relay may).
fn forged_alert_change(phone: &Phone, alert: &Alert) -> Vec<u8> {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};
    let mut doc = Automerge::new().with_actor(phone.store.device_id().actor_id());
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", "alert").unwrap();
    tx.put(ROOT, "schema", fieldsync_core::model::SCHEMA_VERSION).unwrap();
    autosurgeon::reconcile(&mut tx, alert).unwrap();
    tx.commit();
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

#[tokio::test]
async fn no_device_can_write_an_alert_document_whatever_its_role() {
    use fieldsync_core::sync::wire::{PushedChange, RejectCode, SyncRequest};
    let w = world();
    let rep = w.phone(Role::Rep);
    let alert = raised_alert(&w, &rep).await;
    let stored = w.storage.load_document(alert.id).unwrap().unwrap().snapshot;
    let mut invented = alert.clone();
    invented.id = DocId::generate();
    invented.key = format!("{}/invented", alert.key);
    for role in [Role::Rep, Role::Supervisor, Role::Admin] {
        let phone = w.phone(role);
        // A new alert, and a change to the relay's alert (a concurrent one: no device has its heads).
        for target in [&invented, &alert] {
            let request = SyncRequest {
                changes: vec![PushedChange { doc_id: target.id, bytes: forged_alert_change(&phone, target) }],
                ..Default::default()
            };
            let response = w.relay.sync(&phone.scope, request, 1).await.unwrap();
            assert_eq!(response.accepted, 0, "{role:?}");
            assert_eq!(
                response.rejected[0].code,
                RejectCode::OutOfScope,
                "{role:?}: {:?}",
                response.rejected
            );
        }
    }
    assert!(w.storage.load_document(invented.id).unwrap().is_none());
    assert_eq!(w.storage.load_document(alert.id).unwrap().unwrap().snapshot, stored);
    assert_eq!(w.alerts(), [alert]);
}

/// A follow-up on `deal` at the phone's clock, with or without a summary.
fn log_call(rep: &Phone, deal: &Opportunity, summary: &str) -> Activity {
    rep.store
        .log_activity(NewActivity {
            activity_type: ActivityType::Call,
            customer_id: deal.customer_id,
            opportunity_id: Some(deal.id),
            visit_id: None,
            contact: None,
            phone: None,
            at: rep.clock.now(),
            duration_s: Some(300),
            summary: summary.into(),
            outcome: None,
            next_action: None,
        })
        .unwrap()
}

#[tokio::test]
async fn a_call_with_its_summary_is_activity_on_the_deal_for_the_relay_as_for_the_phone() {
    let w = world();
    let rep = w.phone(Role::Rep);
    let deal = deal_in_proposal(&w, &rep).await;
    // Day 3: a call that says what was said. An empty call (a number dialled) does not count.
    rep.clock.set(T0 + days(3.0));
    log_call(&rep, &deal, "客户说下周三来厂看样机");
    rep.clock.set(T0 + days(5.0));
    log_call(&rep, &deal, "");
    w.sync(&rep).await;

    // Day 9: the 8-day stage limit is due; no-activity is not (day 3 + 8 = day 11).
    rep.clock.set(T0 + days(8.5));
    w.sync(&rep).await;
    assert_eq!(w.relay.tick(T0 + days(9.0), 100).await.unwrap().raised, 1);
    let alerts = w.alerts();
    assert_eq!(alerts[0].kinds, [StallKind::StageTooLong], "{alerts:?}");
    // The phone says the same of the same deal.
    let on_phone = rep.store.stalled_deals(None, StallLevel::Supervisor, T0 + days(9.0)).unwrap();
    let kinds: Vec<StallKind> = on_phone[0].due.iter().map(|t| t.kind).collect();
    assert!(kinds.iter().all(|k| *k == StallKind::StageTooLong), "{kinds:?}");
    assert_eq!(on_phone[0].last_activity_at, T0 + days(3.0));
}

/// One change creating `activity` as a new document written by `phone`, bypassing its store.
fn raw_activity_change(phone: &Phone, activity: &Activity) -> Vec<u8> {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};
    let mut doc = Automerge::new().with_actor(phone.store.device_id().actor_id());
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", "activity").unwrap();
    tx.put(ROOT, "schema", fieldsync_core::model::SCHEMA_VERSION).unwrap();
    autosurgeon::reconcile(&mut tx, activity).unwrap();
    tx.commit();
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

#[tokio::test]
async fn an_activity_on_another_teams_customer_or_deal_is_refused_by_the_relay() {
    use fieldsync_core::sync::wire::{PushedChange, RejectCode, SyncRequest};
    let w = world();
    let rep = w.phone(Role::Rep);
    let theirs = deal_in_proposal(&w, &rep).await;
    // A rep of another team of the same company, and one of another company.
    let tenant = w.storage.team_tenant(&w.team).unwrap().unwrap();
    let west = w.storage.create_team(&tenant, "West", 0).unwrap();
    let elsewhere =
        w.storage.create_team(&w.storage.create_tenant("Other Co", 0).unwrap(), "Main", 0).unwrap();
    for team in [west, elsewhere] {
        let outsider = World {
            dir: tempfile::tempdir().unwrap(),
            relay: w.relay.clone(),
            storage: w.storage.clone(),
            team,
        }
        .phone(Role::Rep);
        let own = outsider
            .store
            .create(NewCustomer { company_name: "自己的客户".into(), ..Default::default() })
            .unwrap();
        let mut forged = log_call(&rep, &theirs, "偷看别组的客户");
        forged.id = DocId::generate();
        for (customer_id, opportunity_id) in [(theirs.customer_id, None), (own.id, Some(theirs.id))] {
            forged.customer_id = customer_id;
            forged.opportunity_id = opportunity_id;
            let request = SyncRequest {
                changes: vec![PushedChange {
                    doc_id: forged.id,
                    bytes: raw_activity_change(&outsider, &forged),
                }],
                ..Default::default()
            };
            let response = w.relay.sync(&outsider.scope, request, 1).await.unwrap();
            assert_eq!(response.accepted, 0);
            assert_eq!(response.rejected[0].code, RejectCode::OutOfScope, "{:?}", response.rejected);
            assert!(response.rejected[0].message.contains("not a"), "{:?}", response.rejected);
            assert!(w.storage.load_document(forged.id).unwrap().is_none());
        }
    }
    // Its own team's rep may.
    let mut fine = log_call(&rep, &theirs, "正常的跟进");
    fine.id = DocId::generate();
    let request = SyncRequest {
        changes: vec![PushedChange { doc_id: fine.id, bytes: raw_activity_change(&rep, &fine) }],
        ..Default::default()
    };
    assert_eq!(w.relay.sync(&rep.scope, request, 1).await.unwrap().accepted, 1);
}
