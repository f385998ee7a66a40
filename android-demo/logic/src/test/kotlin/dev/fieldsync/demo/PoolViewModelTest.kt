package dev.fieldsync.demo

import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/** The customers screen's own customers, the pool, claims and releases, against a real relay. */
class PoolViewModelTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `a released customer is claimed from the pool by another rep and the owner is told`() = runBlocking {
        TestRelay(dir.resolve("relay"), reps = 2, supervisors = 0).use { relay ->
            TestPhone(dir.resolve("a").also { it.toFile().mkdirs() }).use { a ->
                TestPhone(dir.resolve("b").also { it.toFile().mkdirs() }).use { b ->
                    a.repository.enroll(relay.url, relay.codes.getValue("rep")[0], "rep 1 phone")
                    b.repository.enroll(relay.url, relay.codes.getValue("rep")[1], "rep 2 phone")
                    val customer = a.customer("昆山宏达精密模具有限公司", phones = listOf("0512-57771234"))
                    a.repository.sync(null)
                    val screenA = PoolViewModel(a.repository, a.scope)
                    screenA.refresh().join()
                    assertEquals(listOf(customer.id), screenA.state.value.mine.map { it.customerId })

                    // B sees it under A's name and cannot claim it.
                    b.repository.sync(null)
                    val screenB = PoolViewModel(b.repository, b.scope)
                    screenB.claim(customer.id).join()
                    val refused = assertNotNull(screenB.state.value.problem)
                    assertEquals(ProblemKind.CLAIM_REFUSED, refused.kind)
                    assertEquals("owned_by_other", refused.code)

                    // A releases it; B finds it in the pool and claims it; the relay grants it.
                    screenA.release(customer.id).join()
                    assertNull(screenA.state.value.problem)
                    a.repository.sync(null)
                    b.repository.sync(null)
                    screenB.refresh().join()
                    assertEquals(listOf(customer.id), screenB.state.value.pool.map { it.customerId })
                    screenB.claim(customer.id).join()
                    assertEquals("claim", screenB.state.value.pool.single().pending)
                    b.repository.sync(null)
                    screenB.refresh().join()
                    assertEquals(listOf(customer.id), screenB.state.value.mine.map { it.customerId })
                    assertTrue(screenB.state.value.claims.first().granted)
                    assertEquals("昆山宏达精密模具有限公司", b.repository.ownership(customer.id)?.companyName)

                    a.repository.sync(null)
                    screenA.refresh().join()
                    assertEquals(emptyList(), screenA.state.value.mine)
                    assertEquals("rep 2", a.repository.ownership(customer.id)?.ownerName)
                }
            }
        }
    }
}
