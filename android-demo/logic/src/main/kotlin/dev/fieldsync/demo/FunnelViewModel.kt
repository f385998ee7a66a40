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
import uniffi.fieldsync_ffi.FfiEvidenceKind
import uniffi.fieldsync_ffi.FfiFunnelReport
import uniffi.fieldsync_ffi.FfiDeal
import uniffi.fieldsync_ffi.FfiStage
import uniffi.fieldsync_ffi.FfiStalledDeal

/** What the funnel screen shows for one rep. */
data class FunnelState(
    val busy: Boolean = false,
    /** Deals per stage, the team's and each rep's. */
    val report: FfiFunnelReport? = null,
    /** The rep's deals that need attention now (stall reminders), worst first. */
    val reminders: List<FfiStalledDeal> = emptyList(),
    /** The deal being worked on. */
    val deal: FfiDeal? = null,
    val problem: Problem? = null,
)

/**
 * The funnel: the counts per stage, the rep's stalled deals, and moving a deal between stages
 * with the documents a stage requires (the core refuses a forward move without them, naming
 * what is missing; backward moves are always allowed and recorded).
 */
class FunnelViewModel(
    private val repository: FieldRepository,
    private val owner: String,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val mutableState = MutableStateFlow(FunnelState())

    /** The screen's state. */
    val state: StateFlow<FunnelState> = mutableState.asStateFlow()

    /** Reloads the counts and the rep's reminders. */
    fun refresh(): Job = scope.launch { reload() }

    private suspend fun reload() {
        mutableState.update { it.copy(busy = true) }
        val loaded = callLibrary(io) { repository.funnelReport() to repository.stallReminders(owner) }
        mutableState.update {
            when (loaded) {
                is Outcome.Done -> it.copy(busy = false, report = loaded.value.first, reminders = loaded.value.second)
                is Outcome.Failed -> it.copy(busy = false, problem = loaded.problem)
            }
        }
    }

    /** Shows a deal. */
    fun open(dealId: String): Job = change { repository.deal(dealId) }

    /** Opens a new deal for a customer, owned by this rep. */
    fun newDeal(customerId: String, title: String, stage: FfiStage = FfiStage.FIRST_CONTACT): Job =
        change { repository.createDeal(customerId, owner, title, stage) }

    /** Attaches a document (a quote, a technical document, the signed contract) to the deal. */
    fun attachDocument(kind: FfiEvidenceKind, name: String, bytes: ByteArray): Job =
        change { repository.attachDealDocument(currentDeal(), kind, name, bytes) }

    /** Moves the deal to [to], with an optional note. */
    fun moveTo(to: FfiStage, note: String? = null): Job =
        change { repository.moveStage(currentDeal(), to, note) }

    private fun currentDeal(): String = checkNotNull(state.value.deal) { "open a deal first" }.id

    private fun change(write: () -> FfiDeal): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        when (val changed = callLibrary(io, write)) {
            is Outcome.Done -> {
                mutableState.update { it.copy(deal = changed.value) }
                reload()
            }
            is Outcome.Failed -> mutableState.update { it.copy(busy = false, problem = changed.problem) }
        }
    }
}
