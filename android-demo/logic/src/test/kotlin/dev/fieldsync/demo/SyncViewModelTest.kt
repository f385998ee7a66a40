package dev.fieldsync.demo

import java.nio.file.Path
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertSame
import kotlin.test.assertTrue
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.SyncPhase

/** Enrolling and syncing through the view model, against a real relay process. */
class SyncViewModelTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `a rep's offline customer reaches the relay on sync, with progress, and a supervisor's phone syncs it in`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 1).use { relay ->
            TestPhone(dir.resolve("rep").also { it.toFile().mkdirs() }).use { rep ->
                val sync = SyncViewModel(rep.repository, rep.scope)
                sync.start().join()
                assertFalse(sync.state.value.enrolled)

                sync.enroll(relay.url, relay.codes.getValue("rep")[0], "rep 1 phone").join()
                assertNull(sync.state.value.problem)
                assertEquals(relay.url, sync.state.value.relayUrl)
                assertEquals("rep", sync.state.value.role)
                assertFalse(sync.state.value.busy)

                // Offline at the customer's: the change waits in the outbox.
                val customer = rep.customer("苏州精工机械", phones = listOf("+86 512 6666 0001"))
                assertTrue(rep.repository.outboxLength() > 0u)

                val seen = Collections.synchronizedList(mutableListOf<SyncProgress>())
                val watcher = rep.scope.launch(Dispatchers.Unconfined, start = CoroutineStart.UNDISPATCHED) {
                    sync.state.collect { state -> state.progress?.let { seen.add(it) } }
                }
                sync.syncNow().join()
                watcher.cancel()

                val state = sync.state.value
                assertNull(state.problem, "${state.problem}")
                assertFalse(state.busy)
                assertNull(state.progress, "no progress once the sync is over")
                val report = assertNotNull(state.lastReport)
                assertTrue(report.pushed > 0u, "$report")
                assertEquals(0uL, report.outboxRemaining)
                assertNotNull(state.lastSyncedAt)
                assertEquals(0uL, rep.repository.outboxLength())
                assertTrue(seen.any { it.phase == SyncPhase.PUSHING && it.total != null && it.total!! > 0u }, "progress heard: $seen")

                TestPhone(dir.resolve("supervisor").also { it.toFile().mkdirs() }).use { supervisor ->
                    val theirs = SyncViewModel(supervisor.repository, supervisor.scope)
                    theirs.enroll(relay.url, relay.codes.getValue("supervisor")[0], "supervisor phone").join()
                    assertEquals("supervisor", theirs.state.value.role)
                    theirs.syncNow().join()
                    assertNull(theirs.state.value.problem, "${theirs.state.value.problem}")
                    assertTrue(theirs.state.value.lastReport!!.received > 0u)
                    assertEquals("苏州精工机械", supervisor.repository.customer(customer.id).companyName)
                }
            }
        }
    }

    @Test
    fun `a second sync asked for while one runs joins it instead of starting another`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 0).use { relay ->
            TestPhone(dir.resolve("rep").also { it.toFile().mkdirs() }).use { rep ->
                val sync = SyncViewModel(rep.repository, rep.scope)
                sync.enroll(relay.url, relay.codes.getValue("rep")[0], "rep 1 phone").join()
                rep.customer("无锡冷却设备")
                val first = sync.syncNow()
                val second = sync.syncNow()
                assertSame(first, second)
                second.join()
                assertNull(sync.state.value.problem)
                val afterBoth = sync.state.value.lastReport!!
                assertTrue(afterBoth.pushed > 0u)

                val third = sync.syncNow()
                assertTrue(third !== first, "a finished sync does not block the next one")
                third.join()
                assertEquals(0u, sync.state.value.lastReport!!.pushed, "nothing new to push")
            }
        }
    }

    @Test
    fun `a wrong code, an unreachable relay, a bad address or an empty code is a problem on screen, not a crash`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 0).use { relay ->
            TestPhone(dir.resolve("rep").also { it.toFile().mkdirs() }).use { rep ->
                val sync = SyncViewModel(rep.repository, rep.scope)

                sync.enroll(relay.url, "not-a-code-anyone-gave", "rep 1 phone").join()
                assertEquals(ProblemKind.UNAUTHORIZED, sync.state.value.problem?.kind, "${sync.state.value.problem}")
                assertFalse(sync.state.value.enrolled)
                assertFalse(sync.state.value.busy)

                sync.enroll("http://127.0.0.1:1", relay.codes.getValue("rep")[0], "rep 1 phone").join()
                val unreachable = assertNotNull(sync.state.value.problem)
                assertEquals(ProblemKind.NETWORK, unreachable.kind, "$unreachable")
                assertTrue(unreachable.retryable, "$unreachable")
                assertFalse(sync.state.value.enrolled)

                sync.enroll("relay.example.com", relay.codes.getValue("rep")[0], "rep 1 phone").join()
                assertEquals(ProblemKind.INVALID_INPUT, sync.state.value.problem?.kind, "${sync.state.value.problem}")

                sync.enroll(relay.url, "   ", "rep 1 phone").join()
                assertEquals(ProblemKind.INVALID_INPUT, sync.state.value.problem?.kind, "${sync.state.value.problem}")
                assertTrue(sync.state.value.problem!!.detail.contains("code"), sync.state.value.problem!!.detail)

                // The code was not used up by the failures: it still enrolls.
                sync.enroll(relay.url, relay.codes.getValue("rep")[0], "rep 1 phone").join()
                assertNull(sync.state.value.problem, "${sync.state.value.problem}")
                assertTrue(sync.state.value.enrolled)
            }
        }
    }

    @Test
    fun `syncing before enrolling asks the rep to enroll, and a resume sync does nothing until then`() = runBlocking {
        TestPhone(dir).use { phone ->
            val sync = SyncViewModel(phone.repository, phone.scope)
            sync.start().join()
            sync.syncIfEnrolled().join()
            assertNull(sync.state.value.problem)
            assertNull(sync.state.value.lastReport)

            sync.syncNow().join()
            val problem = assertNotNull(sync.state.value.problem)
            assertEquals(ProblemKind.UNAUTHORIZED, problem.kind, "$problem")
            assertTrue(problem.detail.contains("enroll again"), problem.detail)
            assertTrue(sync.state.value.mustEnroll)
            assertFalse(sync.state.value.busy)
            assertNull(sync.state.value.lastReport)
        }
    }

    @Test
    fun `a phone enrolled earlier is shown as enrolled and syncs on resume`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 1, supervisors = 0).use { relay ->
            val path = dir.resolve("rep").also { it.toFile().mkdirs() }
            TestPhone(path).use { rep ->
                SyncViewModel(rep.repository, rep.scope).enroll(relay.url, relay.codes.getValue("rep")[0], "rep 1 phone").join()
                rep.customer("常州轴承厂")
            }
            TestPhone(path).use { reopened ->
                val sync = SyncViewModel(reopened.repository, reopened.scope)
                sync.start().join()
                assertEquals(relay.url, sync.state.value.relayUrl)
                assertNull(sync.state.value.role, "the role is known only from an enrollment")
                sync.syncIfEnrolled().join()
                assertNull(sync.state.value.problem, "${sync.state.value.problem}")
                assertTrue(sync.state.value.lastReport!!.pushed > 0u)
            }
        }
    }
}
