package dev.fieldsync.demo

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import uniffi.fieldsync_ffi.FfiCustomerSummary

/** What the "today" screen shows. */
data class TodayState(
    /** A load or save is running. */
    val busy: Boolean = false,
    /** Today's visits by planned time. */
    val visits: List<VisitRow> = emptyList(),
    /** Customers matching the search box, for planning a visit. */
    val customerMatches: List<FfiCustomerSummary> = emptyList(),
    /** Changes waiting for the relay (shown as "n not yet synced"). */
    val unsynced: ULong = 0u,
    /** The last action's failure, until the next action. */
    val problem: Problem? = null,
) {
    /** Visits checked in so far today. */
    val checkedInCount: Int get() = visits.count { it.checkedIn }
}

/**
 * Today's visits: the list, the unsynced count, finding a customer and planning a visit for them.
 *
 * Every action returns its [Job] so a caller (a test, a pull-to-refresh) can wait for it.
 */
class TodayViewModel(
    private val repository: FieldRepository,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val mutableState = MutableStateFlow(TodayState())

    /** The screen's state. */
    val state: StateFlow<TodayState> = mutableState.asStateFlow()

    /** Reloads today's visits and the unsynced count. */
    fun refresh(): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        val loaded = callLibrary(io) { repository.todaysVisits() to repository.outboxLength() }
        mutableState.update {
            when (loaded) {
                is Outcome.Done -> it.copy(busy = false, visits = loaded.value.first, unsynced = loaded.value.second)
                is Outcome.Failed -> it.copy(busy = false, problem = loaded.problem)
            }
        }
    }

    /** Customers whose name starts with what the rep typed; a blank box clears the list. */
    fun searchCustomers(prefix: String): Job = scope.launch {
        if (prefix.isBlank()) {
            mutableState.update { it.copy(customerMatches = emptyList(), problem = null) }
            return@launch
        }
        val found = callLibrary(io) { repository.searchCustomers(prefix.trim()) }
        mutableState.update {
            when (found) {
                is Outcome.Done -> it.copy(customerMatches = found.value, problem = null)
                is Outcome.Failed -> it.copy(problem = found.problem)
            }
        }
    }

    /** Plans a visit to [customerId] at [plannedAt] (Unix ms), then reloads the day. */
    fun planVisit(customerId: String, plannedAt: Long, notes: String = ""): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        when (val planned = callLibrary(io) { repository.planVisit(customerId, plannedAt, notes) }) {
            is Outcome.Done -> refresh().join()
            is Outcome.Failed -> mutableState.update { it.copy(busy = false, problem = planned.problem) }
        }
    }
}
