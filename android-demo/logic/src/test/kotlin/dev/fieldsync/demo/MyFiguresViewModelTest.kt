package dev.fieldsync.demo

import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiNewActivity

/**
 * The 我的业绩 screen: an enrolled rep's week, month and quarter from the phone's own records,
 * and the team's means once the relay's scoreboard is synced.
 */
class MyFiguresViewModelTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `the screen shows the rep's own work this month with no payout until the team has rules`() = runBlocking {
        // A scheduler tick every second: the relay writes the team's scoreboard soon after a sync.
        val env = mapOf("FIELDSYNC_SCHEDULER_INTERVAL_SECS" to "1")
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 0, env = env).use { relay ->
            TestPhone(dir.resolve("rep").also { it.toFile().mkdirs() }).use { phone ->
                val screen = MyFiguresViewModel(phone.repository, phone.scope)
                screen.refresh().join()
                assertEquals(ProblemKind.INVALID_INPUT, screen.state.value.problem?.kind, "not enrolled: no user yet")

                phone.repository.enroll(relay.url, relay.codes.getValue("rep")[0], "rep phone")
                val customer = phone.customer("宁波鑫达精密模具")
                val now = System.currentTimeMillis() - 1_000
                for ((type, summary) in listOf("call" to "问了交期", "payment_follow_up" to "")) {
                    phone.repository.logActivity(
                        FfiNewActivity(
                            activityType = type, customerId = customer.id, opportunityId = null, visitId = null,
                            contact = null, phone = null, at = now, durationS = null, summary = summary,
                            outcome = null, nextAction = null,
                        ),
                    )
                }
                screen.refresh().join()
                val state = screen.state.value
                assertNull(state.problem)
                assertEquals(phone.repository.currentPeriods(), state.periods.map { it.period })
                val shown = state.monthLines.associate { it.metric to it.shown }
                assertEquals("1", shown["payment_follow_ups"])
                assertEquals("0", shown["effective_visits"])
                // The customer and the call are complete, the unsummarised follow-up is not.
                assertEquals("66.66%", shown["data_completeness"])
                assertEquals("behaviour", state.monthLines.first().family)
                assertEquals("the team has no incentive rules", state.monthPayout)
                assertNull(state.teamReps, "no scoreboard before a sync")
                assertNull(state.monthLines.first().teamMean)

                // Synced until the relay's scoreboard of the month arrives: a team of one, whose
                // mean is the rep's own figure, shown offline from then on.
                val deadline = System.currentTimeMillis() + 30_000
                while (screen.state.value.teamReps == null && System.currentTimeMillis() < deadline) {
                    phone.repository.sync(null)
                    screen.refresh().join()
                    if (screen.state.value.teamReps == null) Thread.sleep(500)
                }
                val synced = screen.state.value
                assertEquals(1, synced.teamReps)
                val mean = synced.monthLines.associate { it.metric to it.teamMean }
                assertEquals("1", mean["payment_follow_ups"])
                assertEquals("66.66%", mean["data_completeness"])
            }
        }
    }

    @Test
    fun `values read as reps read them`() {
        assertEquals("¥3,636.00", MyFiguresViewModel.yuan(363_600))
        assertEquals("66.66%", MyFiguresViewModel.shown("basis_points", 6_666))
        assertEquals("-12.50%", MyFiguresViewModel.shown("basis_points", -1_250))
        assertEquals("0.111", MyFiguresViewModel.shown("milli", 111))
        assertEquals("44", MyFiguresViewModel.shown("count", 44))
    }
}
