//! fieldsync-ffi: the core's API for Kotlin, Swift and Python, through UniFFI proc-macros.
//!
//! A thin layer (STYLE §2): objects hold an `Arc` of a core object, records are plain copies of
//! core types, every core error becomes one [`FfiError`] in one place (`error.rs`), and every
//! exported call runs inside a guard that turns a panic into `FfiError::Internal`. Async calls
//! (enroll, sync, push registration) run on a runtime the library owns. The phone's services
//! (clock, key storage, location) come in as foreign traits. No business logic lives here.

mod activities;
mod capture;
mod error;
mod funnel;
mod heat;
mod kpi;
mod leads;
mod ownership;
mod push;
mod reminders;
mod services;
mod store;
mod sync;
#[cfg(feature = "test-hooks")]
mod test_hooks;

pub use activities::{
    FfiActivity, FfiActivitySummary, FfiFollowUpTodo, FfiNewActivity, FfiNextAction, FfiTimelineEntry,
    FfiTimelinePage,
};
pub use capture::{FfiCheckIn, FfiFix, FfiFlag, FfiPhoto, FfiSlip, FfiSlipItem, FfiStrokePoint, FfiVisit};
pub use error::FfiError;
pub use heat::FfiHeat;
pub use leads::{FfiLead, FfiLeadCard, FfiLeadScan, FfiPhoneNumber, read_phone_numbers};
pub use push::{FfiPushRegistration, FfiRelayPush};
pub use reminders::{FfiReminder, FfiReminderKind};
pub use services::{FfiUptime, LocationService, PhoneClock, SecureKeyStorage};
pub use store::{
    FfiCreateMode, FfiCreateOutcome, FfiCustomer, FfiCustomerSummary, FfiDuplicateCandidate, FfiMatchReason,
    FfiNewCustomer, FfiNewOpportunity, FfiOpportunity, FfiStage, FfiVisitSummary, FieldStore,
};
pub use sync::{FfiEnrollment, FfiSyncProgress, FfiSyncReport, SyncPhase, SyncProgressListener};

uniffi::setup_scaffolding!();
