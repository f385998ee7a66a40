//! The relay's sync engine, with no HTTP in it: validate and merge pushed changes, append them to
//! the team's change log, and answer with what the device has not seen (DESIGN §5–6).
//!
//! All pushes go through one writer thread that owns the document cache. It takes whatever
//! requests are queued, checks and merges their changes, and commits them in one storage
//! transaction (group commit): one fsync serves many devices, and no two merges of one document
//! ever race. Pulls read the log from reader connections and never wait for the writer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use automerge::{Automerge, Change};
use fieldsync_core::evidence::slip::verify_slip;
use fieldsync_core::model::{Activity, RecordKind, ServiceSlip};
use fieldsync_core::sync::intake::{self, Accepted};
use fieldsync_core::sync::wire::{
    DocumentBytes, PushedChange, RejectCode, Rejection, SyncRequest, SyncResponse,
};
use fieldsync_core::sync::wire::{put_varint, take_varint};
use fieldsync_core::{Clock as _, DocId, SystemClock};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::storage::{
    AlertRow, BatchWrite, CustomerKeyRow, DedupPair, DeviceScope, DocumentFlag, DocumentUpdate, LogEntry,
    MergeConflict, OwnerRow, OwnerWrite, PairStatus, RelayStorage, Role, ScheduleWrite, StorageError,
    SyncVisibility,
};

pub mod boards;
pub mod heat;
pub(crate) mod identity;
pub mod kpi;
mod ownership;
mod repair;
mod scan;
pub(crate) mod scheduler;

pub use ownership::{PoolTickReport, TransferReport};
pub use repair::RepairReport;

pub use scheduler::TickReport;

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct RelayLimits {
    /// Documents kept merged in memory (never all of them: DESIGN §6).
    pub document_cache: usize,
    /// Largest response body the relay builds, whatever the device asks for.
    pub max_response_bytes: usize,
    /// Largest single change accepted.
    pub max_change_bytes: usize,
    /// Requests merged into one storage transaction at most.
    pub max_batch_requests: usize,
    /// Keep the KPI rows up to date in the writer's batch (docs/kpi.md); off only to measure
    /// what the upkeep costs.
    pub kpi_upkeep: bool,
}

impl Default for RelayLimits {
    fn default() -> Self {
        RelayLimits {
            document_cache: 4096,
            max_response_bytes: 8 * 1024 * 1024,
            max_change_bytes: 1024 * 1024,
            max_batch_requests: 128,
            kpi_upkeep: true,
        }
    }
}

/// Why a sync request failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The cursor is not one this relay issued.
    #[error("the sync cursor is malformed: {0}")]
    BadCursor(String),
    /// Storage failed; nothing from the request was stored.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The relay could not process the request (shutting down, or a failed batch); retry.
    #[error("the relay could not process the request; retry")]
    Unavailable,
    /// A review decision names something that is not a customer pair of the caller's team.
    #[error("{0}")]
    NoSuchPair(String),
    /// A transfer names a user who is not of the caller's team (or the same user twice).
    #[error("{0}")]
    Transfer(String),
}

/// A supervisor's answer to a pair in the review queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    /// The same company: merge them (the older record stays).
    Merge,
    /// Different companies: never merge or queue them again.
    NotSame,
}

/// Where a device stands: receiving snapshots (new device) or following the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// Sending compacted documents in id order; the log is followed from `base_seq` afterwards.
    Snapshots {
        /// Log position when the snapshot phase began.
        base_seq: u64,
        /// Last document sent.
        after: Option<DocId>,
    },
    /// Following the log after `seq`.
    Log {
        /// Last log position the device has.
        seq: u64,
    },
}

const CURSOR_VERSION: u8 = 1;

impl Cursor {
    /// Encodes the cursor (opaque to devices).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![CURSOR_VERSION];
        let (phase, seq, after) = match *self {
            Cursor::Snapshots { base_seq, after } => (0u8, base_seq, after),
            Cursor::Log { seq } => (1u8, seq, None),
        };
        out.push(phase);
        put_varint(&mut out, seq);
        if let Some(after) = after {
            out.extend_from_slice(after.as_bytes());
        }
        out
    }

    /// Decodes a cursor; `None` for an empty one (a device that never synced).
    pub fn decode(bytes: &[u8]) -> Result<Option<Cursor>, RelayError> {
        let bad = |why: &str| RelayError::BadCursor(why.to_owned());
        let Some((&version, rest)) = bytes.split_first() else {
            return Ok(None);
        };
        if version != CURSOR_VERSION {
            return Err(bad("unknown cursor version"));
        }
        let (&phase, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        let (seq, rest) = take_varint(rest).map_err(|_| bad("malformed log position"))?;
        match (phase, rest.len()) {
            (0, 0) => Ok(Some(Cursor::Snapshots { base_seq: seq, after: None })),
            (0, 16) => {
                let mut id = [0u8; 16];
                id.copy_from_slice(rest);
                Ok(Some(Cursor::Snapshots { base_seq: seq, after: Some(DocId::from_bytes(id)) }))
            }
            (1, 0) => Ok(Some(Cursor::Log { seq })),
            _ => Err(bad("unknown phase or trailing bytes")),
        }
    }
}

struct PushJob {
    scope: DeviceScope,
    changes: Vec<PushedChange>,
    reply: oneshot::Sender<Result<PushOutcome, RelayError>>,
}

struct DecideJob {
    scope: DeviceScope,
    a: DocId,
    b: DocId,
    decision: ReviewDecision,
    reply: oneshot::Sender<Result<(), RelayError>>,
}

struct TickJob {
    now: i64,
    limit: u32,
    reply: oneshot::Sender<Result<TickReport, RelayError>>,
}

struct TransferJob {
    scope: DeviceScope,
    from: String,
    to: String,
    reply: oneshot::Sender<Result<TransferReport, RelayError>>,
}

struct RepairJob {
    team_id: String,
    reply: oneshot::Sender<Result<RepairReport, RelayError>>,
}

/// A team's KPI rows to rebuild from its documents.
struct KpiRebuildJob {
    team_id: String,
    reply: oneshot::Sender<Result<u64, RelayError>>,
}

/// A team's scoreboards and team tables to write where their figures changed.
struct BoardsJob {
    team: String,
    boards: Vec<(fieldsync_core::model::Scoreboard, fieldsync_core::model::TeamTable)>,
    reply: oneshot::Sender<Result<u32, RelayError>>,
}

/// A team's rules to write as the relay's actor (an admin's edit in the console).
struct RulesJob {
    team: String,
    rules: fieldsync_core::model::TeamRules,
    reply: oneshot::Sender<Result<(), RelayError>>,
}

/// Customers imported from a list (the console's 导入), for one owner.
struct ImportJob {
    team: String,
    owner: String,
    customers: Vec<fieldsync_core::model::Customer>,
    reply: oneshot::Sender<Result<(), RelayError>>,
}

/// A weekly brief to store and deliver, unless its key was raised already.
struct BriefJob {
    row: AlertRow,
    reply: oneshot::Sender<Result<bool, RelayError>>,
}

/// Work for the writer thread.
enum Job {
    Push(PushJob),
    Decide(DecideJob),
    Tick(TickJob),
    Transfer(TransferJob),
    Repair(RepairJob),
    Brief(BriefJob),
    Boards(BoardsJob),
    Rules(RulesJob),
    Import(ImportJob),
    KpiRebuild(KpiRebuildJob),
}

/// What a job came to, before the batch commits.
enum Outcome {
    Pushed(PushOutcome),
    Decided(Result<(), RelayError>),
    Ticked(TickReport),
    Transferred(Result<TransferReport, RelayError>),
    Briefed(bool),
    Boards(u32),
    Rules,
    Imported,
}

#[derive(Debug, Default)]
struct PushOutcome {
    accepted: u32,
    rejected: Vec<Rejection>,
}

/// The sync engine. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    storage: Arc<dyn RelayStorage>,
    writer: mpsc::Sender<Job>,
    limits: RelayLimits,
    metrics: Arc<Metrics>,
    /// Which teams' scoreboards are due.
    boards: Arc<boards::Boards>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PushJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushJob").field("changes", &self.changes.len()).finish()
    }
}

impl Relay {
    /// Starts the engine and its writer thread (an error if the OS refuses the thread). The thread ends when every `Relay` clone is
    /// dropped, after finishing the batch in hand.
    pub fn start(
        storage: Arc<dyn RelayStorage>,
        limits: RelayLimits,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Relay> {
        Self::start_with_clock(storage, limits, metrics, Arc::new(SystemClock))
    }

    /// [`Relay::start`] with the clock the ownership rules read (when a customer was claimed,
    /// released, returned to the pool); tests run it on a fake one, as they tick the scheduler.
    pub fn start_with_clock(
        storage: Arc<dyn RelayStorage>,
        limits: RelayLimits,
        metrics: Arc<Metrics>,
        clock: Arc<dyn fieldsync_core::Clock>,
    ) -> std::io::Result<Relay> {
        let (writer, jobs) = mpsc::channel(1024);
        let actor = storage.relay_actor().map_err(std::io::Error::other)?;
        let thread_storage = storage.clone();
        let thread_limits = limits.clone();
        let thread_metrics = metrics.clone();
        let boards = Arc::new(boards::Boards::default());
        let thread_boards = boards.clone();
        std::thread::Builder::new().name("relay-writer".into()).spawn(move || {
            Writer::new(thread_storage, thread_limits, thread_metrics, actor, clock, thread_boards).run(jobs)
        })?;
        Ok(Relay { storage, writer, limits, metrics, boards })
    }

    /// The storage behind the engine.
    pub fn storage(&self) -> &Arc<dyn RelayStorage> {
        &self.storage
    }

    /// One sync exchange for an authenticated device.
    pub async fn sync(
        &self,
        scope: &DeviceScope,
        request: SyncRequest,
        now_ms: u64,
    ) -> Result<SyncResponse, RelayError> {
        let cursor = Cursor::decode(&request.cursor)?;
        let pushed = request.changes.len();
        let outcome = if request.changes.is_empty() {
            PushOutcome::default()
        } else {
            let (reply, answer) = oneshot::channel();
            self.writer
                .send(Job::Push(PushJob { scope: scope.clone(), changes: request.changes, reply }))
                .await
                .map_err(|_| RelayError::Unavailable)?;
            answer.await.map_err(|_| RelayError::Unavailable)??
        };
        debug_assert_eq!(outcome.accepted as usize + outcome.rejected.len(), pushed);

        let budget = (request.max_response_bytes as usize).clamp(64 * 1024, self.limits.max_response_bytes);
        let storage = self.storage.clone();
        let scope_for_pull = scope.clone();
        let (snapshots, changes, cursor, more) =
            tokio::task::spawn_blocking(move || pull(storage.as_ref(), &scope_for_pull, cursor, budget))
                .await
                .map_err(|_| RelayError::Unavailable)??;
        self.metrics.record_sync(
            outcome.accepted as u64,
            outcome.rejected.len() as u64,
            (snapshots.len() + changes.len()) as u64,
        );
        Ok(SyncResponse {
            server_time_ms: now_ms,
            accepted: outcome.accepted,
            rejected: outcome.rejected,
            snapshots,
            changes,
            cursor: cursor.encode(),
            more,
        })
    }
}

impl Relay {
    /// One scheduler tick at `now_ms`: looks at up to `limit` deals whose next look is due and
    /// raises their alerts (see [`scheduler`]). The serve loop calls it on an interval with the
    /// system clock; tests call it with a fake one.
    pub async fn tick(&self, now_ms: i64, limit: u32) -> Result<TickReport, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Tick(TickJob { now: now_ms, limit, reply }))
            .await
            .map_err(|_| RelayError::Unavailable)?;
        answer.await.map_err(|_| RelayError::Unavailable)?
    }

    /// Writes the weekly brief (docs/kpi.md) of every team whose brief moment of this week has
    /// passed at `now_ms` and whose brief of the week before is not written yet. Each is computed
    /// from the team's documents off the writer thread, then stored and queued for delivery to
    /// the team's supervisors and admins in the writer's batch, once per team and week (its key
    /// is unique). Returns how many were written.
    pub async fn brief_tick(&self, now_ms: i64) -> Result<u32, RelayError> {
        let storage = self.storage.clone();
        let due = tokio::task::spawn_blocking(move || kpi::due_briefs(storage.as_ref(), now_ms))
            .await
            .map_err(|_| RelayError::Unavailable)??;
        let mut written = 0;
        for row in due {
            let (reply, answer) = oneshot::channel();
            self.writer
                .send(Job::Brief(BriefJob { row, reply }))
                .await
                .map_err(|_| RelayError::Unavailable)?;
            written += u32::from(answer.await.map_err(|_| RelayError::Unavailable)??);
        }
        Ok(written)
    }

    /// Writes `customers` (new records, checked with `validate()` by the caller) to `team_id` for
    /// `owner` (a user of the team), in one writer batch: the console's 导入.
    pub async fn import_customers(
        &self,
        team_id: &str,
        owner: &str,
        customers: Vec<fieldsync_core::model::Customer>,
    ) -> Result<(), RelayError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Import(ImportJob {
                team: team_id.to_owned(),
                owner: owner.to_owned(),
                customers,
                reply,
            }))
            .await
            .map_err(|_| RelayError::Unavailable)?;
        answer.await.map_err(|_| RelayError::Unavailable)?
    }

    /// Writes `rules` (checked with `validate()` by the caller) as the team's rules document, by
    /// the relay's actor: an admin's edit in the console (docs/console.md). Every phone of the
    /// team receives it at its next sync.
    pub async fn write_team_rules(
        &self,
        team_id: &str,
        rules: fieldsync_core::model::TeamRules,
    ) -> Result<(), RelayError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Rules(RulesJob { team: team_id.to_owned(), rules, reply }))
            .await
            .map_err(|_| RelayError::Unavailable)?;
        answer.await.map_err(|_| RelayError::Unavailable)?
    }

    /// A team's KPI rows for periods within `[lo, hi)`, as the writer keeps them; the
    /// first time a team is asked about (a relay upgraded with documents and no rows), its rows are
    /// rebuilt from its documents in the writer first. Blocking: call it from `spawn_blocking`.
    pub fn team_rows(
        &self,
        team_id: &str,
        lo: i64,
        hi: i64,
    ) -> Result<fieldsync_core::kpi::KpiIndex, RelayError> {
        if !self.storage.kpi_team_rebuilt(team_id)? {
            self.rebuild_kpi_blocking(team_id)?;
        }
        Ok(kpi::team_rows(self.storage.as_ref(), team_id, lo, hi)?)
    }

    /// Rebuilds a team's KPI rows from its documents, in the writer (blocking).
    pub fn rebuild_kpi_blocking(&self, team_id: &str) -> Result<u64, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .blocking_send(Job::KpiRebuild(KpiRebuildJob { team_id: team_id.to_owned(), reply }))
            .map_err(|_| RelayError::Unavailable)?;
        answer.blocking_recv().map_err(|_| RelayError::Unavailable)?
    }

    /// The stall alerts raised for a team, newest first, as push payloads.
    pub fn team_alerts(&self, team_id: &str, limit: u32) -> Result<Vec<(DocId, Vec<u8>)>, RelayError> {
        Ok(self.storage.team_alerts(team_id, false, limit)?)
    }

    /// The weekly briefs written for a team, newest first, as push payloads.
    pub fn team_briefs(&self, team_id: &str, limit: u32) -> Result<Vec<(DocId, Vec<u8>)>, RelayError> {
        Ok(self.storage.team_alerts(team_id, true, limit)?)
    }
}

impl Relay {
    /// Repairs a team's log: removes every entry a phone could not read (a damaged checksum, bytes
    /// automerge refuses, changes that depended on those) and rebuilds the stored snapshot of each
    /// document they touched from its remaining entries. Devices that quarantined such an entry
    /// fetch the rebuilt snapshot on their next sync. Safe to run again; changes nothing in a
    /// healthy log.
    pub async fn repair_team_log(&self, team_id: &str) -> Result<RepairReport, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Repair(RepairJob { team_id: team_id.to_owned(), reply }))
            .await
            .map_err(|_| RelayError::Unavailable)?;
        answer.await.map_err(|_| RelayError::Unavailable)?
    }
}

impl Relay {
    /// An admin moves every customer and open deal of the user `from` to the user `to`, both of
    /// the admin's team, in one batch (docs/ownership.md). The caller checks the role.
    pub async fn transfer(
        &self,
        scope: &DeviceScope,
        from: &str,
        to: &str,
    ) -> Result<TransferReport, RelayError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Transfer(TransferJob {
                scope: scope.clone(),
                from: from.to_owned(),
                to: to.to_owned(),
                reply,
            }))
            .await
            .map_err(|_| RelayError::Unavailable)?;
        answer.await.map_err(|_| RelayError::Unavailable)?
    }
}

impl Relay {
    /// A supervisor's answer to a pair of customers in the review queue: merge them, or
    /// remember that they are different companies. The caller checks the role.
    pub async fn decide_pair(
        &self,
        scope: &DeviceScope,
        a: DocId,
        b: DocId,
        decision: ReviewDecision,
    ) -> Result<(), RelayError> {
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Decide(DecideJob { scope: scope.clone(), a, b, decision, reply }))
            .await
            .map_err(|_| RelayError::Unavailable)?;
        answer.await.map_err(|_| RelayError::Unavailable)?
    }
}

type Pulled = (Vec<DocumentBytes>, Vec<DocumentBytes>, Cursor, bool);

fn pull(
    storage: &dyn RelayStorage,
    scope: &DeviceScope,
    cursor: Option<Cursor>,
    budget: usize,
) -> Result<Pulled, RelayError> {
    let head = storage.head_seq(&scope.team_id)?;
    let visibility = SyncVisibility::for_role(scope.role);
    // Reps receive only their own customers' records; the team's `ownership` documents say that
    // the others exist and who owns them (docs/ownership.md).
    let rep_user = (scope.role == Role::Rep).then_some(scope.user_id.as_str());
    let cursor = match cursor {
        None => Cursor::Snapshots { base_seq: head, after: None },
        // A position past the head means the relay's data was replaced (restored from a
        // backup): start the device over from snapshots rather than silently skip changes.
        Some(Cursor::Log { seq }) if seq > head => Cursor::Snapshots { base_seq: head, after: None },
        Some(c) => c,
    };
    let mut snapshots = Vec::new();
    let (log_from, budget) = match cursor {
        Cursor::Snapshots { base_seq, after } => {
            let page = storage.snapshots_after(&scope.team_id, after, visibility, rep_user, budget)?;
            let used: usize = page.documents.iter().map(|(_, b)| b.len()).sum();
            let last = page.documents.last().map(|(id, _)| *id).or(after);
            snapshots =
                page.documents.into_iter().map(|(doc_id, bytes)| DocumentBytes { doc_id, bytes }).collect();
            if page.more {
                return Ok((snapshots, Vec::new(), Cursor::Snapshots { base_seq, after: last }, true));
            }
            (base_seq, budget.saturating_sub(used).max(1))
        }
        Cursor::Log { seq } => (seq, budget),
    };
    let page =
        storage.changes_after(&scope.team_id, log_from, scope.device_id, visibility, rep_user, budget)?;
    let changes = page.changes.into_iter().map(|(doc_id, bytes)| DocumentBytes { doc_id, bytes }).collect();
    Ok((snapshots, changes, Cursor::Log { seq: page.through_seq }, page.more))
}

/// A merged document in memory.
struct CachedDoc {
    doc: Automerge,
    tenant_id: String,
    team_id: String,
    kind: RecordKind,
    sealed: bool,
    /// The intake's save of `doc` and the heads it was saved at, until the batch commits: the
    /// snapshot to store unless something changed `doc` since (issue 17: one save per change
    /// instead of two).
    saved: Option<(Vec<automerge::ChangeHash>, Vec<u8>)>,
}

/// Least-recently-used cache of merged documents, bounded by count.
struct DocCache {
    capacity: usize,
    clock: u64,
    entries: HashMap<DocId, (CachedDoc, u64)>,
    by_age: BTreeMap<u64, DocId>,
}

impl DocCache {
    fn new(capacity: usize) -> Self {
        DocCache { capacity: capacity.max(1), clock: 0, entries: HashMap::new(), by_age: BTreeMap::new() }
    }

    fn get_mut(&mut self, id: &DocId) -> Option<&mut CachedDoc> {
        self.clock += 1;
        let clock = self.clock;
        let (doc, stamp) = self.entries.get_mut(id)?;
        self.by_age.remove(stamp);
        *stamp = clock;
        self.by_age.insert(clock, *id);
        Some(doc)
    }

    fn get(&mut self, id: &DocId) -> Option<&CachedDoc> {
        self.get_mut(id).map(|doc| &*doc)
    }

    fn put(&mut self, id: DocId, doc: CachedDoc) {
        self.clock += 1;
        if let Some((_, old)) = self.entries.insert(id, (doc, self.clock)) {
            self.by_age.remove(&old);
        }
        self.by_age.insert(self.clock, id);
    }

    /// Forgets the least recently used documents beyond the capacity. Called only between
    /// batches: a batch may touch more documents than the cache holds, and each of them must
    /// still be in memory when the batch saves its snapshot.
    fn trim(&mut self) {
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.by_age.pop_first() else { break };
            self.entries.remove(&oldest);
        }
    }

    fn remove(&mut self, id: &DocId) {
        if let Some((_, stamp)) = self.entries.remove(id) {
            self.by_age.remove(&stamp);
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

struct Writer {
    storage: Arc<dyn RelayStorage>,
    limits: RelayLimits,
    metrics: Arc<Metrics>,
    cache: DocCache,
    /// The relay's own Automerge actor, for the merges it writes.
    actor: [u8; 16],
    /// What the ownership rules take as now.
    clock: Arc<dyn fieldsync_core::Clock>,
    /// Where the writer notes the teams whose scoreboards a batch made due.
    boards: Arc<boards::Boards>,
}

/// What one batch will commit.
#[derive(Default)]
struct Batch {
    entries: Vec<LogEntry>,
    hashes: HashSet<[u8; 32]>,
    touched: Vec<DocId>,
    /// The same as a set: a batch of hundreds of changes asked `touched.contains` per change.
    touched_set: HashSet<DocId>,
    flags: Vec<DocumentFlag>,
    /// Customers whose identity to resolve before committing: `(id, team)`.
    customers: Vec<(DocId, String)>,
    customer_rows: Vec<CustomerKeyRow>,
    /// Pairs decided or queued in this batch; added only through [`Batch::push_pair`].
    pairs: Vec<DedupPair>,
    /// The newest pair in `pairs` per `(a, b)`: a batch of thousands of look-alike customers
    /// asks for pair statuses millions of times, and a scan of `pairs` per question made
    /// identity resolution quadratic in the batch (issue 17).
    pair_index: HashMap<(DocId, DocId), usize>,
    /// Customers' normalised keys, made once per batch.
    keys: identity::KeyCache,
    conflicts: Vec<MergeConflict>,
    /// Deals, visits, follow-ups, lead cards and rules documents the scheduler must hear about:
    /// `(id, kind, team)`.
    funnel: Vec<(DocId, RecordKind, String)>,
    /// Every document ever noted in `funnel` in this batch.
    funnel_set: HashSet<DocId>,
    schedule: Vec<ScheduleWrite>,
    alerts: Vec<AlertRow>,
    /// Trigger keys raised in this batch (not yet in storage).
    raised_keys: HashSet<String>,
    /// Each team's rules in force, read once per batch.
    rules: HashMap<String, fieldsync_core::model::TeamRules>,
    /// Customers' ownership rows as this batch leaves them.
    owners: HashMap<DocId, OwnerRow>,
    /// The same, as writes in order (with rules changes), for the commit.
    owner_writes: Vec<OwnerWrite>,
    /// Per `(team, user)`, customers gained (+) or lost (−) in this batch.
    owned_delta: HashMap<(String, String), i64>,
    /// New claims and releases to decide, in arrival order.
    claims: Vec<(DocId, DeviceScope)>,
    /// Customers first seen in this batch, with the user whose device created them.
    new_customers: HashMap<DocId, String>,
    /// Which customer the follow-ups and lead cards touched in this batch are about.
    document_customers: Vec<(DocId, String, Option<DocId>)>,
    /// KPI rows of the records this batch touched (docs/kpi.md).
    kpi_rows: Vec<crate::storage::KpiRowWrite>,
    /// `(slip, visit)` of the slips this batch touched.
    kpi_slips: Vec<(DocId, DocId)>,
    /// Records the scheduler read already, for their KPI rows.
    kpi_read: HashMap<DocId, kpi::Source>,
    /// Each device's user in this batch (`None`: not a user of the team).
    kpi_users: HashMap<[u8; 16], Option<String>>,
}

impl Batch {
    /// Notes that the batch changed document `id` (its snapshot is saved at commit).
    fn touch(&mut self, id: DocId) {
        if self.touched_set.insert(id) {
            self.touched.push(id);
        }
    }

    /// Notes a deal, visit, follow-up, lead card or rules document for the scheduler, once.
    fn note_funnel(&mut self, id: DocId, kind: RecordKind, team: &str) {
        if self.funnel_set.insert(id) {
            self.funnel.push((id, kind, team.to_owned()));
        }
    }

    /// Records a pair decided or queued in this batch.
    fn push_pair(&mut self, pair: DedupPair) {
        self.pair_index.insert((pair.a, pair.b), self.pairs.len());
        self.pairs.push(pair);
    }

    /// The newest pair of `(a, b)` (ordered) in `team` recorded in this batch. Document ids
    /// belong to one team, so the newest pair of `(a, b)` is that team's; should another team's
    /// be newer, the pairs are scanned.
    fn pair(&self, team: &str, a: DocId, b: DocId) -> Option<&DedupPair> {
        let newest = &self.pairs[*self.pair_index.get(&(a, b))?];
        if newest.team_id == team {
            return Some(newest);
        }
        self.pairs.iter().rev().find(|p| p.a == a && p.b == b && p.team_id == team)
    }
}

impl Writer {
    fn new(
        storage: Arc<dyn RelayStorage>,
        limits: RelayLimits,
        metrics: Arc<Metrics>,
        actor: [u8; 16],
        clock: Arc<dyn fieldsync_core::Clock>,
        boards: Arc<boards::Boards>,
    ) -> Self {
        let cache = DocCache::new(limits.document_cache);
        Writer { storage, limits, metrics, cache, actor, clock, boards }
    }

    fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        while let Some(first) = jobs.blocking_recv() {
            let mut batch_jobs = vec![first];
            while batch_jobs.len() < self.limits.max_batch_requests {
                match jobs.try_recv() {
                    Ok(job) => batch_jobs.push(job),
                    Err(_) => break,
                }
            }
            // A panic while merging (hostile bytes reaching a bug in a dependency) must not
            // kill the only writer: the batch's callers get a retryable error when their reply
            // channels drop, the cache forgets what was merged but not stored, and the thread
            // goes on with the next batch.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.process(batch_jobs)));
            if outcome.is_err() {
                tracing::error!("a sync batch panicked; nothing from it was stored");
                self.cache = DocCache::new(self.limits.document_cache);
            }
        }
    }

    fn process(&mut self, jobs: Vec<Job>) {
        // A log repair is an admin's rare, long job with its own transaction: it runs alone.
        let (repairs, jobs): (Vec<Job>, Vec<Job>) =
            jobs.into_iter().partition(|j| matches!(j, Job::Repair(_) | Job::KpiRebuild(_)));
        for job in repairs {
            match job {
                Job::Repair(repair) => {
                    let result = self.repair_team_log(&repair.team_id).map_err(RelayError::Storage);
                    let _ = repair.reply.send(result);
                }
                Job::KpiRebuild(rebuild) => {
                    let result = self.rebuild_kpi(&rebuild.team_id).map_err(RelayError::Storage);
                    if result.is_ok() {
                        self.boards.touch(&rebuild.team_id);
                    }
                    let _ = rebuild.reply.send(result);
                }
                _ => {}
            }
        }
        if jobs.is_empty() {
            return;
        }
        let mut batch = Batch::default();
        let mut outcomes = Vec::with_capacity(jobs.len());
        let mut failure = None;
        for job in &jobs {
            let outcome = match job {
                Job::Push(push) => self.check_job(push, &mut batch).map(Outcome::Pushed),
                Job::Decide(decide) => self.decide(decide, &mut batch).map(Outcome::Decided),
                Job::Tick(tick) => self.tick(tick.now, tick.limit, &mut batch).and_then(|mut report| {
                    let pool = self.pool_tick(tick.now, tick.limit, &mut batch)?;
                    report.pool_examined = pool.examined;
                    report.returned_to_pool = pool.returned;
                    report.more |= pool.more;
                    Ok(Outcome::Ticked(report))
                }),
                Job::Transfer(t) => {
                    self.transfer(&t.scope, &t.from, &t.to, &mut batch).map(Outcome::Transferred)
                }
                Job::Brief(b) => self.brief(&b.row, &mut batch).map(Outcome::Briefed),
                Job::Boards(b) => self.write_boards(b, &mut batch).map(Outcome::Boards),
                Job::Rules(r) => self.write_rules(r, &mut batch).map(|()| Outcome::Rules),
                Job::Import(i) => self.write_import(i, &mut batch).map(|()| Outcome::Imported),
                Job::Repair(_) | Job::KpiRebuild(_) => {
                    unreachable!("repairs are taken out of the batch above")
                }
            };
            match outcome {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let result = match failure {
            Some(e) => Err(e),
            None => self
                // Owners and follow-ups first: a merge in this batch decides between the owners
                // by who followed up first, this batch's follow-ups included.
                .own_touched(&mut batch)
                .and_then(|()| self.schedule_touched(&mut batch))
                .and_then(|()| self.resolve_identities(&mut batch))
                .and_then(|()| self.kpi_touched(&mut batch))
                .and_then(|()| self.commit(&batch)),
        };
        match result {
            Ok(()) => {
                self.metrics.set_cached_documents(self.cache.len() as u64);
                self.note_boards_due(&batch);
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    match (job, outcome) {
                        (Job::Push(push), Outcome::Pushed(outcome)) => {
                            let _ = push.reply.send(Ok(outcome));
                        }
                        (Job::Decide(decide), Outcome::Decided(result)) => {
                            let _ = decide.reply.send(result);
                        }
                        (Job::Tick(tick), Outcome::Ticked(report)) => {
                            self.metrics.record_alerts(u64::from(report.raised));
                            let _ = tick.reply.send(Ok(report));
                        }
                        (Job::Transfer(t), Outcome::Transferred(result)) => {
                            let _ = t.reply.send(result);
                        }
                        (Job::Brief(b), Outcome::Briefed(written)) => {
                            let _ = b.reply.send(Ok(written));
                        }
                        (Job::Boards(b), Outcome::Boards(written)) => {
                            let _ = b.reply.send(Ok(written));
                        }
                        (Job::Rules(r), Outcome::Rules) => {
                            let _ = r.reply.send(Ok(()));
                        }
                        (Job::Import(i), Outcome::Imported) => {
                            let _ = i.reply.send(Ok(()));
                        }
                        // Outcomes are pushed in job order, one per job.
                        _ => {}
                    }
                }
            }
            Err(e) => {
                // Nothing was stored: forget the merged states so they reload from storage.
                for id in &batch.touched {
                    self.cache.remove(id);
                }
                tracing::error!(error = %e, "sync batch failed; nothing stored");
                let error = || RelayError::Storage(StorageError::Backend(e.to_string()));
                for job in jobs {
                    match job {
                        Job::Push(push) => {
                            let _ = push.reply.send(Err(error()));
                        }
                        Job::Decide(decide) => {
                            let _ = decide.reply.send(Err(error()));
                        }
                        Job::Tick(tick) => {
                            let _ = tick.reply.send(Err(error()));
                        }
                        Job::Transfer(t) => {
                            let _ = t.reply.send(Err(error()));
                        }
                        Job::Brief(b) => {
                            let _ = b.reply.send(Err(error()));
                        }
                        Job::Boards(b) => {
                            let _ = b.reply.send(Err(error()));
                        }
                        Job::Rules(r) => {
                            let _ = r.reply.send(Err(error()));
                        }
                        Job::Import(i) => {
                            let _ = i.reply.send(Err(error()));
                        }
                        Job::Repair(_) | Job::KpiRebuild(_) => {}
                    }
                }
            }
        }
    }

    /// Writes a team's rules (validated by the caller) as the relay's actor, a change through the
    /// log like a pushed one; the scheduler and the pool hear of it as of a pushed rules change.
    fn write_rules(&mut self, job: &RulesJob, batch: &mut Batch) -> Result<(), StorageError> {
        self.relay_write(&job.rules, &job.team, batch)?;
        batch.note_funnel(job.rules.id, RecordKind::TeamRules, &job.team);
        batch.rules.remove(&job.team);
        Ok(())
    }

    /// Writes imported customers (validated by the caller) as new documents by the relay's
    /// actor. Each goes through identity resolution (a duplicate of a team customer is merged or
    /// queued for review, as a pushed one) and is owned by `owner` (the pool over their limit).
    fn write_import(&mut self, job: &ImportJob, batch: &mut Batch) -> Result<(), StorageError> {
        for customer in &job.customers {
            self.relay_write(customer, &job.team, batch)?;
            batch.customers.push((customer.id, job.team.clone()));
            batch.new_customers.insert(customer.id, job.owner.clone());
        }
        Ok(())
    }

    /// Notes the teams whose KPI rows or rules the committed batch changed: their scoreboards
    /// are due.
    fn note_boards_due(&self, batch: &Batch) {
        let mut teams: HashSet<&str> = batch.kpi_rows.iter().map(|r| r.team_id.as_str()).collect();
        teams.extend(
            batch
                .funnel
                .iter()
                .filter(|(_, kind, _)| *kind == RecordKind::TeamRules)
                .map(|(_, _, t)| t.as_str()),
        );
        for team in teams {
            self.boards.touch(team);
        }
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), StorageError> {
        if batch.entries.is_empty()
            && batch.pairs.is_empty()
            && batch.customer_rows.is_empty()
            && batch.schedule.is_empty()
            && batch.flags.is_empty()
            && batch.owner_writes.is_empty()
            && batch.alerts.is_empty()
        {
            self.cache.trim();
            return Ok(());
        }
        let mut updates = Vec::with_capacity(batch.touched.len());
        for id in &batch.touched {
            // Every touched document is cached: the cache is trimmed only after a batch.
            if let Some(cached) = self.cache.get_mut(id) {
                let snapshot = match cached.saved.take() {
                    Some((heads, saved)) if heads == cached.doc.get_heads() => saved,
                    _ => cached.doc.save(),
                };
                updates.push(DocumentUpdate {
                    doc_id: *id,
                    tenant_id: cached.tenant_id.clone(),
                    team_id: cached.team_id.clone(),
                    kind: cached.kind.as_str().to_owned(),
                    snapshot,
                    sealed: cached.sealed,
                });
            }
        }
        let write = BatchWrite {
            entries: &batch.entries,
            documents: &updates,
            flags: &batch.flags,
            customers: &batch.customer_rows,
            pairs: &batch.pairs,
            conflicts: &batch.conflicts,
            schedule: &batch.schedule,
            alerts: &batch.alerts,
            owners: &batch.owner_writes,
            document_customers: &batch.document_customers,
            kpi_rows: &batch.kpi_rows,
            kpi_slips: &batch.kpi_slips,
        };
        self.storage.commit_batch(write, SystemClock.now_ms())?;
        self.cache.trim();
        self.metrics.record_flags(batch.flags.len() as u64);
        Ok(())
    }

    fn check_job(&mut self, job: &PushJob, batch: &mut Batch) -> Result<PushOutcome, StorageError> {
        let mut outcome = PushOutcome::default();
        let parsed: Vec<Result<Change, String>> = job
            .changes
            .iter()
            .map(|c| {
                if c.bytes.len() > self.limits.max_change_bytes {
                    Err(format!("{} bytes; the limit is {}", c.bytes.len(), self.limits.max_change_bytes))
                } else {
                    // Checksum included: what a phone's reader would refuse is refused here.
                    intake::verify_change(&c.bytes).map_err(|e| e.to_string())
                }
            })
            .collect();
        let hashes: Vec<[u8; 32]> =
            parsed.iter().filter_map(|c| c.as_ref().ok()).map(|c| c.hash().0).collect();
        let known: HashSet<[u8; 32]> = self.storage.known_changes(&hashes)?.into_iter().collect();
        for (index, (pushed, change)) in job.changes.iter().zip(parsed).enumerate() {
            let reject = |code, message: String| Rejection { index: index as u32, code, message };
            let change = match change {
                Ok(change) => change,
                Err(message) if pushed.bytes.len() > self.limits.max_change_bytes => {
                    outcome.rejected.push(reject(RejectCode::TooLarge, message));
                    continue;
                }
                Err(message) => {
                    outcome.rejected.push(reject(RejectCode::MalformedChange, message));
                    continue;
                }
            };
            match self.check_change(job, pushed.doc_id, change, &known, batch) {
                Ok(()) => outcome.accepted += 1,
                Err(Verdict::Reject(code, message)) => outcome.rejected.push(reject(code, message)),
                Err(Verdict::Storage(e)) => return Err(e),
            }
        }
        Ok(outcome)
    }

    fn check_change(
        &mut self,
        job: &PushJob,
        doc_id: DocId,
        change: Change,
        known: &HashSet<[u8; 32]>,
        batch: &mut Batch,
    ) -> Result<(), Verdict> {
        let scope = &job.scope;
        if change.actor_id().to_bytes() != scope.device_id {
            return Err(Verdict::Reject(
                RejectCode::ForeignActor,
                format!("the change was made by actor {}, not by this device", change.actor_id()),
            ));
        }
        let hash = change.hash().0;
        let existing = self.document_meta(doc_id)?;
        if let Some(doc) = &existing
            && (doc.team_id != scope.team_id || doc.tenant_id != scope.tenant_id)
        {
            return Err(Verdict::Reject(
                RejectCode::OutOfScope,
                format!("document {doc_id} is not in this device's team"),
            ));
        }
        if known.contains(&hash) || batch.hashes.contains(&hash) {
            return Ok(()); // idempotent: already stored
        }
        if let Some(doc) = &existing
            && doc.sealed
        {
            return Err(Verdict::Reject(
                RejectCode::Sealed,
                format!("{} {doc_id} is signed and cannot change", doc.kind),
            ));
        }
        let bytes = change.raw_bytes().to_vec();
        let empty = Automerge::new();
        let checked = {
            let base = if existing.is_some() { self.cache.get(&doc_id).map(|d| &d.doc) } else { None };
            // On a copy, under a panic guard: hostile bytes that reach an unwrap inside automerge
            // refuse this change alone, and the batch (other devices, other tenants) goes on.
            intake::check_pushed(base.unwrap_or(&empty), change)
        };
        let Accepted { doc: candidate, facts, saved } = checked.map_err(|refusal| {
            Verdict::Reject(refusal.code, format!("document {doc_id}: {}", refusal.message))
        })?;
        if let Some(doc) = &existing
            && doc.kind != facts.kind
        {
            return Err(Verdict::Reject(
                RejectCode::InvalidDocument,
                format!("document {doc_id} cannot change kind from {} to {}", doc.kind, facts.kind),
            ));
        }
        if facts.kind == RecordKind::Alert {
            return Err(Verdict::Reject(
                RejectCode::OutOfScope,
                "alerts are written by the relay only".into(),
            ));
        }
        if matches!(facts.kind, RecordKind::Scoreboard | RecordKind::TeamTable) {
            return Err(Verdict::Reject(
                RejectCode::OutOfScope,
                format!("{} documents are written by the relay only, from its KPI rows", facts.kind),
            ));
        }
        if facts.kind == RecordKind::Ownership {
            return Err(Verdict::Reject(
                RejectCode::OutOfScope,
                "who owns a customer is decided by the relay only: send a claim".into(),
            ));
        }
        if facts.kind == RecordKind::ClaimRequest {
            let before = if existing.is_some() { self.cache.get(&doc_id).map(|d| &d.doc) } else { None };
            if let Some(why) = ownership::claim_change_refusal(before, &candidate) {
                return Err(Verdict::Reject(RejectCode::OutOfScope, format!("claim {doc_id}: {why}")));
            }
        }
        if facts.kind == RecordKind::Customer
            && existing.is_some()
            && let Some(why) = self.edit_refusal(doc_id, scope, batch).map_err(Verdict::Storage)?
        {
            return Err(Verdict::Reject(RejectCode::OutOfScope, why));
        }
        if facts.kind == RecordKind::TeamRules && scope.role != Role::Admin {
            return Err(Verdict::Reject(RejectCode::OutOfScope, "only admins edit team rules".into()));
        }
        if facts.kind == RecordKind::Activity {
            self.check_activity_references(&candidate, scope)?;
        }
        if facts.kind == RecordKind::ServiceSlip && facts.sealed {
            // This change signed the slip (a sealed slip accepts no later change): check the
            // signature now, while the signer's change is at hand.
            if let Some((code, message)) = Self::slip_doubt(&candidate, scope.device_id) {
                tracing::warn!(%doc_id, code, message, "flagging a signed slip");
                batch.flags.push(DocumentFlag {
                    tenant_id: scope.tenant_id.clone(),
                    team_id: scope.team_id.clone(),
                    doc_id,
                    kind: facts.kind.as_str().to_owned(),
                    code: code.to_owned(),
                    message,
                    device_id: scope.device_id,
                    flagged_at: SystemClock.now_ms(),
                });
            }
        }
        if facts.kind == RecordKind::Customer {
            batch.customers.push((doc_id, scope.team_id.clone()));
        }
        if facts.kind == RecordKind::Customer && existing.is_none() {
            // Its first change comes from the device that created it: its user is the creator.
            batch.new_customers.insert(doc_id, scope.user_id.clone());
        }
        if facts.kind == RecordKind::ClaimRequest && existing.is_none() {
            batch.claims.push((doc_id, scope.clone()));
        }
        if matches!(
            facts.kind,
            RecordKind::Opportunity
                | RecordKind::Visit
                | RecordKind::TeamRules
                | RecordKind::Activity
                | RecordKind::LeadCard
        ) {
            batch.note_funnel(doc_id, facts.kind, &scope.team_id);
        }
        let saved = Some((candidate.get_heads(), saved));
        self.cache.put(
            doc_id,
            CachedDoc {
                doc: candidate,
                tenant_id: scope.tenant_id.clone(),
                team_id: scope.team_id.clone(),
                kind: facts.kind,
                sealed: facts.sealed,
                saved,
            },
        );
        batch.entries.push(LogEntry {
            team_id: scope.team_id.clone(),
            doc_id,
            hash,
            actor: scope.device_id,
            bytes,
        });
        batch.hashes.insert(hash);
        batch.touch(doc_id);
        Ok(())
    }

    /// Why a just-signed slip cannot be trusted, if it cannot: its signature does not verify, or a
    /// device other than the one pushing it signed it. Such slips are stored, so the evidence is not
    /// lost, and flagged for supervisors (DESIGN §7).
    /// An activity may only point at a customer, deal and visit of the pushing device's own team
    /// (ids the relay has not seen yet are the device's to explain later, like a visit's).
    fn check_activity_references(&mut self, doc: &Automerge, scope: &DeviceScope) -> Result<(), Verdict> {
        // `check_pushed` has read the record already; a failure here cannot happen.
        let Ok(activity) = fieldsync_core::model::read_record::<Activity>(doc) else { return Ok(()) };
        let references = [
            (Some(activity.customer_id), RecordKind::Customer, "customer"),
            (activity.opportunity_id, RecordKind::Opportunity, "deal"),
            (activity.visit_id, RecordKind::Visit, "visit"),
        ];
        for (id, kind, what) in references {
            let Some(id) = id else { continue };
            if let Some(meta) = self.document_meta(id)?
                && (meta.team_id != scope.team_id || meta.tenant_id != scope.tenant_id || meta.kind != kind)
            {
                return Err(Verdict::Reject(
                    RejectCode::OutOfScope,
                    format!("the activity's {what} {id} is not a {kind} of this device's team"),
                ));
            }
        }
        Ok(())
    }

    fn slip_doubt(doc: &Automerge, pusher: [u8; 16]) -> Option<(&'static str, String)> {
        let slip: ServiceSlip = match fieldsync_core::model::read_record(doc) {
            Ok(slip) => slip,
            Err(e) => return Some(("slip_signature_invalid", format!("the slip cannot be read: {e}"))),
        };
        if let Err(invalid) = verify_slip(&slip) {
            return Some(("slip_signature_invalid", invalid.to_string()));
        }
        match slip.signed_by {
            Some(signer) if signer.as_bytes() != &pusher => Some((
                "slip_signed_by_other_device",
                format!(
                    "the slip says device {signer} signed it, but device {} pushed the signature",
                    fieldsync_core::DeviceId::from_bytes(pusher)
                ),
            )),
            _ => None,
        }
    }

    /// Applies a supervisor's review decision inside the batch. The outer `Err` is a storage
    /// failure (the batch fails); the inner one is the caller's mistake.
    fn decide(&mut self, job: &DecideJob, batch: &mut Batch) -> Result<Result<(), RelayError>, StorageError> {
        let team = job.scope.team_id.clone();
        for id in [job.a, job.b] {
            let meta = self.document_meta(id).map_err(|v| match v {
                Verdict::Storage(e) => e,
                Verdict::Reject(_, m) => StorageError::Backend(m),
            })?;
            match meta {
                Some(meta) if meta.team_id == team && meta.kind == RecordKind::Customer => {}
                _ => return Ok(Err(RelayError::NoSuchPair(format!("{id} is not a customer of this team")))),
            }
        }
        if job.a == job.b {
            return Ok(Err(RelayError::NoSuchPair("a customer cannot be paired with itself".into())));
        }
        let user = job.scope.user_id.clone();
        let verdict = fieldsync_core::dedup::DedupVerdict {
            score: 1.0,
            decision: fieldsync_core::dedup::Decision::Same,
            reasons: Vec::new(),
        };
        match job.decision {
            ReviewDecision::Merge => {
                self.merge(job.a, job.b, &team, &verdict, identity::DecidedBy::Supervisor(user), batch)?;
            }
            ReviewDecision::NotSame => {
                let (a, b) = if job.a <= job.b { (job.a, job.b) } else { (job.b, job.a) };
                batch.push_pair(DedupPair {
                    team_id: team,
                    a,
                    b,
                    score: 0.0,
                    reasons: "a supervisor said these are different companies".into(),
                    status: PairStatus::NotSame,
                    at: SystemClock.now_ms(),
                    decided_by: Some(user),
                });
            }
        }
        Ok(Ok(()))
    }

    /// Queues a weekly brief's alert row (delivered like alerts), once per key: `false` when a
    /// brief of that team and week was written already.
    fn brief(&mut self, row: &AlertRow, batch: &mut Batch) -> Result<bool, StorageError> {
        if batch.raised_keys.contains(&row.key)
            || !self.storage.raised_keys(std::slice::from_ref(&row.key))?.is_empty()
        {
            return Ok(false);
        }
        batch.raised_keys.insert(row.key.clone());
        batch.alerts.push(row.clone());
        Ok(true)
    }

    /// Who owns a document and what it is, loading it into the cache if needed.
    fn document_meta(&mut self, id: DocId) -> Result<Option<DocMeta>, Verdict> {
        if let Some(doc) = self.cache.get(&id) {
            return Ok(Some(DocMeta::of(doc)));
        }
        let Some(stored) = self.storage.load_document(id).map_err(Verdict::Storage)? else {
            return Ok(None);
        };
        // A damaged stored copy refuses changes to that document alone (retryable, so the
        // device keeps them) until an admin repairs the log; it must not fail the whole batch.
        let doc = match intake::guarded(|| Automerge::load(&stored.snapshot)) {
            Ok(Ok(doc)) => doc,
            Ok(Err(e)) => return Err(Verdict::Reject(RejectCode::MissingDependencies, damaged(id, e))),
            Err(e) => return Err(Verdict::Reject(RejectCode::MissingDependencies, damaged(id, e))),
        };
        let kind = stored.kind.parse().map_err(|_| {
            Verdict::Storage(StorageError::Backend(format!("stored document {id} has kind {}", stored.kind)))
        })?;
        let cached = CachedDoc {
            doc,
            tenant_id: stored.tenant_id,
            team_id: stored.team_id,
            kind,
            sealed: stored.sealed,
            saved: None,
        };
        let meta = DocMeta::of(&cached);
        self.cache.put(id, cached);
        Ok(Some(meta))
    }
}

fn damaged(id: DocId, cause: impl std::fmt::Display) -> String {
    tracing::error!(%id, %cause, "a stored document does not load; run `fieldsync admin repair-log`");
    format!("the relay's copy of document {id} is damaged; it is kept until an admin repairs it")
}

/// A cached document's owner and state, without the document.
struct DocMeta {
    tenant_id: String,
    team_id: String,
    kind: RecordKind,
    sealed: bool,
}

impl DocMeta {
    fn of(doc: &CachedDoc) -> Self {
        DocMeta {
            tenant_id: doc.tenant_id.clone(),
            team_id: doc.team_id.clone(),
            kind: doc.kind,
            sealed: doc.sealed,
        }
    }
}

enum Verdict {
    Reject(RejectCode, String),
    Storage(StorageError),
}
