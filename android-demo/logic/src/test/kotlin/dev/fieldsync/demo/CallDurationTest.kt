package dev.fieldsync.demo

import java.time.Instant
import kotlin.test.assertEquals
import org.junit.jupiter.api.Test

/** Which duration a call dialled from the customer screen gets: the call log's, or the time away. */
class CallDurationTest {
    private val dialledAt = Instant.ofEpochMilli(1_790_000_000_000L)
    private val back = dialledAt.plusSeconds(300)
    private val number = "0574-8888 1234"

    private fun logged(number: String, afterDialS: Long, durationS: Long) =
        LoggedCall(number, dialledAt.plusSeconds(afterDialS), durationS)

    @Test
    fun `without the call log permission the duration is the time away`() {
        assertEquals(CallDuration(300, DurationSource.TIME_AWAY), callDuration(number, dialledAt, back, null))
    }

    @Test
    fun `the call log's duration wins when it has the call, whatever the number's notation`() {
        val log = listOf(logged("+8657488881234", 12, 95))
        assertEquals(CallDuration(95, DurationSource.CALL_LOG), callDuration(number, dialledAt, back, log))
        val mobile = listOf(logged("138 1234 5678", 3, 41))
        assertEquals(CallDuration(41, DurationSource.CALL_LOG), callDuration("+86 13812345678", dialledAt, back, mobile))
    }

    @Test
    fun `a redial counts the last call to the number`() {
        val log = listOf(logged(number, 5, 0), logged(number, 60, 180))
        assertEquals(CallDuration(180, DurationSource.CALL_LOG), callDuration(number, dialledAt, back, log))
    }

    @Test
    fun `calls to other numbers, or from before the dialler opened, are not this call`() {
        val log = listOf(
            logged("0574-8888 9999", 10, 77),
            logged(number, -3_600, 600), // an hour earlier
            logged(number, 400, 20), // after the rep came back
        )
        assertEquals(CallDuration(300, DurationSource.TIME_AWAY), callDuration(number, dialledAt, back, log))
        assertEquals(CallDuration(300, DurationSource.TIME_AWAY), callDuration(number, dialledAt, back, emptyList()))
    }

    @Test
    fun `a phone clock set back never gives a negative duration`() {
        assertEquals(CallDuration(0, DurationSource.TIME_AWAY), callDuration(number, dialledAt, dialledAt.minusSeconds(30), null))
    }
}
