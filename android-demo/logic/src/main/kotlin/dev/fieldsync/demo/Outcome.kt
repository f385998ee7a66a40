package dev.fieldsync.demo

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.withContext
import kotlin.coroutines.cancellation.CancellationException

/** A library call's result as a value: what the view models branch on instead of catching. */
sealed interface Outcome<out T> {
    /** The call succeeded. */
    data class Done<T>(val value: T) : Outcome<T>

    /** The library refused or failed, for a reason the screen shows. */
    data class Failed(val problem: Problem) : Outcome<Nothing>
}

/**
 * Runs a blocking library call on [io] (the bindings are synchronous; the UI thread must not wait
 * on SQLite or JPEG decoding) and turns the library's errors into [Outcome.Failed]. Anything else
 * is an app bug and propagates; cancellation stays cancellation.
 */
suspend fun <T> callLibrary(io: CoroutineDispatcher, call: () -> T): Outcome<T> =
    callLibraryAsync { withContext(io) { call() } }

/**
 * Awaits a suspending library call (enroll, sync, the relay's push calls): those run on the
 * library's own runtime, so no dispatcher is needed and the caller's thread is never blocked. The
 * library's errors become [Outcome.Failed] as in [callLibrary]; anything else propagates, and
 * cancellation stays cancellation.
 */
suspend fun <T> callLibraryAsync(call: suspend () -> T): Outcome<T> =
    try {
        Outcome.Done(call())
    } catch (cancelled: CancellationException) {
        throw cancelled
    } catch (error: Exception) {
        Outcome.Failed(Problem.of(error) ?: throw error)
    }
