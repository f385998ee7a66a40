package dev.fieldsync.demo

import java.nio.file.Path
import java.time.ZoneId
import java.util.concurrent.atomic.AtomicLong
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiEvidenceKind
import uniffi.fieldsync_ffi.FfiNewCustomer
import uniffi.fieldsync_ffi.FfiNewOpportunity
import uniffi.fieldsync_ffi.FfiStage
import uniffi.fieldsync_ffi.FfiStallLevel
import uniffi.fieldsync_ffi.FieldStore
import uniffi.fieldsync_ffi.FfiUptime
import uniffi.fieldsync_ffi.PhoneClock

/**
 * Real alerts into the supervisor's store: a real relay's scheduler raises them for deals the reps
 * left in 方案提交 for nine days, and the supervisor's sync brings them to the store subscription.
 */
class AlertsFromRelayTest {
    @TempDir
    lateinit var dir: Path

    private class MovableClock(start: Long) : PhoneClock {
        val now = AtomicLong(start)
        override fun nowMs(): Long = now.get()
        override fun uptime(): FfiUptime? = null
    }

    private val day = 86_400_000L

    /** A deal in 方案提交 since the clock's now, with the documents that stage needs. */
    private fun stalledDeal(store: FieldStore, owner: String, title: String): String {
        val customer = store.createCustomer(
            FfiNewCustomer(companyName = "$title 客户", phones = emptyList(), address = null, tags = emptyList()),
        )
        val deal = store.createOpportunity(
            FfiNewOpportunity(
                customerId = customer.id, owner = owner, title = title, stage = FfiStage.FIRST_CONTACT,
                amountMinorUnits = 50_000_000, currency = "CNY", expectedCloseAt = null, nextActionDueAt = null,
            ),
        )
        store.attachDealDocument(deal.id, FfiEvidenceKind.TECHNICAL_DOCUMENT, "技术参数.pdf", "%PDF ${deal.id}".toByteArray())
        store.moveStage(deal.id, FfiStage.NEEDS_CONFIRMED, null)
        store.attachDealDocument(deal.id, FfiEvidenceKind.QUOTE, "报价单.xlsx", "quote ${deal.id}".toByteArray())
        store.moveStage(deal.id, FfiStage.PROPOSAL_SUBMITTED, "报价已发")
        return deal.id
    }

    private suspend fun syncUntil(store: FieldStore, what: String, done: () -> Boolean) {
        val deadline = System.currentTimeMillis() + 30_000
        while (!done()) {
            assertTrue(System.currentTimeMillis() < deadline, "$what within 30 s")
            delay(300)
            store.sync(null)
        }
    }

    @Test
    fun `alerts a sync brings reach the state live, are listed, and stop reaching a closed view model`() = runBlocking {
        val now = System.currentTimeMillis()
        TestRelay(dir.resolve("relay"), reps = 2, supervisors = 1).use { relay ->
            val clock1 = MovableClock(now - 9 * day) // the quotes went out nine days ago
            val clock2 = MovableClock(now - 9 * day)
            val rep1 = FieldStore.openWith(dir.resolve("rep1.fieldsync").toString(), clock1, null, null)
            val rep2 = FieldStore.openWith(dir.resolve("rep2.fieldsync").toString(), clock2, null, null)
            val supervisorStore = FieldStore.open(dir.resolve("supervisor.fieldsync").toString())
            val supervisor = FieldRepository(supervisorStore, ZoneId.of("Asia/Shanghai"))
            val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
            try {
                rep1.enroll(relay.url, relay.codes.getValue("rep")[0], "rep 1 phone")
                val first = stalledDeal(rep1, "rep 1", "注塑机二期")
                val second = stalledDeal(rep2, "rep 2", "冷却塔改造") // on rep 2's phone, not yet synced
                clock1.now.set(now)
                rep1.sync(null)

                supervisorStore.enroll(relay.url, relay.codes.getValue("supervisor")[0], "supervisor phone")
                val live = AlertsViewModel(supervisor, scope)
                live.start().join()
                assertTrue(live.state.value.live)
                assertEquals(emptyList(), live.state.value.alerts)

                syncUntil(supervisorStore, "the first alert") { live.state.value.alerts.isNotEmpty() }
                val row = live.state.value.alerts.single()
                assertEquals(first, row.alert.opportunityId)
                assertEquals("注塑机二期", row.title)
                assertEquals("rep 1", row.owner)
                assertEquals("方案提交", row.stageLabel)
                assertEquals(FfiStallLevel.SUPERVISOR, row.alert.level)
                assertTrue(row.rules.isNotEmpty())
                assertFalse(row.pushed)
                assertTrue(row.repSyncedBeforeRaiseMs!! in 0 until 60_000, "the rep synced just before: ${row.repLastSync}")
                assertEquals("under an hour before the alert", row.repLastSync)
                assertEquals(listOf(row.alert), supervisor.alerts(10u))

                // A screen opened later lists what is stored.
                val later = AlertsViewModel(supervisor, scope)
                later.start().join()
                assertEquals(listOf(row.alert), later.state.value.alerts.map { it.alert })

                live.close()
                assertFalse(live.state.value.live)

                // Rep 2's stalled deal reaches the relay; its alert syncs in after the close.
                rep2.enroll(relay.url, relay.codes.getValue("rep")[1], "rep 2 phone")
                clock2.now.set(now)
                rep2.sync(null)
                syncUntil(supervisorStore, "the second alert") { supervisor.alerts(10u).size == 2 }
                delay(500)
                assertEquals(listOf(second, first), later.state.value.alerts.map { it.alert.opportunityId }, "still live")
                assertEquals(listOf(first), live.state.value.alerts.map { it.alert.opportunityId }, "closed: not called")
                later.close()
            } finally {
                scope.cancel()
                supervisor.close()
                rep1.closeStore()
                rep2.closeStore()
                rep1.close()
                rep2.close()
            }
        }
    }
}
