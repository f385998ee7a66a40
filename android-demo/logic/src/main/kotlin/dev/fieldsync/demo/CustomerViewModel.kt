package dev.fieldsync.demo

import java.time.Clock
import java.time.Instant
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
import uniffi.fieldsync_ffi.FfiActivity
import uniffi.fieldsync_ffi.FfiCustomer
import uniffi.fieldsync_ffi.FfiNewActivity
import uniffi.fieldsync_ffi.FfiNextAction
import uniffi.fieldsync_ffi.FfiTimelineEntry

/** A call the rep started from the app and has not summarised yet. */
data class PendingCall(val activity: FfiActivity, val dialledAt: Instant)

/** What the customer screen shows. */
data class CustomerState(
    val busy: Boolean = false,
    val customer: FfiCustomer? = null,
    /** Visits, follow-ups, deals and cards, newest first, as far as loaded. */
    val timeline: List<FfiTimelineEntry> = emptyList(),
    /** More (older) entries can be loaded. */
    val moreTimeline: Boolean = false,
    /** The call to ask the summary for when the rep comes back from the dialler. */
    val pendingCall: PendingCall? = null,
    val problem: Problem? = null,
)

/**
 * One customer: the timeline, one-tap calls (saved before the dialler opens; the summary is asked
 * for when the rep comes back, with the call log's duration where [callLog] can read it, else the
 * time away), and logging other follow-ups.
 */
class CustomerViewModel(
    private val repository: FieldRepository,
    private val customerId: String,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
    private val clock: Clock = Clock.systemUTC(),
    private val pageSize: UInt = 30u,
    private val callLog: CallLogReader? = null,
) {
    private val mutableState = MutableStateFlow(CustomerState())
    private var cursor: Pair<Long, String>? = null

    /** The screen's state. */
    val state: StateFlow<CustomerState> = mutableState.asStateFlow()

    /** Loads the customer and the newest page of the timeline. */
    fun refresh(): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        val loaded = callLibrary(io) {
            repository.customer(customerId) to repository.customerTimeline(customerId, null, null, pageSize)
        }
        mutableState.update { state ->
            when (loaded) {
                is Outcome.Done -> {
                    val page = loaded.value.second
                    cursor = page.nextBeforeAt?.let { at -> page.nextBeforeId?.let { at to it } }
                    state.copy(
                        busy = false,
                        customer = loaded.value.first,
                        timeline = page.entries,
                        moreTimeline = cursor != null,
                    )
                }
                is Outcome.Failed -> state.copy(busy = false, problem = loaded.problem)
            }
        }
    }

    /** Appends the next (older) page of the timeline. */
    fun loadMore(): Job = scope.launch {
        val from = cursor ?: return@launch
        when (val page = callLibrary(io) { repository.customerTimeline(customerId, from.first, from.second, pageSize) }) {
            is Outcome.Done -> {
                cursor = page.value.nextBeforeAt?.let { at -> page.value.nextBeforeId?.let { at to it } }
                mutableState.update { it.copy(timeline = it.timeline + page.value.entries, moreTimeline = cursor != null) }
            }
            is Outcome.Failed -> mutableState.update { it.copy(problem = page.problem) }
        }
    }

    /**
     * Records a call to [phone] now; the screen then opens the dialler. Returns the job; the
     * state's [CustomerState.pendingCall] is set when it is saved.
     */
    fun startCall(phone: String): Job = scope.launch {
        mutableState.update { it.copy(problem = null) }
        when (val call = callLibrary(io) { repository.startCall(customerId, phone) }) {
            is Outcome.Done -> mutableState.update { it.copy(pendingCall = PendingCall(call.value, clock.instant())) }
            is Outcome.Failed -> mutableState.update { it.copy(problem = call.problem) }
        }
    }

    /**
     * The duration to suggest for the pending call, now: the call log's where it is readable and
     * has the call, else the time away ([callDuration]). Null with no pending call.
     */
    suspend fun suggestedDuration(): CallDuration? {
        val pending = state.value.pendingCall ?: return null
        val log = callLog?.let { reader ->
            withContext(io) { reader.outgoingCallsSince(pending.dialledAt.minus(CALL_LOG_SLACK)) }
        }
        return callDuration(pending.activity.phone.orEmpty(), pending.dialledAt, clock.instant(), log)
    }

    /** Completes the pending call with what was said and, optionally, what comes next. */
    fun finishCall(
        summary: String,
        outcome: String?,
        durationS: Long?,
        nextWhat: String? = null,
        nextDueAt: Long? = null,
    ): Job = scope.launch {
        val pending = state.value.pendingCall ?: return@launch
        val next = nextWhat?.takeIf { it.isNotBlank() }?.let { what ->
            FfiNextAction(what = what, dueAt = nextDueAt ?: clock.millis(), doneAt = null)
        }
        when (val done = callLibrary(io) { repository.finishCall(pending.activity.id, durationS, outcome, summary, next) }) {
            is Outcome.Done -> {
                mutableState.update { it.copy(pendingCall = null) }
                refresh().join()
            }
            is Outcome.Failed -> mutableState.update { it.copy(problem = done.problem) }
        }
    }

    /** Logs another follow-up (`message`, `sample_sent`, `quote_sent`, …) happening now. */
    fun logFollowUp(type: String, summary: String, nextWhat: String? = null, nextDueAt: Long? = null): Job =
        scope.launch {
            val now = clock.millis()
            val activity = FfiNewActivity(
                activityType = type,
                customerId = customerId,
                opportunityId = null,
                visitId = null,
                contact = null,
                phone = null,
                at = now,
                durationS = null,
                summary = summary,
                outcome = null,
                nextAction = nextWhat?.takeIf { it.isNotBlank() }?.let { FfiNextAction(it, nextDueAt ?: now, null) },
            )
            when (val logged = callLibrary(io) { repository.logActivity(activity) }) {
                is Outcome.Done -> refresh().join()
                is Outcome.Failed -> mutableState.update { it.copy(problem = logged.problem) }
            }
        }
}
