package dev.fieldsync.demo

import java.time.Clock
import java.time.Duration
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import uniffi.fieldsync_ffi.FfiActivitySummary
import uniffi.fieldsync_ffi.FfiPoolWarning

/** What the to-do screen shows. */
data class FollowUpTodoState(
    val busy: Boolean = false,
    /** Next actions due by the end of the look-ahead, earliest first. */
    val due: List<FfiActivitySummary> = emptyList(),
    /** Calls over a day old with nothing written. */
    val callsWithoutSummary: List<FfiActivitySummary> = emptyList(),
    /** The rep's customers that return to the public pool soon unless followed up. */
    val returningToPool: List<FfiPoolWarning> = emptyList(),
    val problem: Problem? = null,
)

/**
 * The rep's follow-up to-do: what is due (today and the next [lookAhead]), unsummarised calls,
 * and customers about to return to the public pool.
 */
class FollowUpTodoViewModel(
    private val repository: FieldRepository,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
    private val clock: Clock = Clock.systemUTC(),
    private val lookAhead: Duration = Duration.ofDays(1),
) {
    private val mutableState = MutableStateFlow(FollowUpTodoState())

    /** The screen's state. */
    val state: StateFlow<FollowUpTodoState> = mutableState.asStateFlow()

    /** Reloads the to-do. */
    fun refresh(): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        val until = clock.instant().plus(lookAhead).toEpochMilli()
        val loaded = callLibrary(io) { repository.followUpTodo(until) }
        mutableState.update {
            when (loaded) {
                is Outcome.Done -> it.copy(
                    busy = false,
                    due = loaded.value.due,
                    callsWithoutSummary = loaded.value.callsWithoutSummary,
                    returningToPool = loaded.value.returningToPool,
                )
                is Outcome.Failed -> it.copy(busy = false, problem = loaded.problem)
            }
        }
    }

    /** Marks a next action done and reloads. */
    fun done(activityId: String): Job = scope.launch {
        when (val done = callLibrary(io) { repository.completeNextAction(activityId) }) {
            is Outcome.Done -> refresh().join()
            is Outcome.Failed -> mutableState.update { it.copy(problem = done.problem) }
        }
    }
}
