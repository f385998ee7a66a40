//! What the phone supplies to the core, as foreign traits the app implements: the wall clock,
//! secure key storage (Android Keystore, iOS Keychain) and the current location fix. Each adapter
//! here only forwards to the core's own trait.

use std::fmt;
use std::sync::Arc;

use fieldsync_core::Clock;
use fieldsync_core::store::DeviceSecrets;

use crate::FfiError;
use crate::capture::FfiFix;

/// The phone's clocks. Apps pass a fake one in tests; `None` in `open_with` uses the system
/// wall clock and no monotonic clock (so no clock-jump check can run).
#[uniffi::export(foreign)]
pub trait PhoneClock: Send + Sync {
    /// Now, Unix milliseconds (UTC).
    fn now_ms(&self) -> i64;
    /// The monotonic clock, which the user cannot set: Android `SystemClock.elapsedRealtime()`
    /// with `Settings.Global.BOOT_COUNT` as the boot id; iOS `clock_gettime(CLOCK_MONOTONIC_RAW)`
    /// with `kern.boottime`. Null when the platform cannot say. The evidence checks compare the
    /// wall clock with the relay's time and the store's own saves carried forward on it, so a
    /// clock set by hand is noticed while one corrected by the network is not.
    fn uptime(&self) -> Option<FfiUptime>;
}

/// A reading of the phone's monotonic clock.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FfiUptime {
    /// Any string that changes when the phone restarts (at most 128 bytes; longer is ignored).
    pub boot_id: String,
    /// Milliseconds since that boot, counting deep sleep (negative is ignored).
    pub uptime_ms: i64,
}

/// Secure storage for the device's secrets (its signing key, its relay token): Android Keystore
/// or EncryptedSharedPreferences, iOS Keychain. Entries are named `fieldsync.device_key` and
/// `fieldsync.relay_token`.
#[uniffi::export(foreign)]
pub trait SecureKeyStorage: Send + Sync {
    /// The bytes stored under `entry`, or null when there are none.
    fn load(&self, entry: String) -> Result<Option<Vec<u8>>, FfiError>;
    /// Stores `value` under `entry`, replacing what was there.
    fn store(&self, entry: String, value: Vec<u8>) -> Result<(), FfiError>;
}

/// The phone's location service.
#[uniffi::export(foreign)]
pub trait LocationService: Send + Sync {
    /// The freshest fix the phone has, or null when it has none (no permission, no signal).
    fn current_fix(&self) -> Result<Option<FfiFix>, FfiError>;
}

/// The app's clock as the core's [`Clock`].
pub(crate) struct ForeignClock(Arc<dyn PhoneClock>);

impl ForeignClock {
    pub(crate) fn new(clock: Arc<dyn PhoneClock>) -> Self {
        ForeignClock(clock)
    }
}

impl fmt::Debug for ForeignClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForeignClock")
    }
}

impl Clock for ForeignClock {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }

    fn uptime(&self) -> Option<fieldsync_core::Uptime> {
        self.0.uptime().map(|u| fieldsync_core::Uptime { boot_id: u.boot_id, uptime_ms: u.uptime_ms })
    }
}

/// The app's key storage as the core's [`DeviceSecrets`].
pub(crate) struct ForeignKeyStorage(Arc<dyn SecureKeyStorage>);

impl ForeignKeyStorage {
    pub(crate) fn new(storage: Arc<dyn SecureKeyStorage>) -> Self {
        ForeignKeyStorage(storage)
    }
}

impl fmt::Debug for ForeignKeyStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForeignKeyStorage")
    }
}

impl DeviceSecrets for ForeignKeyStorage {
    fn load(&self, entry: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.load(entry.to_owned()).map_err(|e| e.to_string())
    }

    fn save(&self, entry: &str, value: &[u8]) -> Result<(), String> {
        self.0.store(entry.to_owned(), value.to_vec()).map_err(|e| e.to_string())
    }
}

/// The app's location service, held by the store for `check_in_here`.
pub(crate) struct LocationSource(Arc<dyn LocationService>);

impl LocationSource {
    pub(crate) fn new(service: Arc<dyn LocationService>) -> Self {
        LocationSource(service)
    }

    /// The current fix; an error when the phone has none.
    pub(crate) fn current_fix(&self) -> Result<FfiFix, FfiError> {
        self.0.current_fix()?.ok_or_else(|| FfiError::InvalidInput {
            message:
                "the phone has no location fix; turn on location, step outside, or enter the fix by hand"
                    .into(),
        })
    }
}

impl fmt::Debug for LocationSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocationSource")
    }
}
