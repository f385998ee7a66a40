package dev.fieldsync.demo

import java.time.Clock
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import uniffi.fieldsync_ffi.FfiSyncProgress
import uniffi.fieldsync_ffi.FfiSyncReport
import uniffi.fieldsync_ffi.SyncPhase
import uniffi.fieldsync_ffi.SyncProgressListener

/** Where a running sync stands, as the library last reported it. */
data class SyncProgress(
    val phase: SyncPhase,
    /** Items done in this phase. */
    val done: ULong,
    /** Items in this phase, when known (not while pulling). */
    val total: ULong?,
)

/** What the enroll-and-sync screen shows. */
data class SyncState(
    /** The relay this device is enrolled with; `null`: not enrolled (or not yet loaded). */
    val relayUrl: String? = null,
    /** The role the relay gave this device when it enrolled in this session (`rep`, `supervisor`,
     *  `admin`); `null` when it enrolled earlier (the store does not keep the role). */
    val role: String? = null,
    /** Enrolling or syncing. */
    val busy: Boolean = false,
    /** The running sync's progress; `null` when none runs. */
    val progress: SyncProgress? = null,
    /** The last sync that finished, and when (Unix ms). */
    val lastReport: FfiSyncReport? = null,
    val lastSyncedAt: Long? = null,
    /** The last action's failure, until the next action. */
    val problem: Problem? = null,
) {
    val enrolled: Boolean get() = relayUrl != null

    /** The relay refused this device (token revoked, or never enrolled): the screen offers to
     *  enroll again. */
    val mustEnroll: Boolean get() = !enrolled || problem?.kind == ProblemKind.UNAUTHORIZED
}

/**
 * Enrolling this device with the relay, and syncing: the rep's offline work goes up, the team's
 * changes (and a supervisor's alerts) come down. Library errors (no network, a used code, a
 * revoked token) become a [Problem] in the state, never a crash; one sync runs at a time.
 */
class SyncViewModel(
    private val repository: FieldRepository,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
    private val clock: Clock = Clock.systemUTC(),
) {
    private val mutableState = MutableStateFlow(SyncState())

    /** The screen's state. */
    val state: StateFlow<SyncState> = mutableState.asStateFlow()

    private val lock = Any()
    private var running: Job? = null

    /** Called by the library, on its own thread, while a sync runs. */
    private val listener = object : SyncProgressListener {
        override fun onProgress(progress: FfiSyncProgress) {
            mutableState.update { it.copy(progress = SyncProgress(progress.phase, progress.done, progress.total)) }
        }
    }

    /** Reads which relay this device is enrolled with. */
    fun start(): Job = scope.launch {
        when (val url = callLibrary(io) { repository.relayUrl() }) {
            is Outcome.Done -> mutableState.update { it.copy(relayUrl = url.value) }
            is Outcome.Failed -> mutableState.update { it.copy(problem = url.problem) }
        }
    }

    /**
     * Enrolls with the relay at [relayUrl] using an admin's one-time [code]; the library refuses
     * an address that is not http(s) or an empty code (`INVALID_INPUT`), an unknown or used code
     * (`UNAUTHORIZED`), and an unreachable relay (`NETWORK`, retryable).
     */
    fun enroll(relayUrl: String, code: String, deviceName: String): Job = exclusive {
        mutableState.update { it.copy(busy = true, problem = null) }
        when (val enrolled = callLibraryAsync { repository.enroll(relayUrl, code, deviceName) }) {
            is Outcome.Done -> {
                val url = callLibrary(io) { repository.relayUrl() }
                mutableState.update {
                    it.copy(
                        busy = false,
                        relayUrl = (url as? Outcome.Done)?.value ?: relayUrl.trim(),
                        role = enrolled.value.role,
                    )
                }
            }
            is Outcome.Failed -> mutableState.update { it.copy(busy = false, problem = enrolled.problem) }
        }
    }

    /**
     * Syncs now, with live progress. While an enrollment or sync runs, returns that one's job
     * instead of starting another.
     */
    fun syncNow(): Job = exclusive { sync() }

    /** Syncs when this device is enrolled, else does nothing: for a screen's resume. */
    fun syncIfEnrolled(): Job = exclusive {
        val url = callLibrary(io) { repository.relayUrl() }
        if (url is Outcome.Done && url.value != null) {
            mutableState.update { it.copy(relayUrl = url.value) }
            sync()
        }
    }

    private suspend fun sync() {
        mutableState.update { it.copy(busy = true, progress = null, problem = null) }
        val synced = callLibraryAsync { repository.sync(listener) }
        mutableState.update {
            when (synced) {
                is Outcome.Done -> it.copy(busy = false, progress = null, lastReport = synced.value, lastSyncedAt = clock.millis())
                is Outcome.Failed -> it.copy(busy = false, progress = null, problem = explained(synced.problem))
            }
        }
    }

    /** An unauthorized sync says what to do about it. */
    private fun explained(problem: Problem): Problem =
        if (problem.kind == ProblemKind.UNAUTHORIZED) {
            problem.copy(detail = "${problem.detail} — enroll again with a new code from an admin")
        } else {
            problem
        }

    /** Runs [work] unless an enrollment or sync is running, in which case returns that job. */
    private fun exclusive(work: suspend () -> Unit): Job = synchronized(lock) {
        running?.takeIf { it.isActive } ?: scope.launch(start = CoroutineStart.LAZY) { work() }.also {
            running = it
            it.start()
        }
    }
}
