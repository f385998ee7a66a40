//! The one error type the apps see, mapped from core errors in one place, and the guard that
//! turns a panic inside an exported call into an error instead of an abort.

use std::panic::{AssertUnwindSafe, catch_unwind};

use fieldsync_core::StoreError;
use fieldsync_core::leadcard::PayloadError;
use fieldsync_core::leadcard::qr_image::QrImageError;
use fieldsync_core::sync::client::SyncError;

/// What went wrong, in the few kinds an app branches on, each with a readable message.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FfiError {
    /// The caller passed something invalid (an empty name, a NaN coordinate, a malformed id,
    /// bytes that are not a photo, a QR code that is not a contact card).
    #[error("{message}")]
    InvalidInput {
        /// What was wrong and what would be right.
        message: String,
    },
    /// A hard geofence refused the check-in or photo: the fix is too far from the customer's
    /// site. Nothing was saved. The app shows the distances and lets the rep move closer or wait
    /// for a better fix.
    #[error("{message}")]
    OffSite {
        /// The refusal in words, with the distances.
        message: String,
        /// Metres from the fix to the customer's site.
        distance_m: f64,
        /// That distance less the fix's accuracy radius: what the rule compared.
        effective_m: f64,
        /// The team's allowed radius in metres.
        radius_m: f64,
    },
    /// A claim or release the phone knows the relay would refuse (another rep owns the customer,
    /// the rep's limit, a cooldown), or an edit of a customer the rep does not own. Nothing was
    /// saved. `code` is `owned_by_other`, `limit_reached`, `cooldown`, `merged`, `not_owner`,
    /// `already_owner` or `no_such_customer` (docs/ownership.md).
    #[error("{message}")]
    ClaimRefused {
        /// Why, in words the rep reads.
        message: String,
        /// Why, as a code the app branches on.
        code: String,
    },
    /// No record has this id.
    #[error("{message}")]
    NotFound {
        /// Which record.
        message: String,
    },
    /// The record is signed and can no longer change.
    #[error("{message}")]
    Sealed {
        /// Which record.
        message: String,
    },
    /// The store cannot be used: closed, open elsewhere, not a fieldsync file, or from a newer app.
    #[error("{message}")]
    StoreUnavailable {
        /// Why, and what to do.
        message: String,
    },
    /// Stored data is damaged, the disk failed, or the phone's keystore failed.
    #[error("{message}")]
    Storage {
        /// What failed.
        message: String,
    },
    /// The relay could not be reached or answered with an error; `retryable` says whether trying
    /// again later may succeed (no network, relay overloaded) or not (the relay refused the data).
    #[error("{message}")]
    Network {
        /// What happened.
        message: String,
        /// Whether a later retry may succeed.
        retryable: bool,
        /// Seconds the relay asked the device to wait before the next try (a rate limit), or 0;
        /// schedule the next sync no earlier.
        retry_after_secs: u64,
    },
    /// The relay does not accept this device: not enrolled, an unknown or used enrollment code,
    /// a revoked device. Enroll again with a new code from an admin.
    #[error("{message}")]
    Unauthorized {
        /// The relay's words.
        message: String,
    },
    /// A bug: the library panicked or a platform service broke its contract. The call did
    /// nothing it reported; the store stays usable.
    #[error("{message}")]
    Internal {
        /// What failed, for a bug report.
        message: String,
    },
}

impl From<StoreError> for FfiError {
    fn from(error: StoreError) -> Self {
        let message = error.to_string();
        match error {
            StoreError::OffSite { distance_m, effective_m, radius_m } => {
                FfiError::OffSite { message, distance_m, effective_m, radius_m }
            }
            StoreError::ClaimRefused { code, .. } => {
                FfiError::ClaimRefused { message, code: code.as_str().into() }
            }
            StoreError::Invalid(_)
            | StoreError::RelayOnly { .. }
            | StoreError::NotEnrolled
            | StoreError::WrongKind { .. }
            | StoreError::Photo(_)
            | StoreError::Signature(_)
            | StoreError::Slip(_)
            | StoreError::MissingEvidence { .. } => FfiError::InvalidInput { message },
            StoreError::NotFound { .. } | StoreError::NoSuchDocument { .. } => FfiError::NotFound { message },
            StoreError::Sealed { .. } => FfiError::Sealed { message },
            StoreError::Closed
            | StoreError::AlreadyOpen { .. }
            | StoreError::NotADatabase { .. }
            | StoreError::NotAFieldsyncStore { .. }
            | StoreError::SchemaTooNew { .. } => FfiError::StoreUnavailable { message },
            StoreError::CorruptDocument { .. }
            | StoreError::CorruptIdentity { .. }
            | StoreError::Io { .. }
            | StoreError::Migration { .. }
            | StoreError::Sqlite(_)
            | StoreError::Document { .. }
            | StoreError::Protocol(_) => FfiError::Storage { message },
        }
    }
}

impl From<SyncError> for FfiError {
    fn from(error: SyncError) -> Self {
        let retryable = error.is_retryable();
        let message = error.to_string();
        match error {
            SyncError::Store(e) => e.into(),
            SyncError::NotEnrolled | SyncError::Relay { status: 401 | 403, .. } => {
                FfiError::Unauthorized { message }
            }
            // An enrollment code that was already used or has expired (HTTP 409).
            SyncError::Relay { ref code, .. } if code == "code_unusable" => {
                FfiError::Unauthorized { message }
            }
            // The relay refused what the app passed (a push endpoint or keys it will not use).
            SyncError::Relay { ref code, .. }
                if code == "bad_subscription" || code == "provider_not_configured" =>
            {
                FfiError::InvalidInput { message }
            }
            SyncError::Relay { ref code, .. } if code == "no_such_subscription" => {
                FfiError::NotFound { message }
            }
            SyncError::Invalid(_) => FfiError::InvalidInput { message },
            SyncError::RetryLater { retry_after, .. } => {
                FfiError::Network { message, retryable, retry_after_secs: retry_after.as_secs() }
            }
            SyncError::Network(_) | SyncError::Relay { .. } | SyncError::Wire(_) => {
                FfiError::Network { message, retryable, retry_after_secs: 0 }
            }
        }
    }
}

impl From<fieldsync_core::ids::IdError> for FfiError {
    fn from(error: fieldsync_core::ids::IdError) -> Self {
        FfiError::InvalidInput { message: error.to_string() }
    }
}

impl From<PayloadError> for FfiError {
    fn from(error: PayloadError) -> Self {
        FfiError::InvalidInput { message: error.to_string() }
    }
}

impl From<QrImageError> for FfiError {
    fn from(error: QrImageError) -> Self {
        FfiError::InvalidInput { message: error.to_string() }
    }
}

impl From<fieldsync_core::heat::UnknownHeatTag> for FfiError {
    fn from(error: fieldsync_core::heat::UnknownHeatTag) -> Self {
        FfiError::InvalidInput { message: error.to_string() }
    }
}

/// A foreign implementation of a platform service threw something other than an `FfiError`.
impl From<uniffi::UnexpectedUniFFICallbackError> for FfiError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        FfiError::Internal { message: format!("a platform service failed: {}", error.reason) }
    }
}

/// Runs the body of an exported call, turning a panic into [`FfiError::Internal`] (UniFFI would
/// otherwise raise its own untyped internal exception; STYLE: no panic crosses the FFI as
/// anything but an `FfiError`).
pub(crate) fn guard<T>(call: impl FnOnce() -> Result<T, FfiError>) -> Result<T, FfiError> {
    // AssertUnwindSafe: the core's state is in SQLite transactions, which roll back when the
    // closure unwinds, and in `Arc`s that a panic leaves intact.
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| Err(panicked(payload.as_ref())))
}

/// The error reported for a panic whose payload is `payload`.
pub(crate) fn panicked(payload: &(dyn std::any::Any + Send)) -> FfiError {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into());
    FfiError::Internal { message: format!("fieldsync failed internally (a bug; please report it): {what}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_a_guarded_call_is_an_internal_error() {
        let result: Result<(), FfiError> = guard(|| panic!("index out of bounds"));
        match result {
            Err(FfiError::Internal { message }) => {
                assert!(message.contains("index out of bounds"), "{message}")
            }
            other => panic!("expected Internal, got {other:?}"),
        }
        assert_eq!(guard(|| Ok(7)).unwrap(), 7);
    }

    #[test]
    fn sync_errors_map_to_network_or_unauthorized() {
        let relay = |status: u16| SyncError::Relay { status, code: "x".into(), message: "m".into() };
        assert!(matches!(FfiError::from(relay(401)), FfiError::Unauthorized { .. }));
        assert!(matches!(FfiError::from(SyncError::NotEnrolled), FfiError::Unauthorized { .. }));
        assert!(matches!(FfiError::from(relay(503)), FfiError::Network { retryable: true, .. }));
        assert!(matches!(FfiError::from(relay(400)), FfiError::Network { retryable: false, .. }));
        let later = SyncError::RetryLater {
            status: 429,
            code: "rate_limited".into(),
            message: "slow down".into(),
            retry_after: std::time::Duration::from_secs(7),
        };
        assert!(matches!(
            FfiError::from(later),
            FfiError::Network { retryable: true, retry_after_secs: 7, .. }
        ));
        let used = SyncError::Relay { status: 409, code: "code_unusable".into(), message: "used".into() };
        assert!(matches!(FfiError::from(used), FfiError::Unauthorized { .. }));
        let coded =
            |status: u16, code: &str| SyncError::Relay { status, code: code.into(), message: "m".into() };
        assert!(matches!(FfiError::from(coded(400, "bad_subscription")), FfiError::InvalidInput { .. }));
        assert!(matches!(FfiError::from(coded(404, "no_such_subscription")), FfiError::NotFound { .. }));
        assert!(matches!(FfiError::from(SyncError::Invalid("id".into())), FfiError::InvalidInput { .. }));
        assert!(matches!(
            FfiError::from(SyncError::Network("refused".into())),
            FfiError::Network { retryable: true, .. }
        ));
        assert!(matches!(
            FfiError::from(SyncError::Store(StoreError::Closed)),
            FfiError::StoreUnavailable { .. }
        ));
    }

    #[test]
    fn a_hard_geofence_refusal_is_its_own_error_with_the_distances() {
        let refused = StoreError::OffSite { distance_m: 812.0, effective_m: 800.0, radius_m: 300.0 };
        match FfiError::from(refused) {
            FfiError::OffSite { message, distance_m, effective_m, radius_m } => {
                assert_eq!((distance_m, effective_m, radius_m), (812.0, 800.0, 300.0));
                assert!(message.contains("812") || message.contains("800"), "{message}");
            }
            other => panic!("expected OffSite, got {other:?}"),
        }
    }
}
