package dev.fieldsync.demo

import java.time.Clock
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import uniffi.fieldsync_ffi.AlertListener
import uniffi.fieldsync_ffi.FfiAlert
import uniffi.fieldsync_ffi.FfiAlertSubscription
import uniffi.fieldsync_ffi.FfiPushRegistration
import uniffi.fieldsync_ffi.FfiStage
import uniffi.fieldsync_ffi.FfiStallKind
import uniffi.fieldsync_ffi.FfiStallLevel

private const val HOUR_MS = 3_600_000L
private const val DAY_MS = 24 * HOUR_MS

/** The stage's name as reps and supervisors see it (the core's `Stage::label_zh`). */
fun FfiStage.labelZh(): String = when (this) {
    FfiStage.FIRST_CONTACT -> "初步接触"
    FfiStage.NEEDS_CONFIRMED -> "需求确认"
    FfiStage.PROPOSAL_SUBMITTED -> "方案提交"
    FfiStage.NEGOTIATION -> "商务谈判"
    FfiStage.CONTRACT_SIGNING -> "合同签订"
    FfiStage.WON -> "赢单"
    FfiStage.LOST -> "丢单"
}

/** One alert as the supervisor's list shows it. */
data class AlertRow(
    val alert: FfiAlert,
    /** Arrived as a push message (not yet, or not only, through sync). */
    val pushed: Boolean,
    /** Whole days from when the rule fell due to now (0 on the day it fell due). */
    val daysSinceDue: Long,
) {
    val title: String get() = alert.title
    val owner: String get() = alert.owner
    val stageLabel: String get() = alert.stage.labelZh()
    val levelLabel: String get() = when (alert.level) {
        FfiStallLevel.REMINDER -> "reminder"
        FfiStallLevel.SUPERVISOR -> "supervisor"
        FfiStallLevel.ESCALATION -> "escalation"
    }
    val rules: List<String> get() = alert.kinds.map {
        when (it) {
            FfiStallKind.NO_ACTIVITY -> "no activity for ${alert.thresholdDays} days"
            FfiStallKind.STAGE_TOO_LONG -> "in the stage over ${alert.thresholdDays} days"
        }
    }

    /** How long before the alert was raised the rep's devices last synced; `null`: never. */
    val repSyncedBeforeRaiseMs: Long? get() = alert.repLastSyncAt?.let { alert.raisedAt - it }

    /** [repSyncedBeforeRaiseMs] for the screen: "never", "under an hour", "23 h", "3 d 4 h". */
    val repLastSync: String get() {
        val ms = repSyncedBeforeRaiseMs ?: return "never"
        return when {
            ms < HOUR_MS -> "under an hour before the alert"
            ms < DAY_MS -> "${ms / HOUR_MS} h before the alert"
            else -> "${ms / DAY_MS} d ${(ms % DAY_MS) / HOUR_MS} h before the alert"
        }
    }
}

/** What the supervisor's alerts screen shows. */
data class AlertsState(
    val busy: Boolean = false,
    /** Newest first; an alert that arrives (by push or by sync) goes to the top. */
    val alerts: List<AlertRow> = emptyList(),
    /** The store's alert subscription is open. */
    val live: Boolean = false,
    /** A sync the screen asked for ([AlertsViewModel.refresh]) is running. */
    val syncing: Boolean = false,
    /** This device's push registration at the relay for its current endpoint; `null`: none
     *  registered in this session, or unregistered. */
    val registration: FfiPushRegistration? = null,
    val problem: Problem? = null,
)

/**
 * A supervisor's alerts: those synced to the store, kept live through the store's alert
 * subscription, and those a push message brings (decrypted and read by the core; a message that
 * is not a valid alert for this device's keys becomes a [Problem], never a crash). Registers the
 * device's UnifiedPush endpoint with the relay (one endpoint per device: older ones are removed)
 * and unregisters it; [refresh] syncs, and the store subscription brings what the sync stored.
 *
 * [close] closes the store subscription (the core stops calling); call it before the repository
 * closes.
 */
class AlertsViewModel(
    private val repository: FieldRepository,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
    private val clock: Clock = Clock.systemUTC(),
    private val limit: UInt = 100u,
) : AutoCloseable {
    private val mutableState = MutableStateFlow(AlertsState())

    /** The screen's state. */
    val state: StateFlow<AlertsState> = mutableState.asStateFlow()

    private val lock = Any()
    private var subscription: FfiAlertSubscription? = null
    private var closed = false

    /** Called by the core on its own thread with the alerts a sync stored. */
    private val listener = object : AlertListener {
        override fun onAlerts(alerts: List<FfiAlert>) = arrived(alerts, pushed = false)
    }

    /** Lists the stored alerts and subscribes to new ones (once). */
    fun start(): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        val subscribed = callLibrary(io) {
            synchronized(lock) {
                if (!closed && subscription == null) subscription = repository.subscribeAlerts(listener)
                subscription != null
            }
        }
        val listed = callLibrary(io) { repository.alerts(limit) }
        mutableState.update { current ->
            val live = (subscribed as? Outcome.Done)?.value ?: false
            when {
                subscribed is Outcome.Failed -> current.copy(busy = false, live = false, problem = subscribed.problem)
                listed is Outcome.Failed -> current.copy(busy = false, live = live, problem = listed.problem)
                else -> {
                    val stored = (listed as Outcome.Done).value.map { row(it, pushed = false) }
                    current.copy(busy = false, live = live, alerts = merge(current.alerts, stored, onTop = false))
                }
            }
        }
    }

    /** A received Web Push body (UnifiedPush `MESSAGE`): decrypted and shown at the top. */
    fun onPushMessage(body: ByteArray): Job = scope.launch {
        when (val decoded = callLibrary(io) { repository.decodeAlertPush(body) }) {
            is Outcome.Done -> arrived(listOf(decoded.value), pushed = true)
            is Outcome.Failed -> mutableState.update { it.copy(problem = decoded.problem) }
        }
    }

    /**
     * The distributor gave this device a new endpoint (UnifiedPush `NEW_ENDPOINT`): registers it
     * with the relay under this device's keys, then removes this device's other registrations
     * there (a phone has one current endpoint; a stale one would go on receiving pushes). A rep's
     * device is `UNAUTHORIZED` (only supervisors receive alerts); a non-https endpoint is
     * `INVALID_INPUT`.
     */
    fun register(endpoint: String): Job = scope.launch {
        // The secret comes from the keystore, so the call starts on the I/O dispatcher.
        val registered = callLibraryAsync { withContext(io) { repository.registerPushEndpoint(endpoint) } }
        if (registered is Outcome.Failed) {
            mutableState.update { it.copy(problem = registered.problem) }
            return@launch
        }
        val current = (registered as Outcome.Done).value
        mutableState.update { it.copy(registration = current, problem = null) }
        val stale = removeRegistrations { it.address != current.address }
        if (stale != null) mutableState.update { it.copy(problem = stale) }
    }

    /**
     * The distributor dropped this app (UnifiedPush `UNREGISTERED`): removes every registration
     * of this device at the relay, so it stops pushing here. One already gone is not a problem.
     */
    fun unregister(): Job = scope.launch {
        val failed = removeRegistrations { true }
        mutableState.update {
            if (failed == null) it.copy(registration = null, problem = null) else it.copy(problem = failed)
        }
    }

    /** Removes this device's registrations at the relay that [which] picks; the first failure. */
    private suspend fun removeRegistrations(which: (FfiPushRegistration) -> Boolean): Problem? {
        val listed = callLibraryAsync { repository.pushRegistrations() }
        if (listed is Outcome.Failed) return listed.problem
        for (registration in (listed as Outcome.Done).value.filter(which)) {
            val removed = callLibraryAsync { repository.unregisterPush(registration.subscriptionId) }
            // Gone already (removed by another screen, or by the relay after the push service
            // dropped it): what was wanted.
            if (removed is Outcome.Failed && removed.problem.kind != ProblemKind.NOT_FOUND) return removed.problem
        }
        return null
    }

    /**
     * Syncs, so the screen shows alerts raised since the last sync (the store subscription
     * delivers them; [start] first). A sync failure is a problem on screen.
     */
    fun refresh(): Job = scope.launch {
        mutableState.update { it.copy(syncing = true, problem = null) }
        val synced = callLibraryAsync { repository.sync(null) }
        mutableState.update {
            when (synced) {
                is Outcome.Done -> it.copy(syncing = false)
                is Outcome.Failed -> it.copy(syncing = false, problem = synced.problem)
            }
        }
    }

    private fun arrived(alerts: List<FfiAlert>, pushed: Boolean) {
        val rows = alerts.map { row(it, pushed) }
        mutableState.update { it.copy(alerts = merge(it.alerts, rows, onTop = true), problem = null) }
    }

    private fun row(alert: FfiAlert, pushed: Boolean) =
        AlertRow(alert, pushed, daysSinceDue = Math.floorDiv(clock.millis() - alert.dueAt, DAY_MS).coerceAtLeast(0))

    /**
     * [incoming] on top of (or, for a listing, under) [current], one row per alert id: an alert
     * already shown keeps its place unless it arrives again on top, and stays marked as pushed.
     */
    private fun merge(current: List<AlertRow>, incoming: List<AlertRow>, onTop: Boolean): List<AlertRow> {
        val wasPushed = current.filter { it.pushed }.map { it.alert.id }.toSet()
        val fresh = incoming.map { if (it.alert.id in wasPushed) it.copy(pushed = true) else it }
        val merged = if (onTop) fresh + current else current + fresh
        return merged.distinctBy { it.alert.id }
    }

    /** Closes the store subscription: no more calls from the core. Closing twice is harmless. */
    override fun close() {
        val open = synchronized(lock) {
            closed = true
            subscription.also { subscription = null }
        } ?: return
        try {
            open.closeSubscription()
        } finally {
            open.close()
        }
        mutableState.update { it.copy(live = false) }
    }
}
