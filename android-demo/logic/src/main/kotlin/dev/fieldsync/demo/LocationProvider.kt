package dev.fieldsync.demo

import uniffi.fieldsync_ffi.FfiFix

/** What the phone's location service answered. */
sealed interface FixResult {
    /** A fix, with its accuracy and whether the OS marked it as mocked. */
    data class Fix(val fix: FfiFix) : FixResult

    /** No fix, and why in words the rep can act on ("location is off", "no permission"). */
    data class Unavailable(val reason: String) : FixResult
}

/**
 * The phone's location service, as the capture screens need it: one current fix. The Android app
 * implements it over LocationManager; tests supply fixes of their own.
 */
fun interface LocationProvider {
    /** A current fix, waiting for one if the service needs to (the caller can cancel). */
    suspend fun currentFix(): FixResult
}
