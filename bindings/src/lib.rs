//! fieldsync-ffi: the core's API for Kotlin, Swift and Python, through UniFFI proc-macros.
//!
//! A thin layer (STYLE §2): objects hold an `Arc` of a core object, records are plain copies of
//! core types, and every core error becomes one [`FfiError`] in one `From` impl. No business
//! logic lives here. The bindings issue grows this to the whole capture/sync/alerts surface.

mod capture;
mod error;
mod funnel;
mod store;

pub use capture::{FfiCheckIn, FfiFix, FfiFlag, FfiPhoto, FfiSlip, FfiSlipItem, FfiStrokePoint, FfiVisit};
pub use error::FfiError;
pub use store::{FfiCustomer, FfiCustomerSummary, FfiNewCustomer, FieldStore};

uniffi::setup_scaffolding!();
