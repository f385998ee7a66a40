//! Wall-clock time as the core sees it: behind a trait so rules and tests can run on a fake clock.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC. Every timestamp in a record uses this unit.
pub type UnixMillis = i64;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now_ms(&self) -> UnixMillis;

    /// Monotonic time since boot, which settings cannot change, if the platform gives it. The
    /// clock checks compare wall-clock time against it; without it they can only compare wall
    /// clocks. The default is `None`.
    fn uptime(&self) -> Option<Uptime> {
        None
    }
}

/// A reading of the device's monotonic clock: milliseconds since boot (Android
/// `SystemClock.elapsedRealtime()`, iOS `clock_gettime(CLOCK_MONOTONIC_RAW)`) and an id of the
/// boot (Android `Settings.Global.BOOT_COUNT`, iOS `kern.boottime`), so two readings are only
/// compared when they come from the same boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uptime {
    /// Identifies one boot of the device; any string that changes when the device restarts.
    pub boot_id: String,
    /// Milliseconds since that boot, counting deep sleep.
    pub uptime_ms: i64,
}

impl Uptime {
    /// Milliseconds from `earlier` to `self`, when both come from the same boot and time did not
    /// run backwards (a monotonic clock cannot, so anything else means the readings do not match).
    pub fn since(&self, earlier: &Uptime) -> Option<i64> {
        (self.boot_id == earlier.boot_id && self.uptime_ms >= earlier.uptime_ms)
            .then(|| self.uptime_ms - earlier.uptime_ms)
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            // A phone whose clock is set before 1970 still gets a usable (if wrong) time.
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests and scenarios.
///
/// [`ManualClock::new`] has no monotonic clock, like a platform that gives none;
/// [`ManualClock::with_uptime`] has one, which [`advance`](ManualClock::advance) moves with the
/// wall clock and [`set`](ManualClock::set) (a hand-set wall clock) does not.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
    uptime: Mutex<Option<Uptime>>,
    boots: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `now_ms`, without a monotonic clock.
    pub fn new(now_ms: UnixMillis) -> Self {
        ManualClock { now: AtomicI64::new(now_ms), uptime: Mutex::new(None), boots: AtomicI64::new(1) }
    }

    /// A clock standing at `now_ms` whose device booted a minute ago (boot `"boot-1"`).
    pub fn with_uptime(now_ms: UnixMillis) -> Self {
        let uptime = Uptime { boot_id: "boot-1".into(), uptime_ms: 60_000 };
        ManualClock {
            now: AtomicI64::new(now_ms),
            uptime: Mutex::new(Some(uptime)),
            boots: AtomicI64::new(1),
        }
    }

    /// Sets the wall clock to `now_ms` (backwards too: phones' clocks are set by hand and by the
    /// network). The monotonic clock does not move.
    pub fn set(&self, now_ms: UnixMillis) {
        self.now.store(now_ms, Ordering::SeqCst);
    }

    /// Lets `ms` pass: the wall clock and the monotonic clock both move forward.
    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
        if let Some(uptime) = self.uptime.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            uptime.uptime_ms = uptime.uptime_ms.saturating_add(ms);
        }
    }

    /// Restarts the device: a new boot id and the monotonic clock back near zero. A no-op for a
    /// clock without a monotonic clock.
    pub fn reboot(&self) {
        if let Some(uptime) = self.uptime.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let boot = self.boots.fetch_add(1, Ordering::SeqCst) + 1;
            *uptime = Uptime { boot_id: format!("boot-{boot}"), uptime_ms: 30_000 };
        }
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> UnixMillis {
        self.now.load(Ordering::SeqCst)
    }

    fn uptime(&self) -> Option<Uptime> {
        self.uptime.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
