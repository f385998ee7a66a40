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
import uniffi.fieldsync_ffi.FfiClaim
import uniffi.fieldsync_ffi.FfiOwnership
import uniffi.fieldsync_ffi.FfiPoolWarning

/** What the customers screen shows: the rep's own (私海), the public pool (公海), what returns soon. */
data class PoolState(
    val busy: Boolean = false,
    /** The rep's customers, by company name. */
    val mine: List<FfiOwnership> = emptyList(),
    /** The pool's first page, by company name. */
    val pool: List<FfiOwnership> = emptyList(),
    /** The rep's customers returning to the pool soon unless followed up, earliest first. */
    val returningSoon: List<FfiPoolWarning> = emptyList(),
    /** The latest claims and releases with the relay's answers (who won a race, and why not). */
    val claims: List<FfiClaim> = emptyList(),
    val problem: Problem? = null,
)

/**
 * The rep's customers and the public pool (docs/ownership.md). Claims and releases are saved
 * offline; the relay decides on the next sync, and [claims] shows its answer. A claim the phone
 * already knows would be refused (another rep owns it, the limit, a cooldown) comes back as a
 * [ProblemKind.CLAIM_REFUSED] problem with nothing saved.
 */
class PoolViewModel(
    private val repository: FieldRepository,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
    private val pageSize: UInt = 50u,
) {
    private val mutableState = MutableStateFlow(PoolState())

    /** The screen's state. */
    val state: StateFlow<PoolState> = mutableState.asStateFlow()

    /** Reloads everything the screen shows. */
    fun refresh(): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        val loaded = callLibrary(io) {
            PoolState(
                mine = repository.myCustomers(),
                pool = repository.poolCustomers(null, pageSize),
                returningSoon = repository.poolWarnings(),
                claims = repository.claims(20u),
            )
        }
        mutableState.update {
            when (loaded) {
                is Outcome.Done -> loaded.value
                is Outcome.Failed -> it.copy(busy = false, problem = loaded.problem)
            }
        }
    }

    /** Claims a pool customer (领取), then reloads. */
    fun claim(customerId: String): Job = request { repository.claimCustomer(customerId) }

    /** Releases one of the rep's customers to the pool (释放), then reloads. */
    fun release(customerId: String): Job = request { repository.releaseCustomer(customerId) }

    private fun request(call: () -> FfiClaim): Job = scope.launch {
        when (val done = callLibrary(io) { call() }) {
            is Outcome.Done -> refresh().join()
            is Outcome.Failed -> mutableState.update { it.copy(problem = done.problem) }
        }
    }
}
