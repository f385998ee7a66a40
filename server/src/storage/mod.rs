//! The relay's storage: one trait, so a PostgreSQL backend can follow the embedded SQLite one
//! (DESIGN §6) and both can pass one conformance suite.
//!
//! The trait is synchronous on purpose: the relay's writer thread calls it for every batch and
//! request handlers call it from `spawn_blocking`. A PostgreSQL backend would use a blocking
//! client the same way; nothing above this trait knows which backend it talks to.

pub mod console;
pub mod push;
pub mod sqlite;

use fieldsync_core::DocId;

/// Errors from a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend failed (disk, database, lock).
    #[error("storage failure: {0}")]
    Backend(String),
    /// The data directory or database belongs to something else or a newer relay.
    #[error("{0}")]
    Incompatible(String),
    /// A name, id or code that does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A request that conflicts with stored state (used code, revoked device).
    #[error("{0}")]
    Conflict(String),
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError::Backend(e.to_string())
    }
}

/// Storage results.
pub type StorageResult<T> = Result<T, StorageError>;

/// A user's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Field rep.
    Rep,
    /// Supervisor: gets alerts, reviews duplicates.
    Supervisor,
    /// Admin: edits team rules, enrolls people.
    Admin,
}

impl Role {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Rep => "rep",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "rep" => Some(Role::Rep),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Which of its team's documents a device receives through sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncVisibility {
    /// Every document of the team (supervisors and admins).
    Everything,
    /// Every document but the relay's `Alert` and `TeamTable` documents: alerts and every rep's
    /// figures are for the team's supervisors (`GET /v1/alerts` refuses reps too, and
    /// `GET /v1/kpi` gives a rep their own figures and the team's aggregates only).
    ForReps,
}

impl SyncVisibility {
    /// The record kinds (their stored names) this visibility hides: `[None, None]` for none.
    /// Only the relay's actor writes documents of these kinds.
    pub fn hidden_kinds(self) -> [Option<&'static str>; 2] {
        use fieldsync_core::model::RecordKind;
        match self {
            SyncVisibility::Everything => [None, None],
            SyncVisibility::ForReps => {
                [Some(RecordKind::Alert.as_str()), Some(RecordKind::TeamTable.as_str())]
            }
        }
    }

    /// Whether a document of kind `kind` (its stored name) is hidden.
    pub fn hides(self, kind: &str) -> bool {
        self.hidden_kinds().contains(&Some(kind))
    }

    /// What a device of a user with `role` receives.
    pub fn for_role(role: Role) -> Self {
        match role {
            Role::Rep => SyncVisibility::ForReps,
            Role::Supervisor | Role::Admin => SyncVisibility::Everything,
        }
    }
}

/// An enrolled, authenticated device and the scope it acts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceScope {
    /// The device id (its Automerge actor).
    pub device_id: [u8; 16],
    /// Its user.
    pub user_id: String,
    /// The user's role.
    pub role: Role,
    /// Tenant.
    pub tenant_id: String,
    /// Team: the scope of every document the device reads or writes.
    pub team_id: String,
}

/// A document as the relay stores it.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    /// Tenant that owns it.
    pub tenant_id: String,
    /// Team whose scope it is in.
    pub team_id: String,
    /// Record kind name.
    pub kind: String,
    /// Saved Automerge document.
    pub snapshot: Vec<u8>,
    /// Signed and immutable.
    pub sealed: bool,
}

/// An accepted change to append to the log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Team scope.
    pub team_id: String,
    /// Document.
    pub doc_id: DocId,
    /// Automerge change hash.
    pub hash: [u8; 32],
    /// The change's actor (device).
    pub actor: [u8; 16],
    /// Raw change.
    pub bytes: Vec<u8>,
}

/// A document's new state after a batch.
#[derive(Debug, Clone)]
pub struct DocumentUpdate {
    /// Document.
    pub doc_id: DocId,
    /// Tenant.
    pub tenant_id: String,
    /// Team.
    pub team_id: String,
    /// Kind name.
    pub kind: String,
    /// Saved state.
    pub snapshot: Vec<u8>,
    /// Sealed.
    pub sealed: bool,
}

/// A document the relay accepted but doubts (DESIGN §4: signed slips verify or are flagged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFlag {
    /// Tenant.
    pub tenant_id: String,
    /// Team.
    pub team_id: String,
    /// The document.
    pub doc_id: DocId,
    /// Its kind name.
    pub kind: String,
    /// Stable machine code (`slip_signature_invalid`, `slip_signed_by_other_device`).
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
    /// The device whose change raised the flag.
    pub device_id: [u8; 16],
    /// When, relay time (unix ms).
    pub flagged_at: i64,
}

/// What one group commit writes, atomically.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchWrite<'a> {
    /// Accepted changes, appended to the log.
    pub entries: &'a [LogEntry],
    /// New document states.
    pub documents: &'a [DocumentUpdate],
    /// Flags raised by the accepted changes (a repeat of an existing flag is ignored).
    pub flags: &'a [DocumentFlag],
    /// Customers' match keys, replacing the stored ones.
    pub customers: &'a [CustomerKeyRow],
    /// Pairs queued for review or decided (a decided pair overwrites a pending one).
    pub pairs: &'a [DedupPair],
    /// Scalars that differed in merges.
    pub conflicts: &'a [MergeConflict],
    /// Changes to the stall scheduler's rows.
    pub schedule: &'a [ScheduleWrite],
    /// Alerts raised (their documents are in `documents` and `entries`).
    pub alerts: &'a [AlertRow],
    /// Changes to the customers' ownership rows, in order.
    pub owners: &'a [OwnerWrite],
    /// Which customer follow-ups and lead cards are about, replacing the stored rows:
    /// `(document, team, customer)`; `None` removes the row (a card no longer linked).
    pub document_customers: &'a [(DocId, String, Option<DocId>)],
    /// KPI rows of the visits, follow-ups, deals and customers the batch touched.
    pub kpi_rows: &'a [KpiRowWrite],
    /// Slips the batch touched, with the visit each is for: `(slip, visit)`.
    pub kpi_slips: &'a [(DocId, DocId)],
}

/// One record's KPI row as the relay keeps it (docs/kpi.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiRowWrite {
    /// The record's document.
    pub doc_id: DocId,
    /// Its team.
    pub team_id: String,
    /// The rep it counts for; `None` removes the row (no user of the team made it).
    pub rep: Option<String>,
    /// The time span a period must touch for it to count.
    pub lo: i64,
    /// See `lo`.
    pub hi: i64,
    /// A deal: read for every period.
    pub is_deal: bool,
    /// The row, `fieldsync_core::kpi::KpiRow` as JSON.
    pub row: String,
}

/// A customer's owner as the relay keeps it (one row per customer it has assigned; see
/// docs/ownership.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRow {
    /// The customer.
    pub customer_id: DocId,
    /// Its team.
    pub team_id: String,
    /// Its owner (a user id); `None` in the pool or merged away.
    pub owner_user_id: Option<String>,
    /// When the current owner (or the pool) got it.
    pub owned_since: i64,
    /// The latest effective follow-up (a visit checked in on site, a follow-up with a summary).
    pub last_effective_at: Option<i64>,
    /// The latest won deal.
    pub last_won_at: Option<i64>,
    /// When the pool rule must be looked at next; `None`: nothing falls due.
    pub return_due_at: Option<i64>,
    /// The record it was merged into.
    pub merged_into: Option<DocId>,
}

/// A change to the ownership rows, in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerWrite {
    /// Replace (or insert) a customer's row.
    Row(OwnerRow),
    /// The team's rules changed: every owned customer of the team is looked at again at `at`.
    TeamDue {
        /// The team.
        team_id: String,
        /// When.
        at: i64,
    },
}

/// A user as the ownership rules read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The user.
    pub user_id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Team.
    pub team_id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// A deal as the stall scheduler reads it (one row per opportunity document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// The opportunity.
    pub doc_id: DocId,
    /// Its team.
    pub team_id: String,
    /// The rep whose devices' last sync the grace period reads, when known.
    pub rep_user_id: Option<String>,
    /// The customer.
    pub customer_id: DocId,
    /// Owner as written in the deal.
    pub owner: String,
    /// Title.
    pub title: String,
    /// Stage name.
    pub stage: String,
    /// When the stage was entered.
    pub stage_entered_at: i64,
    /// Last activity recorded in the deal itself.
    pub doc_activity_at: i64,
    /// When to look at it next (`None`: nothing can fall due).
    pub next_due_at: Option<i64>,
    /// A due alert is held for the rep's next sync.
    pub held: bool,
}

/// A deal of a team as the console's funnel reads it: the scheduler's row of the deal, its CNY
/// amount from its KPI row, and its rep's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamDeal {
    /// The opportunity.
    pub doc_id: DocId,
    /// The customer.
    pub customer_id: DocId,
    /// The rep it counts for (its owner when that is a user of the team), when known.
    pub rep_user_id: Option<String>,
    /// That rep's name.
    pub rep_name: Option<String>,
    /// Owner as written in the deal.
    pub owner: String,
    /// Title.
    pub title: String,
    /// Stage name.
    pub stage: String,
    /// When the stage was entered.
    pub stage_entered_at: i64,
    /// Its amount in CNY fen (0 without one, or in another currency).
    pub amount_fen: i64,
}

/// An enrolled device as the console's people page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// The device.
    pub device_id: [u8; 16],
    /// Its user.
    pub user_id: String,
    /// The name it enrolled with.
    pub name: String,
    /// When it enrolled.
    pub enrolled_at: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When it last synced, if ever.
    pub last_sync_at: Option<i64>,
}

/// One change to the scheduler's state, written with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleWrite {
    /// A deal's document changed: replace its row.
    Deal(ScheduleRow),
    /// Activity on a deal at `at`, for the stall rules: a visit to it started, or a follow-up on
    /// it with a summary (kept as the latest per deal).
    DealActivity {
        /// The deal.
        opportunity_id: DocId,
        /// The visit's start or the follow-up's time.
        at: i64,
    },
    /// The team's rules changed: every open deal of the team is looked at again at `at`.
    Team {
        /// The team.
        team_id: String,
        /// When.
        at: i64,
    },
    /// The scheduler looked at a deal.
    Evaluated {
        /// The deal.
        doc_id: DocId,
        /// When to look again.
        next_due_at: Option<i64>,
        /// Whether a due alert is held for the rep's next sync.
        held: bool,
    },
}

/// An alert the scheduler raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// The alert document.
    pub alert_id: DocId,
    /// Its key.
    pub key: String,
    /// Every trigger key it answers (its own key included).
    pub trigger_keys: Vec<String>,
    /// Team.
    pub team_id: String,
    /// The deal.
    pub opportunity_id: DocId,
    /// `supervisor` or `escalation`.
    pub level: String,
    /// The push payload.
    pub payload: Vec<u8>,
    /// When.
    pub raised_at: i64,
}

/// What the duplicate rule needs of one customer, as the relay indexes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerKeyRow {
    /// The customer document.
    pub doc_id: DocId,
    /// Its team.
    pub team_id: String,
    /// `provenance.created_at`, for the canonical order.
    pub created_at: i64,
    /// Company name as written.
    pub name: String,
    /// Phone entries as written.
    pub phones: Vec<String>,
    /// Credit code as written.
    pub credit_code: Option<String>,
    /// The customer it was merged into.
    pub merged_into: Option<DocId>,
    /// Normalised phones (E.164) it is found by; written, not read back.
    pub e164s: Vec<String>,
    /// Name n-grams it is found by; written, not read back.
    pub grams: Vec<String>,
}

/// Where a pair of customers stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairStatus {
    /// Waiting for a supervisor.
    Pending,
    /// Merged (by the rule or a supervisor).
    Merged,
    /// A supervisor said they are different companies: never merged or queued again.
    NotSame,
}

impl PairStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PairStatus::Pending => "pending",
            PairStatus::Merged => "merged",
            PairStatus::NotSame => "not_same",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [PairStatus::Pending, PairStatus::Merged, PairStatus::NotSame].into_iter().find(|p| p.as_str() == s)
    }
}

/// A pair of customers the rule called possible duplicates, or a decision on one.
#[derive(Debug, Clone, PartialEq)]
pub struct DedupPair {
    /// Team.
    pub team_id: String,
    /// The smaller id.
    pub a: DocId,
    /// The larger id.
    pub b: DocId,
    /// Name similarity.
    pub score: f64,
    /// The rule's reasons, in words.
    pub reasons: String,
    /// Where it stands.
    pub status: PairStatus,
    /// When it was queued or decided (relay time).
    pub at: i64,
    /// Who decided (user id), for decisions.
    pub decided_by: Option<String>,
}

/// A scalar that differed when two customers were merged; the canonical value was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeConflict {
    /// Team.
    pub team_id: String,
    /// The surviving customer.
    pub canonical: DocId,
    /// The customer merged into it.
    pub duplicate: DocId,
    /// The field.
    pub field: String,
    /// The value kept.
    pub kept: String,
    /// The value not kept.
    pub other: String,
    /// When (relay time).
    pub at: i64,
}

/// A page of the change log.
#[derive(Debug, Clone, Default)]
pub struct ChangePage {
    /// `(doc_id, bytes)` in log order.
    pub changes: Vec<(DocId, Vec<u8>)>,
    /// The log position this page covers up to (the next cursor).
    pub through_seq: u64,
    /// More log entries wait after `through_seq`.
    pub more: bool,
}

/// A page of document snapshots, by document id.
#[derive(Debug, Clone, Default)]
pub struct SnapshotPage {
    /// `(doc_id, snapshot)` in id order.
    pub documents: Vec<(DocId, Vec<u8>)>,
    /// More documents wait after the last one.
    pub more: bool,
}

/// Relay storage (push delivery's part is [`push::PushStorage`], the console's
/// [`console::ConsoleStorage`]).
pub trait RelayStorage: push::PushStorage + console::ConsoleStorage + Send + Sync + 'static {
    // --- who is who ---
    /// Creates a tenant; returns its id.
    fn create_tenant(&self, name: &str, now: i64) -> StorageResult<String>;
    /// Creates a team in a tenant; returns its id.
    fn create_team(&self, tenant_id: &str, name: &str, now: i64) -> StorageResult<String>;
    /// Creates a user in a team; returns its id.
    fn create_user(&self, team_id: &str, name: &str, role: Role, now: i64) -> StorageResult<String>;
    /// Stores a one-time enrollment code (hashed) for a user.
    fn add_enrollment_code(&self, user_id: &str, code_hash: [u8; 32], expires_at: i64) -> StorageResult<()>;
    /// Uses a code: marks it used and enrolls (or re-enrolls) the device with a new token hash.
    fn enroll_device(
        &self,
        code_hash: [u8; 32],
        device_id: [u8; 16],
        public_key: [u8; 32],
        name: &str,
        token_hash: [u8; 32],
        now: i64,
    ) -> StorageResult<DeviceScope>;
    /// The device holding a token, unless revoked.
    fn device_by_token(&self, token_hash: [u8; 32]) -> StorageResult<Option<DeviceScope>>;
    /// Revokes a device: its token stops working at once.
    fn revoke_device(&self, device_id: [u8; 16], now: i64) -> StorageResult<()>;
    /// Records that a device synced (alerts report it).
    fn touch_device(&self, device_id: [u8; 16], now: i64) -> StorageResult<()>;

    // --- documents and the change log ---
    /// Loads a document.
    fn load_document(&self, doc_id: DocId) -> StorageResult<Option<StoredDocument>>;
    /// Which of these change hashes the log already holds.
    fn known_changes(&self, hashes: &[[u8; 32]]) -> StorageResult<Vec<[u8; 32]>>;
    /// Appends accepted changes, saves document states and records flags, atomically. Returns
    /// the last seq.
    fn commit_batch(&self, batch: BatchWrite<'_>, now: i64) -> StorageResult<u64>;
    /// A team's flagged documents, newest first.
    fn document_flags(&self, team_id: &str, limit: u32) -> StorageResult<Vec<DocumentFlag>>;

    // --- identity resolution ---
    /// The relay's Automerge actor, created on first use.
    fn relay_actor(&self) -> StorageResult<[u8; 16]>;
    /// Customers of a team that may match: every customer listing one of `e164s`, and those
    /// sharing the most of the rarest `grams`. Bounded reads whatever the team's size.
    fn customer_candidates(
        &self,
        team_id: &str,
        e164s: &[String],
        grams: &[String],
    ) -> StorageResult<Vec<CustomerKeyRow>>;
    /// One customer's key row.
    fn customer_key(&self, doc_id: DocId) -> StorageResult<Option<CustomerKeyRow>>;
    /// The stored status of a pair (ids in any order).
    fn pair_status(&self, team_id: &str, a: DocId, b: DocId) -> StorageResult<Option<PairStatus>>;
    /// A team's pairs with `status`, oldest first.
    fn pairs(&self, team_id: &str, status: PairStatus, limit: u32) -> StorageResult<Vec<DedupPair>>;
    /// Conflicts recorded when merging into `canonical`.
    fn merge_conflicts(&self, team_id: &str, limit: u32) -> StorageResult<Vec<MergeConflict>>;
    /// The team's rules document, if an admin wrote one.
    fn team_rules_document(&self, team_id: &str) -> StorageResult<Option<DocId>>;

    /// The tenant a team belongs to.
    fn team_tenant(&self, team_id: &str) -> StorageResult<Option<String>>;
    /// Every team's id, in order.
    fn teams(&self) -> StorageResult<Vec<String>>;
    /// `(rep, row JSON)` of a team's KPI rows a period within `[lo, hi)` may count, and its deals.
    fn kpi_rows(&self, team_id: &str, lo: i64, hi: i64) -> StorageResult<Vec<(String, String)>>;
    /// `(slip, visit)` of the slips known to be for any of `visits`.
    fn kpi_slips_for(&self, visits: &[DocId]) -> StorageResult<Vec<(DocId, DocId)>>;
    /// Whether a team's KPI rows were rebuilt from its documents (after which the writer keeps
    /// them).
    fn kpi_team_rebuilt(&self, team_id: &str) -> StorageResult<bool>;
    /// Replaces a team's KPI rows with `rows` in one transaction and marks it rebuilt.
    fn kpi_rebuild(
        &self,
        team_id: &str,
        rows: &[KpiRowWrite],
        slips: &[(DocId, DocId)],
        now: i64,
    ) -> StorageResult<()>;
    /// Up to `limit` deals whose `next_due_at` is at or before `now`, earliest first.
    fn due_deals(&self, now: i64, limit: u32) -> StorageResult<Vec<ScheduleRow>>;
    /// The latest visit start recorded for a deal.
    fn last_visit(&self, opportunity_id: DocId) -> StorageResult<Option<i64>>;
    /// Which of `keys` already have an alert.
    fn raised_keys(&self, keys: &[String]) -> StorageResult<Vec<String>>;
    /// The rep a deal belongs to: `owner` when it is a user of the team, else the user of the
    /// device that created the deal.
    fn deal_rep(&self, team_id: &str, owner: &str, creator: [u8; 16]) -> StorageResult<Option<String>>;
    /// When any device of `user_id` last synced.
    fn user_last_sync(&self, user_id: &str) -> StorageResult<Option<i64>>;

    // --- ownership (docs/ownership.md) ---
    /// A user, whoever's team.
    fn user_info(&self, user_id: &str) -> StorageResult<Option<UserInfo>>;
    /// The user of a device of `team_id`.
    fn device_user(&self, team_id: &str, device_id: [u8; 16]) -> StorageResult<Option<String>>;
    /// The ownership row of a customer.
    fn owner_row(&self, customer_id: DocId) -> StorageResult<Option<OwnerRow>>;
    /// How many customers of `team_id` `user_id` owns.
    fn owned_count(&self, team_id: &str, user_id: &str) -> StorageResult<u32>;
    /// The customers `user_id` owns in `team_id`.
    fn owned_customers(&self, team_id: &str, user_id: &str) -> StorageResult<Vec<DocId>>;
    /// Up to `limit` rows whose pool rule falls due by `now`, earliest first (an index; never a
    /// scan of the customers).
    fn due_owner_rows(&self, now: i64, limit: u32) -> StorageResult<Vec<OwnerRow>>;
    /// Up to `limit` follow-ups and lead cards (ids above `after`, in id order) about
    /// `customer_id` or about a customer merged into it: what a phone fetches when its user
    /// gains the customer (docs/ownership.md, "Who sees what").
    fn customer_documents(
        &self,
        customer_id: DocId,
        after: Option<DocId>,
        limit: u32,
    ) -> StorageResult<Vec<DocId>>;
    /// Whether a device of rep `rep_user` may pull document `doc_id`, by the same rule as
    /// [`RelayStorage::changes_after`]: no customer of someone else's (or in the pool), and no
    /// follow-up or lead card about one.
    fn rep_may_pull(&self, doc_id: DocId, rep_user: &str) -> StorageResult<bool>;
    /// The open deals of `team_id` whose rep is `user_id`.
    fn open_deals_of(&self, team_id: &str, user_id: &str) -> StorageResult<Vec<DocId>>;
    /// Every deal of `team_id` (the console's lists), by stage then amount, largest first.
    fn team_deals(&self, team_id: &str) -> StorageResult<Vec<TeamDeal>>;
    /// Per stage (its stored name), the deals of `team_id` (of one rep's when `rep` is set) and
    /// their CNY amount in fen: the console's funnel, counted by the database.
    fn team_funnel(&self, team_id: &str, rep: Option<&str>) -> StorageResult<Vec<(String, u32, i64)>>;
    /// The visits of `team_id` made within `[lo, hi)` (their KPI rows' time), in time order, each
    /// with the rep it counts for.
    fn team_visits(&self, team_id: &str, lo: i64, hi: i64) -> StorageResult<Vec<(DocId, String)>>;
    /// Every device of the users of `team_id`, newest first.
    fn team_devices(&self, team_id: &str) -> StorageResult<Vec<DeviceRow>>;
    /// Every user of `team_id`: `(user_id, name, role)`, by name.
    fn team_users(&self, team_id: &str) -> StorageResult<Vec<(String, String, Role)>>;
    /// The stall alerts (`briefs` false) or the weekly briefs (`briefs` true) raised for a team,
    /// newest first: `(alert id, payload)`.
    fn team_alerts(&self, team_id: &str, briefs: bool, limit: u32) -> StorageResult<Vec<(DocId, Vec<u8>)>>;
    /// The newest log position of a team (0 when empty).
    fn head_seq(&self, team_id: &str) -> StorageResult<u64>;
    /// Log entries of a team after `after_seq` that `visibility` lets the device see, skipping
    /// `exclude_actor`'s own, up to `max_bytes`. With `rep_user`, changes to customers owned by
    /// someone else (or in the pool), and to the follow-ups and lead cards about them, are
    /// hidden too (docs/ownership.md, "Who sees what").
    /// Entries skipped as own or hidden still move `through_seq` past them; `more` is set only
    /// when a visible entry did not fit.
    fn changes_after(
        &self,
        team_id: &str,
        after_seq: u64,
        exclude_actor: [u8; 16],
        visibility: SyncVisibility,
        rep_user: Option<&str>,
        max_bytes: usize,
    ) -> StorageResult<ChangePage>;
    /// Document snapshots of a team after `after` (by id) that `visibility` (and `rep_user`, as
    /// for [`RelayStorage::changes_after`]) lets the device see, up to `max_bytes`.
    fn snapshots_after(
        &self,
        team_id: &str,
        after: Option<DocId>,
        visibility: SyncVisibility,
        rep_user: Option<&str>,
        max_bytes: usize,
    ) -> StorageResult<SnapshotPage>;
    /// How many documents the relay stores.
    fn document_count(&self) -> StorageResult<u64>;
    /// Up to `limit` log entries of a team after `after_seq`, in log order, each as
    /// (position, document, change bytes): for the admin's log repair, which reads every entry.
    fn team_log(
        &self,
        team_id: &str,
        after_seq: u64,
        limit: u32,
    ) -> StorageResult<Vec<(u64, DocId, Vec<u8>)>>;
    /// In one transaction: removes the log entries at `positions` of `team_id` and saves the
    /// rebuilt `documents` (the log repair's write).
    fn repair_log(&self, team_id: &str, positions: &[u64], documents: &[DocumentUpdate])
    -> StorageResult<()>;
}
