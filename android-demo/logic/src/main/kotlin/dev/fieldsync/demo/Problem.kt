package dev.fieldsync.demo

import uniffi.fieldsync_ffi.FfiException
import uniffi.fieldsync_ffi.InternalException

/** The kinds of trouble a screen shows differently; the core's five plus what the phone adds. */
enum class ProblemKind {
    /** Something the rep entered or the phone supplied is not acceptable; they can fix it. */
    INVALID_INPUT,

    /** The team's hard geofence refused the check-in or photo: the rep is too far from the
     *  customer's site (the distances are in [Problem.detail]); move closer or wait for a fix. */
    OFF_SITE,

    /** A claim or release the phone knows the relay would refuse (another rep owns the customer,
     *  the rep's limit, a cooldown), or an edit of a customer the rep does not own; the code is in
     *  [Problem.code]. */
    CLAIM_REFUSED,

    /** The record is gone (deleted, merged, or an id from elsewhere). */
    NOT_FOUND,

    /** The slip is signed; it can no longer change. */
    SEALED,

    /** The store cannot be used: closed, open in another process, or from a newer app. */
    STORE_UNAVAILABLE,

    /** Stored data is damaged or the disk failed. */
    STORAGE,

    /** The relay could not be reached or failed; [Problem.retryable] says whether to try again. */
    NETWORK,

    /** The relay refused this device (token revoked or wrong); enroll again. */
    UNAUTHORIZED,

    /** The phone has no location fix (location off, no permission, no signal). */
    NO_LOCATION,

    /** A bug in the library, caught at the boundary (a Rust panic arrives as this), or a platform
     *  service of the app's that failed inside a library call. */
    INTERNAL,
}

/**
 * What went wrong, for a screen to show: a kind it can branch on and a sentence for the rep.
 * [retryAfterSecs] is how long the relay asked this phone to wait (a rate limit), 0 when it did
 * not: the next automatic sync is scheduled no earlier.
 */
data class Problem(
    val kind: ProblemKind,
    val detail: String,
    val retryable: Boolean = false,
    val retryAfterSecs: Long = 0,
    /** For [ProblemKind.CLAIM_REFUSED]: `owned_by_other`, `limit_reached`, `cooldown`, … */
    val code: String? = null,
) {
    companion object {
        /**
         * The one place core errors become UI state. Returns `null` for anything that is not an
         * error from the library: those are bugs in the app and should not be dressed up as UI.
         */
        fun of(error: Throwable): Problem? = when (error) {
            // Exhaustive over the sealed FfiException: a variant added to the FFI fails this build
            // instead of falling through as an unexplained crash.
            is FfiException -> when (error) {
                is FfiException.InvalidInput -> Problem(ProblemKind.INVALID_INPUT, error.detail)
                is FfiException.OffSite -> Problem(ProblemKind.OFF_SITE, error.detail)
                is FfiException.ClaimRefused -> Problem(ProblemKind.CLAIM_REFUSED, error.detail, code = error.code)
                is FfiException.NotFound -> Problem(ProblemKind.NOT_FOUND, error.detail)
                is FfiException.Sealed -> Problem(ProblemKind.SEALED, error.detail)
                is FfiException.StoreUnavailable -> Problem(ProblemKind.STORE_UNAVAILABLE, error.detail)
                is FfiException.Storage -> Problem(ProblemKind.STORAGE, error.detail)
                is FfiException.Network ->
                    Problem(ProblemKind.NETWORK, error.detail, error.retryable, error.retryAfterSecs.toLong())
                is FfiException.Unauthorized -> Problem(ProblemKind.UNAUTHORIZED, error.detail)
                is FfiException.Internal -> Problem(ProblemKind.INTERNAL, error.detail)
            }
            is InternalException -> Problem(ProblemKind.INTERNAL, error.message ?: "internal error in fieldsync")
            else -> null
        }
    }
}
