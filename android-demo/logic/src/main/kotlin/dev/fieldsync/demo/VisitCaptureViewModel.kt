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
import uniffi.fieldsync_ffi.FfiFix
import uniffi.fieldsync_ffi.FfiPhoto

/** A photo of the visit with its thumbnail, for the strip under the check-in result. */
class CapturedPhoto(val photo: FfiPhoto, val thumbnailJpeg: ByteArray?) {
    override fun equals(other: Any?) = other is CapturedPhoto && other.photo == photo
    override fun hashCode() = photo.hashCode()
    override fun toString() = "CapturedPhoto(${photo.sha256}, flags=${photo.flags.map { it.code }})"
}

/** The last check-in as the screen reports it. */
data class CheckInReport(
    /** `accept` or `accept_flagged`. */
    val outcome: String,
    /** Distance to the customer's site, metres; `null` when the site has no location. */
    val distanceM: Double?,
    /** On site by the team's rule; `null` when it could not be decided. */
    val onSite: Boolean?,
    /** The fix used. */
    val fix: FfiFix,
)

/** What the visit screen shows. */
data class VisitCaptureState(
    val busy: Boolean = false,
    /** The visit, once loaded. */
    val visit: VisitRow? = null,
    /** The last check-in made on this screen. */
    val lastCheckIn: CheckInReport? = null,
    /** Photos attached to the visit, oldest first. */
    val photos: List<CapturedPhoto> = emptyList(),
    val problem: Problem? = null,
) {
    /** Every flag the checks stored on the visit, as codes (`mock_location`, `off_site`, …). */
    val flagCodes: List<String> get() = visit?.visit?.flags?.map { it.code }.orEmpty()
}

/**
 * Capturing a visit: check in with the phone's fix, take photos. The core applies the team's
 * geofence and the plausibility checks; this shows what they found. A refused check-in (hard
 * geofence, bad fix) and a refused photo (not a JPEG, too large) arrive as [Problem]s.
 */
class VisitCaptureViewModel(
    private val repository: FieldRepository,
    private val location: LocationProvider,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val mutableState = MutableStateFlow(VisitCaptureState())

    /** The screen's state. */
    val state: StateFlow<VisitCaptureState> = mutableState.asStateFlow()

    /** Set by [load] at once, so a photo arriving while the visit loads still finds its visit. */
    private var loadedId: String? = null

    private val visitId: String
        get() = checkNotNull(loadedId) { "call load(visitId) first" }

    /** Loads the visit and the thumbnails of the photos it already has. */
    fun load(visitId: String): Job {
        loadedId = visitId
        return scope.launch {
            mutableState.update { it.copy(busy = true, problem = null) }
            val loaded = callLibrary(io) {
                val row = repository.visitRow(visitId)
                row to row.visit.photos.map { CapturedPhoto(it, thumbnail(it)) }
            }
            mutableState.update {
                when (loaded) {
                    is Outcome.Done -> it.copy(busy = false, visit = loaded.value.first, photos = loaded.value.second)
                    is Outcome.Failed -> it.copy(busy = false, problem = loaded.problem)
                }
            }
        }
    }

    /** Asks the phone for a fix and checks in with it. No fix, no check-in: the rep is told why. */
    fun checkIn(): Job {
        val id = visitId
        return scope.launch { checkIn(id) }
    }

    private suspend fun checkIn(id: String) {
        mutableState.update { it.copy(busy = true, problem = null) }
        val fix = when (val answer = location.currentFix()) {
            is FixResult.Fix -> answer.fix
            is FixResult.Unavailable -> {
                mutableState.update { it.copy(busy = false, problem = Problem(ProblemKind.NO_LOCATION, answer.reason)) }
                return
            }
        }
        val checked = callLibrary(io) {
            val result = repository.checkIn(id, fix)
            result to repository.visitRow(id)
        }
        mutableState.update {
            when (checked) {
                is Outcome.Done -> {
                    val (result, row) = checked.value
                    it.copy(
                        busy = false,
                        visit = row,
                        lastCheckIn = CheckInReport(result.outcome, result.distanceM, result.visit.onSite, fix),
                    )
                }
                is Outcome.Failed -> it.copy(busy = false, problem = checked.problem)
            }
        }
    }

    /**
     * Attaches a photo the camera returned. The phone's current fix goes with it when there is
     * one; without one the core checks the photo against the visit's last fix, or flags it.
     */
    fun attachPhoto(jpeg: ByteArray): Job {
        val id = visitId
        return scope.launch { attachPhoto(id, jpeg) }
    }

    private suspend fun attachPhoto(id: String, jpeg: ByteArray) {
        mutableState.update { it.copy(busy = true, problem = null) }
        val fix = (location.currentFix() as? FixResult.Fix)?.fix
        val attached = callLibrary(io) {
            val photo = repository.attachPhoto(id, jpeg, fix)
            CapturedPhoto(photo, thumbnail(photo)) to repository.visitRow(id)
        }
        mutableState.update {
            when (attached) {
                is Outcome.Done -> it.copy(
                    busy = false,
                    photos = it.photos + attached.value.first,
                    visit = attached.value.second,
                )
                is Outcome.Failed -> it.copy(busy = false, problem = attached.problem)
            }
        }
    }

    private fun thumbnail(photo: FfiPhoto): ByteArray? = photo.thumbnailSha256?.let(repository::blob)
}
