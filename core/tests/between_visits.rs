//! Evidence across visits (issue 18 §6), through the real store: the device's own track between
//! customers and its clock against its own saves and the relay's time carried forward on the
//! monotonic clock — offline, on a phone that may never have synced.

use std::sync::Arc;

use fieldsync_core::model::{
    Customer, Datum, EvidenceFlag, FixSource, GeofenceMode, Location, NewCustomer, NewTeamRules, NewVisit,
    Visit,
};
use fieldsync_core::store::{CaptureContext, PushLimits};
use fieldsync_core::sync::wire::SyncResponse;
use fieldsync_core::{Clock, ManualClock, Store, StoreOptions};

/// 2026-11-02 09:00 Beijing time.
const NOW: i64 = 1_762_045_200_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const CONTEXT: CaptureContext = CaptureContext { utc_offset_minutes: 480, elapsed_since_sync_ms: None };

/// Customers' sites, WGS-84.
const SUZHOU: (f64, f64) = (31.2990, 120.5853);
const SUZHOU_KUNSHAN: (f64, f64) = (31.3860, 120.9800);
const NANJING: (f64, f64) = (32.0603, 118.7969);
const SHANGHAI: (f64, f64) = (31.1979, 121.3363);
const BEIJING: (f64, f64) = (39.9087, 116.3975);

struct Phone {
    _dir: tempfile::TempDir,
    store: Store,
    clock: Arc<ManualClock>,
}

fn phone(clock: ManualClock) -> Phone {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(clock);
    let store =
        Store::open_with(dir.path().join("rep.fieldsync"), StoreOptions { clock: clock.clone() }).unwrap();
    store.create(NewTeamRules { geofence_mode: GeofenceMode::Soft, ..NewTeamRules::default() }).unwrap();
    Phone { _dir: dir, store, clock }
}

fn location((lat, lon): (f64, f64), accuracy_m: f64) -> Location {
    Location {
        lat,
        lon,
        datum: Datum::Wgs84,
        source: FixSource::Gps,
        accuracy_m: Some(accuracy_m),
        at: None,
        mock: false,
    }
}

impl Phone {
    fn visit_at(&self, name: &str, site: (f64, f64)) -> Visit {
        let customer: Customer = self
            .store
            .create(NewCustomer {
                company_name: name.into(),
                location: Some(location(site, 5.0)),
                ..Default::default()
            })
            .unwrap();
        self.store
            .create(NewVisit {
                customer_id: customer.id,
                opportunity_id: None,
                planned_at: self.clock.now_ms(),
                notes: String::new(),
            })
            .unwrap()
    }

    /// Checks in on site at a new customer at `site`; returns the flags.
    fn check_in_at(&self, name: &str, site: (f64, f64)) -> Vec<EvidenceFlag> {
        let visit = self.visit_at(name, site);
        self.check_in(&visit, site)
    }

    /// Checks in on site to a planned visit whose customer is at `site`; returns the flags.
    fn check_in(&self, visit: &Visit, site: (f64, f64)) -> Vec<EvidenceFlag> {
        self.store.check_in(visit.id, location((site.0 + 0.0005, site.1), 15.0), CONTEXT).unwrap().flags
    }

    /// A sync with a relay whose clock reads `relay_ms`.
    fn sync(&self, relay_ms: i64) {
        let prepared = self.store.prepare_sync(PushLimits::default()).unwrap();
        let response = SyncResponse {
            server_time_ms: relay_ms as u64,
            accepted: prepared.request.changes.len() as u32,
            cursor: vec![1],
            ..Default::default()
        };
        self.store.apply_sync(&prepared, &response).unwrap();
    }
}

fn codes(flags: &[EvidenceFlag]) -> Vec<&str> {
    flags.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn check_ins_200_km_apart_8_minutes_apart_are_flagged_offline() {
    let p = phone(ManualClock::with_uptime(NOW));
    assert_eq!(codes(&p.check_in_at("苏州精工", SUZHOU)), Vec::<&str>::new());
    p.clock.advance(8 * MINUTE);
    let flags = p.check_in_at("南京华远", NANJING);
    assert_eq!(codes(&flags), ["impossible_travel"], "{flags:?}");
    assert!(
        flags[0].detail.contains("another visit") && flags[0].detail.contains("8 min"),
        "{}",
        flags[0].detail
    );
}

#[test]
fn driving_between_customers_and_flying_between_cities_carry_no_flag() {
    let p = phone(ManualClock::with_uptime(NOW));
    assert_eq!(codes(&p.check_in_at("苏州精工", SUZHOU)), Vec::<&str>::new());
    p.clock.advance(45 * MINUTE);
    assert_eq!(codes(&p.check_in_at("昆山恒达", SUZHOU_KUNSHAN)), Vec::<&str>::new(), "40 km in 45 min");
    p.clock.advance(90 * MINUTE);
    assert_eq!(codes(&p.check_in_at("上海嘉定模具", SHANGHAI)), Vec::<&str>::new(), "40 km in 90 min");
    // An afternoon flight: Beijing 3 h 30 min later, door to door.
    p.clock.advance(210 * MINUTE);
    assert_eq!(codes(&p.check_in_at("北京亦庄机电", BEIJING)), Vec::<&str>::new(), "1,070 km flown");
}

#[test]
fn a_clock_set_back_three_hours_between_two_check_ins_is_flagged_without_a_sync() {
    // The day's visits were planned in the morning.
    let p = phone(ManualClock::with_uptime(NOW));
    let first = p.visit_at("苏州精工", SUZHOU);
    let second = p.visit_at("昆山恒达", SUZHOU_KUNSHAN);
    assert_eq!(codes(&p.check_in(&first, SUZHOU)), Vec::<&str>::new());
    // 45 minutes pass; the rep sets the clock back three hours and checks in at the next one.
    p.clock.advance(45 * MINUTE);
    p.clock.set(p.clock.now_ms() - 3 * HOUR);
    let flags = p.check_in(&second, SUZHOU_KUNSHAN);
    assert_eq!(codes(&flags), ["clock_off_last_save"], "{flags:?}");
    assert!(flags[0].detail.contains("10800 s earlier"), "{}", flags[0].detail);
    // A customer added after the clock was moved does not hide it: the check-in before it was
    // saved at a later time than the clock now reads (2 h 15 min later).
    let flags = p.check_in_at("上海嘉定模具", SHANGHAI);
    assert!(codes(&flags).contains(&"clock_off_last_save"), "{flags:?}");

    // A platform without a monotonic clock (or after a reboot): still earlier than a save.
    let q = phone(ManualClock::new(NOW));
    q.check_in_at("苏州精工", SUZHOU);
    q.clock.set(NOW + 30 * MINUTE - 3 * HOUR);
    assert_eq!(codes(&q.check_in_at("昆山恒达", SUZHOU_KUNSHAN)), ["clock_off_last_save"]);
}

#[test]
fn a_network_correction_or_a_reboot_is_not_a_clock_flag() {
    let p = phone(ManualClock::with_uptime(NOW));
    p.check_in_at("苏州精工", SUZHOU);
    // The network corrects the clock by 50 s.
    p.clock.advance(20 * MINUTE);
    p.clock.set(p.clock.now_ms() - 50_000);
    assert_eq!(codes(&p.check_in_at("昆山恒达", SUZHOU_KUNSHAN)), Vec::<&str>::new());
    // The phone restarts an hour later; its clock is right.
    p.clock.advance(HOUR);
    p.clock.reboot();
    assert_eq!(codes(&p.check_in_at("上海嘉定模具", SHANGHAI)), Vec::<&str>::new());

    // The clock ran two hours fast this morning, then the phone synced and the network set it
    // right: the relay's time, carried on the monotonic clock, confirms the clock now.
    let q = phone(ManualClock::with_uptime(NOW + 2 * HOUR));
    q.check_in_at("苏州精工", SUZHOU);
    q.clock.advance(10 * MINUTE);
    q.sync(NOW + 10 * MINUTE);
    q.clock.set(NOW + 10 * MINUTE);
    q.clock.advance(30 * MINUTE);
    assert_eq!(codes(&q.check_in_at("昆山恒达", SUZHOU_KUNSHAN)), Vec::<&str>::new());
}

#[test]
fn a_clock_set_forward_a_day_after_a_sync_is_flagged_from_the_platform_uptime() {
    let p = phone(ManualClock::with_uptime(NOW));
    p.sync(NOW);
    p.clock.advance(HOUR);
    p.clock.set(p.clock.now_ms() + 24 * HOUR);
    let flags = p.check_in_at("苏州精工", SUZHOU);
    assert!(codes(&flags).contains(&"clock_jumped"), "{flags:?}");
    assert!(flags.iter().any(|f| f.detail.contains("86400 s")), "{flags:?}");

    // Without the platform's uptime (and no hint from the caller) no jump can be judged.
    let q = phone(ManualClock::new(NOW));
    q.sync(NOW);
    q.clock.set(NOW + 25 * HOUR);
    assert!(!codes(&q.check_in_at("苏州精工", SUZHOU)).contains(&"clock_jumped"));
}
