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
import uniffi.fieldsync_ffi.FfiSlip
import uniffi.fieldsync_ffi.FfiSlipItem
import uniffi.fieldsync_ffi.FfiStrokePoint

/** The rendered signature of a signed slip (PNG from the core), compared by its hash. */
class SignatureImage(val sha256: String, val png: ByteArray) {
    override fun equals(other: Any?) = other is SignatureImage && other.sha256 == sha256
    override fun hashCode() = sha256.hashCode()
    override fun toString() = "SignatureImage($sha256, ${png.size} bytes)"
}

/** What the slip screen shows. */
data class SignSlipState(
    val busy: Boolean = false,
    /** The slip, once opened; signed once [FfiSlip.signedAt] is set. */
    val slip: FfiSlip? = null,
    /** The pad's strokes so far, each a list of samples; the pad view draws these. */
    val strokes: List<List<FfiStrokePoint>> = emptyList(),
    /** The core's rendering of the stored signature, once signed. */
    val signature: SignatureImage? = null,
    val problem: Problem? = null,
) {
    /** Signed and the signature verifies against the slip's content. */
    val signedAndVerified: Boolean get() = slip?.signedAt != null && slip.verificationProblem == null
}

/**
 * The customer signs a service slip on the phone: open the slip, collect pen samples from the
 * signature pad (x, y, time since the first sample, pressure), then seal it with the signer's name
 * and the phone's fix. The core validates the strokes, renders the PNG and signs the slip with the
 * device key; a signed slip refuses changes ([ProblemKind.SEALED]).
 */
class SignSlipViewModel(
    private val repository: FieldRepository,
    private val location: LocationProvider,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val mutableState = MutableStateFlow(SignSlipState())

    /** The screen's state. */
    val state: StateFlow<SignSlipState> = mutableState.asStateFlow()

    /** Uptime of the first sample on the pad; times sent to the core count from it. */
    private var firstSampleAtMs: Long? = null

    /** Opens a new slip for a visit with what was delivered or serviced. */
    fun open(visitId: String, items: List<FfiSlipItem>, notes: String = ""): Job =
        show { repository.openSlip(visitId, items, notes) }

    /** Shows an existing slip (signed or not). */
    fun load(slipId: String): Job = show { repository.slip(slipId) }

    private fun show(read: () -> FfiSlip): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        val shown = callLibrary(io) { read().let { it to signatureOf(it) } }
        mutableState.update {
            when (shown) {
                is Outcome.Done -> it.copy(busy = false, slip = shown.value.first, signature = shown.value.second)
                is Outcome.Failed -> it.copy(busy = false, problem = shown.problem)
            }
        }
    }

    /** The pen touched the pad at ([x], [y]) at uptime [atMs]; starts a stroke. */
    fun penDown(x: Float, y: Float, pressure: Float, atMs: Long) {
        val point = sample(x, y, pressure, atMs)
        mutableState.update { it.copy(strokes = it.strokes + listOf(listOf(point))) }
    }

    /** The pen moved while touching; extends the current stroke. */
    fun penMove(x: Float, y: Float, pressure: Float, atMs: Long) {
        if (state.value.strokes.isEmpty()) return penDown(x, y, pressure, atMs)
        val point = sample(x, y, pressure, atMs)
        mutableState.update { it.copy(strokes = it.strokes.dropLast(1) + listOf(it.strokes.last() + point)) }
    }

    /** Wipes the pad (before signing; a signed slip keeps its signature). */
    fun clearPad() {
        firstSampleAtMs = null
        mutableState.update { it.copy(strokes = emptyList()) }
    }

    private fun sample(x: Float, y: Float, pressure: Float, atMs: Long): FfiStrokePoint {
        val first = firstSampleAtMs ?: atMs.also { firstSampleAtMs = it }
        // The core wants milliseconds since the first sample; an event stamped earlier (a
        // reordered batch) counts as the same instant rather than wrapping around.
        val since = (atMs - first).coerceIn(0, UInt.MAX_VALUE.toLong()).toUInt()
        return FfiStrokePoint(x = x, y = y, tMs = since, pressure = pressure)
    }

    /**
     * Seals the slip with the pad's strokes on a [padWidth] × [padHeight] pad. The core refuses an
     * empty pad, a blank name, strokes outside the pad, or a slip already signed.
     */
    fun sign(signerName: String, padWidth: Float, padHeight: Float): Job = scope.launch {
        val slip = checkNotNull(state.value.slip) { "open or load a slip first" }
        val strokes = state.value.strokes
        mutableState.update { it.copy(busy = true, problem = null) }
        // A signature without a fix is still a signature; the fix is extra evidence.
        val fix = (location.currentFix() as? FixResult.Fix)?.fix
        val signed = callLibrary(io) {
            repository.signSlip(slip.id, signerName, padWidth, padHeight, strokes, fix).let { it to signatureOf(it) }
        }
        mutableState.update {
            when (signed) {
                is Outcome.Done -> it.copy(busy = false, slip = signed.value.first, signature = signed.value.second)
                is Outcome.Failed -> it.copy(busy = false, problem = signed.problem)
            }
        }
    }

    private fun signatureOf(slip: FfiSlip): SignatureImage? =
        slip.signaturePngSha256?.let { SignatureImage(it, repository.blob(it)) }
}
