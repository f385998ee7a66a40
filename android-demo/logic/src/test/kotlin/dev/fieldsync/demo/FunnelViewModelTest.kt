package dev.fieldsync.demo

import java.nio.file.Path
import java.util.concurrent.atomic.AtomicLong
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiEvidenceKind
import uniffi.fieldsync_ffi.FfiNewCustomer
import uniffi.fieldsync_ffi.FfiStage
import uniffi.fieldsync_ffi.FfiUptime
import uniffi.fieldsync_ffi.PhoneClock

class FunnelViewModelTest {
    @TempDir
    lateinit var dir: Path

    /** The phone's clock as a foreign trait the core calls: days pass when the test says. */
    private class MovableClock(start: Long) : PhoneClock {
        val now = AtomicLong(start)
        override fun nowMs(): Long = now.get()
        override fun uptime(): FfiUptime? = null
    }

    private val day = 86_400_000L
    private val clock = MovableClock(1_790_000_000_000)
    private lateinit var repository: FieldRepository
    private lateinit var scope: CoroutineScope
    private lateinit var funnel: FunnelViewModel
    private lateinit var customerId: String

    @BeforeEach
    fun setUp() {
        repository = FieldRepository.openWithClock(dir.resolve("phone.fieldsync").toString(), clock)
        scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        funnel = FunnelViewModel(repository, owner = "wang.jianguo", scope = scope)
        customerId = repository.createCustomer(
            FfiNewCustomer(companyName = "苏州精工机械", phones = emptyList(), address = null, tags = emptyList()),
        ).id
    }

    @AfterEach
    fun tearDown() {
        scope.cancel()
        repository.close()
    }

    private fun count(stage: FfiStage) = funnel.state.value.report!!.team.singleOrNull { it.stage == stage }?.deals ?: 0uL

    @Test
    fun `a deal moves forward only with the stage's document, backward freely, and the counts follow`() = runBlocking {
        funnel.newDeal(customerId, "两台数控车床").join()
        val deal = assertNotNull(funnel.state.value.deal, "${funnel.state.value.problem}")
        assertEquals(FfiStage.FIRST_CONTACT, deal.stage)
        assertEquals(1uL, count(FfiStage.FIRST_CONTACT))

        funnel.moveTo(FfiStage.NEEDS_CONFIRMED).join()
        val refused = funnel.state.value
        assertEquals(ProblemKind.INVALID_INPUT, refused.problem?.kind)
        assertTrue(refused.problem!!.detail.isNotBlank())
        assertEquals(FfiStage.FIRST_CONTACT, refused.deal!!.stage)

        clock.now.addAndGet(day)
        funnel.attachDocument(FfiEvidenceKind.TECHNICAL_DOCUMENT, "参数表.jpg", Fixtures.exif("gps_DSCN0010.jpg")).join()
        assertEquals(listOf("参数表.jpg"), funnel.state.value.deal!!.documents.map { it.name })
        funnel.moveTo(FfiStage.NEEDS_CONFIRMED, "客户确认需求").join()
        val moved = funnel.state.value
        assertNull(moved.problem)
        assertEquals(FfiStage.NEEDS_CONFIRMED, moved.deal!!.stage)
        assertEquals("客户确认需求", moved.deal!!.history.last().note)
        assertEquals(clock.now.get(), moved.deal!!.stageEnteredAt, "the core's clock is the phone's")
        assertEquals(1uL, count(FfiStage.NEEDS_CONFIRMED))
        assertEquals(0uL, count(FfiStage.FIRST_CONTACT))

        funnel.moveTo(FfiStage.FIRST_CONTACT, "对接人换了").join()
        assertNull(funnel.state.value.problem)
        assertEquals(FfiStage.FIRST_CONTACT, funnel.state.value.deal!!.stage)
    }

    @Test
    fun `a deal left alone past its stage rule shows up in the rep's reminders`() = runBlocking {
        funnel.newDeal(customerId, "冷却液年度合同").join()
        assertEquals(emptyList(), funnel.state.value.reminders)

        clock.now.addAndGet(30 * day)
        funnel.refresh().join()
        val reminder = funnel.state.value.reminders.single()
        assertEquals(funnel.state.value.deal!!.id, reminder.opportunityId)
        assertTrue(reminder.kinds.isNotEmpty())
    }

    @Test
    fun `bad input on the funnel screen is a problem, not a crash`() = runBlocking {
        funnel.open("0190a4c2-3b8e-7c1d-9f2a-4b5c6d7e8f90").join()
        assertEquals(ProblemKind.NOT_FOUND, funnel.state.value.problem?.kind)

        funnel.newDeal("not-an-id", "x").join()
        assertEquals(ProblemKind.INVALID_INPUT, funnel.state.value.problem?.kind)

        funnel.newDeal(customerId, "报价").join()
        funnel.attachDocument(FfiEvidenceKind.QUOTE, "   ", ByteArray(10)).join()
        assertEquals(ProblemKind.INVALID_INPUT, funnel.state.value.problem?.kind)
        assertEquals(emptyList(), funnel.state.value.deal!!.documents)
    }
}
