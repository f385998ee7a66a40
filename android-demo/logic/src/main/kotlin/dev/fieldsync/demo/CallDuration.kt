package dev.fieldsync.demo

import java.time.Duration
import java.time.Instant

/** One outgoing call in the phone's call log. */
data class LoggedCall(val number: String, val startedAt: Instant, val durationS: Long)

/** Where a call's duration came from. */
enum class DurationSource {
    /** The phone's call log recorded the call. */
    CALL_LOG,

    /** The time between opening the dialler and coming back to the app. */
    TIME_AWAY,
}

/** A call's duration, seconds, and where it came from (the screen says which). */
data class CallDuration(val seconds: Long, val source: DurationSource)

/**
 * The phone's call log as the customer screen needs it: the outgoing calls started since a
 * moment, or null when it cannot be read (READ_CALL_LOG not granted). The app's is
 * `AndroidCallLog`.
 */
fun interface CallLogReader {
    fun outgoingCallsSince(since: Instant): List<LoggedCall>?
}

/**
 * How long before the dialler opened a logged call may start and still be this call: the phone's
 * call log and the app read the same clock, but not at the same instant.
 */
val CALL_LOG_SLACK: Duration = Duration.ofSeconds(5)

/**
 * The duration of the call to [dialled] handed to the dialler at [dialledAt], when the rep is back
 * at [returnedAt]: the call log's duration when [log] is readable and holds an outgoing call to
 * that number started between the two (the last one, when the rep dialled again), else the time
 * away. Numbers compare by their last 11 digits, so `+86`, spaces and dashes do not matter.
 */
fun callDuration(dialled: String, dialledAt: Instant, returnedAt: Instant, log: List<LoggedCall>?): CallDuration {
    val wanted = numberKey(dialled)
    val logged = log.orEmpty()
        .filter { wanted.isNotEmpty() && numberKey(it.number) == wanted }
        .filter { !it.startedAt.isBefore(dialledAt.minus(CALL_LOG_SLACK)) && !it.startedAt.isAfter(returnedAt) }
        .maxByOrNull { it.startedAt }
    if (logged != null) return CallDuration(logged.durationS.coerceAtLeast(0), DurationSource.CALL_LOG)
    return CallDuration(Duration.between(dialledAt, returnedAt).seconds.coerceAtLeast(0), DurationSource.TIME_AWAY)
}

private fun numberKey(number: String): String = number.filter { it.isDigit() }.takeLast(11)
