package dev.fieldsync.demo

import dev.fieldsync.demo.AlertJson.DAY
import dev.fieldsync.demo.AlertJson.T0
import java.nio.file.Path
import java.time.Clock
import java.time.Instant
import java.time.ZoneId
import java.time.ZoneOffset
import java.util.Random
import kotlin.test.assertEquals
import kotlin.test.assertFalse
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
import uniffi.fieldsync_ffi.FfiPushKeys
import uniffi.fieldsync_ffi.FfiStage
import uniffi.fieldsync_ffi.FfiStallKind
import uniffi.fieldsync_ffi.FfiStallLevel
import uniffi.fieldsync_ffi.createPushKeys

class AlertsViewModelTest {
    @TempDir
    lateinit var dir: Path

    private lateinit var keys: FfiPushKeys
    private lateinit var repository: FieldRepository
    private lateinit var scope: CoroutineScope
    private lateinit var alerts: AlertsViewModel

    /** The supervisor looks at the screen two days after the rules fell due. */
    private val clock = Clock.fixed(Instant.ofEpochMilli(T0 + 10 * DAY), ZoneOffset.UTC)

    @BeforeEach
    fun setUp() {
        keys = createPushKeys()
        val secrets = InMemoryPushSecrets().apply { save(keys.secret) }
        repository = FieldRepository.open(dir.resolve("supervisor.fieldsync").toString(), ZoneId.of("Asia/Shanghai"), secrets)
        scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)
        alerts = AlertsViewModel(repository, scope, clock = clock)
    }

    @AfterEach
    fun tearDown() {
        alerts.close()
        scope.cancel()
        repository.close()
    }

    private fun push(payload: ByteArray, to: FfiPushKeys = keys) = WebPushEncryptor.encrypt(to.p256dh, to.auth, payload)

    @Test
    fun `a push message from an independent encryptor shows at the top with what the supervisor needs`() = runBlocking {
        alerts.start().join()
        assertTrue(alerts.state.value.live)
        assertEquals(emptyList(), alerts.state.value.alerts, "a new store has no alerts")

        val first = AlertJson.key("01990000-0000-7000-8000-0000000000d1")
        alerts.onPushMessage(push(AlertJson.payload(first))).join()
        val row = alerts.state.value.alerts.single()
        assertNull(alerts.state.value.problem)
        assertEquals(AlertJson.idFor(first), row.alert.id, "the id is the relay's, from the key")
        assertEquals("01990000-0000-7000-8000-0000000000d1", row.alert.opportunityId)
        assertEquals("注塑机二期", row.title)
        assertEquals("李娜", row.owner)
        assertEquals(FfiStage.PROPOSAL_SUBMITTED, row.alert.stage)
        assertEquals("方案提交", row.stageLabel)
        assertEquals(FfiStallLevel.SUPERVISOR, row.alert.level)
        assertEquals("supervisor", row.levelLabel)
        assertEquals(listOf(FfiStallKind.NO_ACTIVITY, FfiStallKind.STAGE_TOO_LONG), row.alert.kinds)
        assertEquals(listOf("no activity for 8 days", "in the stage over 8 days"), row.rules)
        assertEquals(2, row.daysSinceDue, "due at T0 + 8 d, seen at T0 + 10 d")
        assertEquals(23 * 3_600_000L, row.repSyncedBeforeRaiseMs)
        assertEquals("23 h before the alert", row.repLastSync)
        assertTrue(row.pushed)

        val second = AlertJson.key("01990000-0000-7000-8000-0000000000d2")
        alerts.onPushMessage(push(AlertJson.payload(second, title = "冷却塔改造", owner = "王建国", repLastSyncAt = null))).join()
        val rows = alerts.state.value.alerts
        assertEquals(listOf("冷却塔改造", "注塑机二期"), rows.map { it.title }, "the newest message on top")
        assertNull(rows[0].repSyncedBeforeRaiseMs)
        assertEquals("never", rows[0].repLastSync)

        // The same message delivered twice (push services retry) is one row.
        alerts.onPushMessage(push(AlertJson.payload(first))).join()
        assertEquals(listOf("注塑机二期", "冷却塔改造"), alerts.state.value.alerts.map { it.title })
    }

    @Test
    fun `a message for other keys, damaged bytes or a forged alert is an error on screen, not a crash`() = runBlocking {
        val key = AlertJson.key("01990000-0000-7000-8000-0000000000d1")
        alerts.onPushMessage(push(AlertJson.payload(key))).join()
        val shown = alerts.state.value.alerts

        val other = createPushKeys()
        alerts.onPushMessage(push(AlertJson.payload(key), to = other)).join()
        assertEquals(ProblemKind.INVALID_INPUT, alerts.state.value.problem?.kind)
        assertTrue(alerts.state.value.problem!!.detail.contains("decrypt"), alerts.state.value.problem!!.detail)
        assertEquals(shown, alerts.state.value.alerts, "nothing added")

        val bad = listOf(
            ByteArray(200).also(Random(7)::nextBytes),
            ByteArray(0),
            push(AlertJson.payload(key)).let { it.copyOf(it.size - 5) }, // truncated in transit
            push(AlertJson.payload(key)).also { it[it.size - 20] = (it[it.size - 20].toInt() xor 1).toByte() },
            push(AlertJson.payload(key, id = AlertJson.idFor(key + "x"))), // an id not derived from its key
            push("not json".toByteArray()),
        )
        for (body in bad) {
            alerts.onPushMessage(body).join()
            assertEquals(ProblemKind.INVALID_INPUT, alerts.state.value.problem?.kind, "body of ${body.size} bytes")
            assertEquals(shown, alerts.state.value.alerts)
        }

        // A good message afterwards clears the error.
        alerts.onPushMessage(push(AlertJson.payload(AlertJson.key("01990000-0000-7000-8000-0000000000d3")))).join()
        assertNull(alerts.state.value.problem)
        assertEquals(2, alerts.state.value.alerts.size)
    }

    @Test
    fun `an http or malformed push endpoint is invalid input, refused before the relay is asked`() = runBlocking {
        // This phone never enrolled: a valid endpoint gets as far as the relay call (UNAUTHORIZED),
        // a bad one does not.
        alerts.register("http://push.example.net/up/abc").join()
        assertEquals(ProblemKind.INVALID_INPUT, alerts.state.value.problem?.kind, "${alerts.state.value.problem}")
        assertTrue(alerts.state.value.problem!!.detail.contains("https"), alerts.state.value.problem!!.detail)
        assertNull(alerts.state.value.registration)

        alerts.register("not a url").join()
        assertEquals(ProblemKind.INVALID_INPUT, alerts.state.value.problem?.kind)

        alerts.register("https://push.example.net/up/abc").join()
        assertEquals(ProblemKind.UNAUTHORIZED, alerts.state.value.problem?.kind, "${alerts.state.value.problem}")
        assertNull(alerts.state.value.registration)
    }

    @Test
    fun `a repository without a saved secret makes one, keeps it, and decodes with it`() = runBlocking {
        val secrets = InMemoryPushSecrets()
        FieldRepository.open(dir.resolve("fresh.fieldsync").toString(), pushSecrets = secrets).use { fresh ->
            assertNull(secrets.load())
            val secret = fresh.pushSecret()
            val saved = assertNotNull(secrets.load())
            assertTrue(saved.contentEquals(secret) && saved.contentEquals(fresh.pushSecret()), "the same secret on every call")
            val json = uniffi.fieldsync_ffi.pushSubscriptionJson(secret, "https://push.example.net/up/x")
            val p256dh = assertNotNull(Regex("\"p256dh\"\\s*:\\s*\"([^\"]+)\"").find(json)).groupValues[1]
            val auth = assertNotNull(Regex("\"auth\"\\s*:\\s*\"([^\"]+)\"").find(json)).groupValues[1]
            val key = AlertJson.key("01990000-0000-7000-8000-0000000000d9")
            val alert = fresh.decodeAlertPush(WebPushEncryptor.encrypt(p256dh, auth, AlertJson.payload(key)))
            assertEquals(AlertJson.idFor(key), alert.id)
        }
    }

    @Test
    fun `closing the view model closes the store subscription, twice harmlessly`() = runBlocking {
        alerts.start().join()
        assertTrue(alerts.state.value.live)
        alerts.close()
        alerts.close()
        assertFalse(alerts.state.value.live)
        alerts.start().join()
        assertFalse(alerts.state.value.live, "a closed view model does not subscribe again")
    }
}
