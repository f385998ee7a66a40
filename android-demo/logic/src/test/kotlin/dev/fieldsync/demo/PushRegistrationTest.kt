package dev.fieldsync.demo

import com.sun.net.httpserver.HttpServer
import java.net.InetSocketAddress
import java.nio.file.Path
import java.time.ZoneId
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicLong
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
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
import uniffi.fieldsync_ffi.FieldStore
import uniffi.fieldsync_ffi.FfiUptime
import uniffi.fieldsync_ffi.PhoneClock

/**
 * A supervisor's phone registering its UnifiedPush endpoint with a real relay (configured to push
 * to plain-http loopback endpoints, standing in for a push service), keeping one endpoint,
 * unregistering, and receiving a stalled deal's alert as a Web Push message.
 */
class PushRegistrationTest {
    @TempDir
    lateinit var dir: Path

    /** A push service stand-in on loopback: answers every POST with 201 and keeps its body. */
    private class PushReceiver : AutoCloseable {
        val bodies = LinkedBlockingQueue<ByteArray>()
        private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).apply {
            createContext("/") { exchange ->
                exchange.requestBody.use { bodies.add(it.readBytes()) }
                exchange.sendResponseHeaders(201, -1)
                exchange.close()
            }
            start()
        }

        fun endpoint(path: String) = "http://127.0.0.1:${server.address.port}/up/$path"

        override fun close() = server.stop(0)
    }

    private suspend fun enrolled(phone: TestPhone, relay: TestRelay, role: String, index: Int = 0) {
        val sync = SyncViewModel(phone.repository, phone.scope)
        sync.enroll(relay.url, relay.codes.getValue(role)[index], "$role phone").join()
        assertNull(sync.state.value.problem, "${sync.state.value.problem}")
    }

    private fun phone(name: String) = TestPhone(dir.resolve(name).also { it.toFile().mkdirs() })

    @Test
    fun `a supervisor's new endpoint replaces the old one at the relay, and unregistering leaves none`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 1, config = TestRelay.LOOPBACK_PUSH_CONFIG).use { relay ->
            PushReceiver().use { receiver ->
                phone("supervisor").use { supervisor ->
                    enrolled(supervisor, relay, "supervisor")
                    val info = supervisor.repository.pushRelayInfo()
                    assertTrue("webpush" in info.providers, "$info")
                    assertTrue(info.vapidPublicKey.isNotBlank())

                    val alerts = AlertsViewModel(supervisor.repository, supervisor.scope)
                    alerts.register(receiver.endpoint("first")).join()
                    assertNull(alerts.state.value.problem, "${alerts.state.value.problem}")
                    val first = assertNotNull(alerts.state.value.registration)
                    assertEquals(receiver.endpoint("first"), first.address)
                    assertEquals("webpush", first.provider)

                    // The same endpoint again (the distributor repeats NEW_ENDPOINT) keeps one.
                    alerts.register(receiver.endpoint("first")).join()
                    assertEquals(listOf(first.subscriptionId), supervisor.repository.pushRegistrations().map { it.subscriptionId })

                    alerts.register(receiver.endpoint("second")).join()
                    assertNull(alerts.state.value.problem, "${alerts.state.value.problem}")
                    val second = assertNotNull(alerts.state.value.registration)
                    assertEquals(
                        listOf(receiver.endpoint("second")),
                        supervisor.repository.pushRegistrations().map { it.address },
                        "only the current endpoint stays at the relay",
                    )
                    assertTrue(second.subscriptionId != first.subscriptionId)

                    alerts.unregister().join()
                    assertNull(alerts.state.value.problem, "${alerts.state.value.problem}")
                    assertNull(alerts.state.value.registration)
                    assertEquals(emptyList(), supervisor.repository.pushRegistrations())

                    // UNREGISTERED again, with nothing left at the relay: not a problem.
                    alerts.unregister().join()
                    assertNull(alerts.state.value.problem, "${alerts.state.value.problem}")
                    alerts.close()
                }
            }
        }
    }

    @Test
    fun `a rep's phone cannot register for alerts, and a bad endpoint is invalid input`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 1, config = TestRelay.LOOPBACK_PUSH_CONFIG).use { relay ->
            PushReceiver().use { receiver ->
                phone("rep").use { rep ->
                    enrolled(rep, relay, "rep")
                    val alerts = AlertsViewModel(rep.repository, rep.scope)
                    alerts.register(receiver.endpoint("rep")).join()
                    assertEquals(ProblemKind.UNAUTHORIZED, alerts.state.value.problem?.kind, "${alerts.state.value.problem}")
                    assertNull(alerts.state.value.registration)
                    alerts.close()
                }
                phone("supervisor").use { supervisor ->
                    enrolled(supervisor, relay, "supervisor")
                    val alerts = AlertsViewModel(supervisor.repository, supervisor.scope)
                    for (bad in listOf("http://push.example.net/up/1", "not a url", "")) {
                        alerts.register(bad).join()
                        assertEquals(ProblemKind.INVALID_INPUT, alerts.state.value.problem?.kind, "$bad: ${alerts.state.value.problem}")
                        assertNull(alerts.state.value.registration)
                    }
                    assertEquals(emptyList(), supervisor.repository.pushRegistrations())
                    alerts.close()
                }
            }
        }
    }

    @Test
    fun `registering or refreshing before enrolling, or against an unreachable relay, is a problem, not a crash`() = runBlocking {
        phone("supervisor").use { supervisor ->
            val alerts = AlertsViewModel(supervisor.repository, supervisor.scope)
            alerts.register("https://push.example.net/up/1").join()
            assertEquals(ProblemKind.UNAUTHORIZED, alerts.state.value.problem?.kind, "${alerts.state.value.problem}")
            alerts.unregister().join()
            assertEquals(ProblemKind.UNAUTHORIZED, alerts.state.value.problem?.kind, "${alerts.state.value.problem}")
            alerts.refresh().join()
            assertEquals(ProblemKind.UNAUTHORIZED, alerts.state.value.problem?.kind, "${alerts.state.value.problem}")
            assertTrue(!alerts.state.value.syncing)
            alerts.close()
        }
    }

    private class MovableClock(start: Long) : PhoneClock {
        val now = AtomicLong(start)
        override fun nowMs(): Long = now.get()
        override fun uptime(): FfiUptime? = null
    }

    /**
     * On the rep's phone (its own store, enrolled through the view model): a deal that entered
     * 方案提交 nine days ago with nothing since; today the rep syncs. Returns the deal's id.
     */
    private suspend fun repSyncsAStalledDeal(relay: TestRelay, title: String): String {
        val now = System.currentTimeMillis()
        val clock = MovableClock(now - 9 * 86_400_000L)
        val store = FieldStore.openWith(dir.resolve("rep.fieldsync").toString(), clock, null, null)
        val rep = FieldRepository(store, ZoneId.of("Asia/Shanghai"))
        val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        try {
            val sync = SyncViewModel(rep, scope)
            sync.enroll(relay.url, relay.codes.getValue("rep")[0], "rep phone").join()
            assertNull(sync.state.value.problem, "${sync.state.value.problem}")
            val customer = rep.createCustomer(
                FfiNewCustomer(companyName = "$title 客户", phones = emptyList(), address = null, tags = emptyList()),
            )
            val deal = store.createOpportunity(
                FfiNewOpportunity(
                    customerId = customer.id, owner = "rep 1", title = title, stage = FfiStage.FIRST_CONTACT,
                    amountMinorUnits = 50_000_000, currency = "CNY", expectedCloseAt = null, nextActionDueAt = null,
                ),
            )
            rep.attachDealDocument(deal.id, FfiEvidenceKind.TECHNICAL_DOCUMENT, "技术参数.pdf", "%PDF ${deal.id}".toByteArray())
            rep.moveStage(deal.id, FfiStage.NEEDS_CONFIRMED, null)
            rep.attachDealDocument(deal.id, FfiEvidenceKind.QUOTE, "报价单.xlsx", "quote ${deal.id}".toByteArray())
            rep.moveStage(deal.id, FfiStage.PROPOSAL_SUBMITTED, "报价已发")
            clock.now.set(now)
            sync.syncNow().join()
            assertNull(sync.state.value.problem, "${sync.state.value.problem}")
            assertTrue(sync.state.value.lastReport!!.pushed > 0u)
            return deal.id
        } finally {
            scope.cancel()
            rep.close()
        }
    }

    @Test
    fun `a stalled deal's alert is pushed to the registered endpoint, decoded into the state, and refresh syncs it in`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 1, config = TestRelay.LOOPBACK_PUSH_CONFIG).use { relay ->
            PushReceiver().use { receiver ->
                phone("supervisor").use { supervisor ->
                    enrolled(supervisor, relay, "supervisor")
                    val alerts = AlertsViewModel(supervisor.repository, supervisor.scope)
                    alerts.start().join()
                    alerts.register(receiver.endpoint("phone")).join()
                    assertNull(alerts.state.value.problem, "${alerts.state.value.problem}")

                    val dealId = repSyncsAStalledDeal(relay, "注塑机二期")

                    // The relay's scheduler raises the alert and its deliverer pushes it here.
                    val body = assertNotNull(receiver.bodies.poll(30, TimeUnit.SECONDS), "no push within 30 s")
                    alerts.onPushMessage(body).join()
                    assertNull(alerts.state.value.problem, "${alerts.state.value.problem}")
                    val pushed = alerts.state.value.alerts.single()
                    assertEquals(dealId, pushed.alert.opportunityId)
                    assertEquals("注塑机二期", pushed.title)
                    assertEquals("方案提交", pushed.stageLabel)
                    assertTrue(pushed.pushed)

                    // The supervisor taps Refresh: the sync stores the same alert; one row, still marked pushed.
                    alerts.refresh().join()
                    val deadline = System.currentTimeMillis() + 10_000
                    while (supervisor.repository.alerts(10u).isEmpty()) {
                        assertTrue(System.currentTimeMillis() < deadline, "the sync stored the alert")
                        delay(300)
                        alerts.refresh().join()
                    }
                    assertNull(alerts.state.value.problem, "${alerts.state.value.problem}")
                    delay(300) // the store subscription calls back on a library thread
                    assertEquals(listOf(pushed.alert), supervisor.repository.alerts(10u))
                    assertEquals(listOf(dealId), alerts.state.value.alerts.map { it.alert.opportunityId })
                    assertTrue(alerts.state.value.alerts.single().pushed)
                    alerts.close()
                }
            }
        }
    }

    @Test
    fun `refresh brings an alert raised at the relay to a screen that got no push`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 1).use { relay ->
            phone("supervisor").use { supervisor ->
                enrolled(supervisor, relay, "supervisor")
                val alerts = AlertsViewModel(supervisor.repository, supervisor.scope)
                alerts.start().join()
                val dealId = repSyncsAStalledDeal(relay, "冷却塔改造")

                val deadline = System.currentTimeMillis() + 30_000
                while (alerts.state.value.alerts.isEmpty()) {
                    assertTrue(System.currentTimeMillis() < deadline, "refresh brought the alert within 30 s")
                    alerts.refresh().join()
                    assertNull(alerts.state.value.problem, "${alerts.state.value.problem}")
                    delay(300)
                }
                val row = alerts.state.value.alerts.single()
                assertEquals(dealId, row.alert.opportunityId)
                assertEquals("冷却塔改造", row.title)
                assertTrue(!row.pushed)
                assertTrue(!alerts.state.value.syncing)
                alerts.close()
            }
        }
    }
}
