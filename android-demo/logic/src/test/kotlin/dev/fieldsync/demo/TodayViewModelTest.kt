package dev.fieldsync.demo

import java.nio.file.Path
import java.time.LocalTime
import java.time.ZonedDateTime
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

class TodayViewModelTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var phone: TestPhone
    private lateinit var today: TodayViewModel

    @BeforeEach
    fun setUp() {
        phone = TestPhone(dir)
        today = TodayViewModel(phone.repository, phone.scope)
    }

    @AfterEach
    fun tearDown() = phone.close()

    /** Unix ms of a local time today on the phone's calendar. */
    private fun todayAt(time: LocalTime): Long =
        ZonedDateTime.now(phone.zone).with(time).toInstant().toEpochMilli()

    @Test
    fun `planned visits for today are listed by local time with their customer, tomorrow's are not`() = runBlocking {
        val zhengtai = phone.customer("温州正泰电器")
        val jinggong = phone.customer("苏州精工机械")
        today.planVisit(zhengtai.id, todayAt(LocalTime.of(14, 0)), "季度保养").join()
        today.planVisit(jinggong.id, todayAt(LocalTime.of(9, 30))).join()
        today.planVisit(jinggong.id, todayAt(LocalTime.of(10, 0)) + 86_400_000).join()

        val state = today.state.value
        assertNull(state.problem)
        assertFalse(state.busy)
        assertEquals(listOf("苏州精工机械", "温州正泰电器"), state.visits.map { it.customerName })
        assertEquals(listOf(LocalTime.of(9, 30), LocalTime.of(14, 0)), state.visits.map { it.plannedLocal })
        assertEquals("季度保养", state.visits[1].visit.notes)
        assertEquals(0, state.checkedInCount)
        // Two customers and three visits, none sent to a relay yet.
        assertEquals(5uL, state.unsynced)
    }

    @Test
    fun `a customer found by name prefix can be planned for and shows up checked in after a check-in`() = runBlocking {
        phone.customer("Hangzhou Wahaha Group")
        phone.customer("Hangzhou Robam Appliances")
        phone.customer("Ningbo Fotile Kitchen")

        today.searchCustomers("hangzhou r").join()
        val matches = today.state.value.customerMatches
        assertEquals(listOf("Hangzhou Robam Appliances"), matches.map { it.companyName })

        today.planVisit(matches.single().id, todayAt(LocalTime.NOON)).join()
        val visit = today.state.value.visits.single()
        phone.repository.checkIn(visit.visit.id, gpsFix(30.2741, 120.1551))
        today.refresh().join()
        assertEquals(1, today.state.value.checkedInCount)
        assertTrue(today.state.value.visits.single().checkedIn)

        today.searchCustomers("   ").join()
        assertEquals(emptyList(), today.state.value.customerMatches)
    }

    @Test
    fun `planning for a malformed customer id is an input problem on screen and plans nothing`() = runBlocking {
        today.planVisit("not-a-customer-id", todayAt(LocalTime.NOON)).join()
        val state = today.state.value
        assertEquals(ProblemKind.INVALID_INPUT, state.problem?.kind)
        assertTrue(state.problem!!.detail.isNotBlank())
        assertFalse(state.busy)

        today.refresh().join()
        assertEquals(emptyList(), today.state.value.visits)
        assertNull(today.state.value.problem, "the next action clears the problem")
    }
}
