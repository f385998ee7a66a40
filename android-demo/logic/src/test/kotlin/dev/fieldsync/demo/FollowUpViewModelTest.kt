package dev.fieldsync.demo

import java.nio.file.Path
import java.time.Clock
import java.time.Instant
import java.time.ZoneOffset
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
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiNewCustomer
import uniffi.fieldsync_ffi.FfiUptime
import uniffi.fieldsync_ffi.PhoneClock

/** The customer screen's calls and follow-ups and the to-do screen, against the real library. */
class FollowUpViewModelTest {
    @TempDir
    lateinit var dir: Path

    private val start = 1_790_000_000_000L

    /** One clock for the library and the view models, moved by the test. */
    private class TestClocks(start: Long) : PhoneClock {
        val now = AtomicLong(start)
        override fun nowMs(): Long = now.get()
        override fun uptime(): FfiUptime? = null

        /** The same time as a java.time clock, for the view models. */
        val java: Clock = object : Clock() {
            override fun getZone() = ZoneOffset.UTC
            override fun withZone(zone: java.time.ZoneId?): Clock = this
            override fun instant(): Instant = Instant.ofEpochMilli(now.get())
        }
    }

    @Test
    fun `a call dialled from the customer screen is summarised on return and its next action is on the to-do`() = runBlocking {
        val clocks = TestClocks(start)
        val repository = FieldRepository.openWithClock(dir.resolve("rep.fieldsync").toString(), clocks)
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        try {
            val customer = repository.createCustomer(
                FfiNewCustomer(companyName = "宁波海天塑机", phones = listOf("0574-8888 1234"), address = null, tags = emptyList()),
            )
            // The call log as the app reads it: null until the rep grants READ_CALL_LOG.
            var callLog: List<LoggedCall>? = null
            val screen = CustomerViewModel(
                repository, customer.id, scope, clock = clocks.java, callLog = CallLogReader { callLog },
            )
            screen.refresh().join()
            assertEquals("宁波海天塑机", screen.state.value.customer?.companyName)
            assertEquals(emptyList(), screen.state.value.timeline)

            screen.startCall("0574-8888 1234").join()
            val pending = assertNotNull(screen.state.value.pendingCall)
            assertEquals("call", pending.activity.activityType)
            // The rep comes back from the dialler four minutes later: the time away is offered,
            // unless the call log (where the permission is granted) knows the duration.
            val dialledAt = Instant.ofEpochMilli(clocks.now.get())
            clocks.now.addAndGet(240_000)
            assertEquals(CallDuration(240, DurationSource.TIME_AWAY), screen.suggestedDuration())
            callLog = listOf(LoggedCall("+86 574 8888 1234", dialledAt.plusSeconds(20), 95))
            assertEquals(CallDuration(95, DurationSource.CALL_LOG), screen.suggestedDuration())
            screen.finishCall("确认二期两台 450 吨", "接通", 240, "发报价", start + 86_400_000).join()
            assertNull(screen.state.value.pendingCall)
            assertNull(screen.state.value.problem)
            // A second call the rep never summarises.
            screen.startCall("0574-8888 1234").join()
            val forgotten = assertNotNull(screen.state.value.pendingCall).activity
            screen.refresh().join()
            assertEquals(listOf("电话 · (未填写沟通内容)", "电话 · 确认二期两台 450 吨"), screen.state.value.timeline.map { it.line })

            val todo = FollowUpTodoViewModel(repository, scope, clock = clocks.java)
            todo.refresh().join()
            assertEquals(listOf("发报价"), todo.state.value.due.map { it.nextActionWhat })
            // The second call was never summarised: a day later it is on the to-do.
            clocks.now.addAndGet(25 * 3_600_000L)
            val later = FollowUpTodoViewModel(repository, scope, clock = clocks.java)
            later.refresh().join()
            assertEquals(listOf(forgotten.id), later.state.value.callsWithoutSummary.map { it.id })
            later.done(later.state.value.due.single().id).join()
            assertEquals(emptyList(), later.state.value.due)
        } finally {
            scope.cancel()
            repository.close()
        }
    }

    @Test
    fun `a customer nobody followed up is on the to-do three days before it returns to the pool`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 0).use { relay ->
            // The phone's clock starts at the relay's time, so the relay's grant dates the ownership.
            val clocks = TestClocks(System.currentTimeMillis())
            val repository = FieldRepository.openWithClock(dir.resolve("rep.fieldsync").toString(), clocks)
            val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
            try {
                repository.enroll(relay.url, relay.codes.getValue("rep")[0], "rep 1 phone")
                val quiet = repository.createCustomer(
                    FfiNewCustomer(companyName = "常州恒达轴承有限公司", phones = emptyList(), address = null, tags = emptyList()),
                )
                repository.sync(null)
                val day = 86_400_000L
                // Day 26: nothing yet. Day 27.5, offline: returns on day 30 (the default 30 days).
                clocks.now.addAndGet(26 * day)
                val todo = FollowUpTodoViewModel(repository, scope, clock = clocks.java)
                todo.refresh().join()
                assertEquals(emptyList(), todo.state.value.returningToPool)
                clocks.now.addAndGet(day + day / 2)
                todo.refresh().join()
                assertNull(todo.state.value.problem)
                val warning = todo.state.value.returningToPool.single()
                assertEquals(quiet.id, warning.customerId)
                assertEquals("常州恒达轴承有限公司", warning.companyName)
                val left = warning.returnsAt - clocks.now.get()
                assertTrue(left in 0..(3 * day), "returns in ${left / 3_600_000} h")
            } finally {
                scope.cancel()
                repository.close()
            }
        }
    }

    @Test
    fun `a bad follow-up is a problem on the screen and nothing is saved`() = runBlocking {
        val clocks = TestClocks(start)
        val repository = FieldRepository.openWithClock(dir.resolve("rep.fieldsync").toString(), clocks)
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        try {
            val customer = repository.createCustomer(
                FfiNewCustomer(companyName = "苏州精工", phones = emptyList(), address = null, tags = emptyList()),
            )
            val waiting = repository.outboxLength()
            val screen = CustomerViewModel(repository, customer.id, scope, clock = clocks.java)
            screen.logFollowUp("fax", "发了传真").join()
            assertEquals(ProblemKind.INVALID_INPUT, screen.state.value.problem?.kind)
            screen.logFollowUp("sample_sent", "长".repeat(100_000)).join()
            assertEquals(ProblemKind.INVALID_INPUT, screen.state.value.problem?.kind)
            screen.startCall("没有号码").join()
            assertEquals(ProblemKind.INVALID_INPUT, screen.state.value.problem?.kind)
            assertEquals(waiting, repository.outboxLength())
        } finally {
            scope.cancel()
            repository.close()
        }
    }
}
