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
import uniffi.fieldsync_ffi.FfiCreateMode
import uniffi.fieldsync_ffi.FfiCreateOutcome
import uniffi.fieldsync_ffi.FfiCustomer
import uniffi.fieldsync_ffi.FfiDuplicateCandidate
import uniffi.fieldsync_ffi.FfiLead
import uniffi.fieldsync_ffi.FfiLeadCard
import uniffi.fieldsync_ffi.FfiLeadScan
import uniffi.fieldsync_ffi.FfiNewCustomer

/** What the scan-a-lead screen shows. */
data class ScanLeadState(
    val busy: Boolean = false,
    /** The trade show or event the rep is at; saved with every lead card. */
    val sourceEvent: String? = null,
    /** The last code scanned, parsed, with the customers it may duplicate (nothing saved yet). */
    val scan: FfiLeadScan? = null,
    /**
     * Customers that stopped "save as a new customer": the core saved nothing because these
     * look like the same company. The rep links the lead to one, or saves anyway.
     */
    val blockingDuplicates: List<FfiDuplicateCandidate> = emptyList(),
    /** The customer created from the lead, if the rep chose that. */
    val createdCustomer: FfiCustomer? = null,
    /** The lead card as saved; the flow is over. */
    val saved: FfiLeadCard? = null,
    val problem: Problem? = null,
) {
    /** Candidates worth a warning before saving (the core's warning bar). */
    val duplicateWarning: List<FfiDuplicateCandidate>
        get() = scan?.candidates?.filter { it.warning }.orEmpty()
}

/**
 * Scanning a business card's QR code at a trade show: the text from a scanner app, or a photo
 * the core finds the code in. The core parses it (vCard, MECARD, WeChat links, …) and finds the
 * customers it may duplicate; the rep then links it to one of them, creates a new customer from
 * it (the core's duplicate check runs again and can stop it), or keeps it as a bare lead.
 */
class ScanLeadViewModel(
    private val repository: FieldRepository,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val mutableState = MutableStateFlow(ScanLeadState())

    /** The screen's state. */
    val state: StateFlow<ScanLeadState> = mutableState.asStateFlow()

    /** Sets the event saved with the leads (blank clears it). */
    fun atEvent(name: String) {
        mutableState.update { it.copy(sourceEvent = name.trim().ifEmpty { null }) }
    }

    /** A scanner app read this text from a QR code. */
    fun scanText(text: String): Job = scan { repository.scanLeadText(text) }

    /** The camera took a photo of a QR code (JPEG or PNG bytes). */
    fun scanPhoto(image: ByteArray): Job = scan { repository.scanLeadImage(image) }

    private fun scan(read: () -> FfiLeadScan): Job = scope.launch {
        mutableState.update {
            ScanLeadState(busy = true, sourceEvent = it.sourceEvent) // a new scan starts over
        }
        val scanned = callLibrary(io, read)
        mutableState.update {
            when (scanned) {
                is Outcome.Done -> it.copy(busy = false, scan = scanned.value)
                is Outcome.Failed -> it.copy(busy = false, problem = scanned.problem)
            }
        }
    }

    /** Saves the lead linked to an existing customer (one of the candidates, usually). */
    fun linkTo(customerId: String): Job = save { lead, event -> repository.saveLeadCard(lead, event, customerId) }

    /** Keeps the lead as a lead card without a customer. */
    fun keepAsLead(): Job = save { lead, event -> repository.saveLeadCard(lead, event, null) }

    private fun save(write: (FfiLead, String?) -> FfiLeadCard): Job = scope.launch {
        val scan = checkNotNull(state.value.scan) { "scan a code first" }
        val event = state.value.sourceEvent
        mutableState.update { it.copy(busy = true, problem = null) }
        val saved = callLibrary(io) { write(scan.lead, event) }
        mutableState.update {
            when (saved) {
                is Outcome.Done -> it.copy(busy = false, saved = saved.value, blockingDuplicates = emptyList())
                is Outcome.Failed -> it.copy(busy = false, problem = saved.problem)
            }
        }
    }

    /**
     * Creates a customer from the lead (company name, else the person's name; phones; address)
     * and saves the lead linked to it. Unless [anyway], the core's duplicate check may refuse;
     * then nothing is saved and [ScanLeadState.blockingDuplicates] lists why.
     */
    fun createCustomer(anyway: Boolean = false): Job = scope.launch {
        val scan = checkNotNull(state.value.scan) { "scan a code first" }
        val event = state.value.sourceEvent
        val lead = scan.lead
        val customer = FfiNewCustomer(
            companyName = lead.company ?: lead.name.orEmpty(),
            phones = lead.phones,
            address = lead.address,
            tags = listOfNotNull(event),
        )
        val mode = if (anyway) FfiCreateMode.CREATE_ANYWAY else FfiCreateMode.WARN_IF_DUPLICATES
        mutableState.update { it.copy(busy = true, problem = null) }
        val created = callLibrary(io) {
            when (val outcome = repository.createCustomerChecked(customer, mode)) {
                is FfiCreateOutcome.Created ->
                    NewCustomerResult.Created(outcome.customer, repository.saveLeadCard(lead, event, outcome.customer.id))
                is FfiCreateOutcome.Duplicates -> NewCustomerResult.Blocked(outcome.candidates)
            }
        }
        mutableState.update {
            when (created) {
                is Outcome.Failed -> it.copy(busy = false, problem = created.problem)
                is Outcome.Done -> when (val result = created.value) {
                    is NewCustomerResult.Created -> it.copy(
                        busy = false,
                        createdCustomer = result.customer,
                        saved = result.card,
                        blockingDuplicates = emptyList(),
                    )
                    is NewCustomerResult.Blocked -> it.copy(busy = false, blockingDuplicates = result.candidates)
                }
            }
        }
    }

    private sealed interface NewCustomerResult {
        class Created(val customer: FfiCustomer, val card: FfiLeadCard) : NewCustomerResult
        class Blocked(val candidates: List<FfiDuplicateCandidate>) : NewCustomerResult
    }
}
