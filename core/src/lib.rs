//! fieldsync-core: the offline engine of fieldsync.
//!
//! Everything a rep records — customers, lead cards, opportunities, visits, service slips — is a
//! typed record ([`model`]) kept as an Automerge document in an SQLite [`store`], so it works
//! with no network, merges with other reps' edits, and is never lost once a call returned `Ok`.
//! The pure rules (geo, photo evidence, lead-card parsing and QR decoding, duplicate scoring, and later funnel and slips) are shared with the relay so the
//! same rule gives the same answer on phone and server; so is Web Push encryption and VAPID
//! ([`push`]), which the relay uses to send alerts and the phone to read them.
//!
//! No FFI types, no UI and no server code live here (DESIGN §2).

pub mod clock;
pub mod dedup;
pub mod device;
pub mod evidence;
pub mod funnel;
pub mod geo;
pub mod heat;
pub mod ids;
pub mod kpi;
pub mod leadcard;
pub mod model;
pub mod push;
pub mod store;
pub mod sync;

pub use clock::{Clock, ManualClock, SystemClock, UnixMillis, Uptime};
pub use device::DeviceIdentity;
pub use ids::{DeviceId, DocId};
pub use store::{Store, StoreError, StoreOptions};
