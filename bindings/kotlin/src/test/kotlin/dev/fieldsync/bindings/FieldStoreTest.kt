package dev.fieldsync.bindings

import com.sun.jna.NativeLibrary
import java.io.File
import java.nio.file.Path
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiCustomerSummary
import uniffi.fieldsync_ffi.FfiException
import uniffi.fieldsync_ffi.FfiNewCustomer
import uniffi.fieldsync_ffi.FieldStore

/**
 * The FieldStore flow an app performs, through the generated Kotlin bindings (compiled unmodified)
 * and the real libfieldsync_ffi loaded by JNA.
 *
 * Kotlin names the store's own close `closeStore()` (bindings/uniffi.toml): every generated object
 * is AutoCloseable, and its `close()` only releases the Rust handle.
 */
class FieldStoreTest {
    @TempDir
    lateinit var dir: Path

    private lateinit var path: String
    private lateinit var store: FieldStore

    @BeforeEach
    fun open() {
        path = dir.resolve("device.fieldsync").toString()
        store = FieldStore.open(path)
    }

    @AfterEach
    fun close() {
        if (store.uniffiIsDestroyed) return // the test released the handle itself
        store.closeStore() // idempotent: fine after a test that closed the store itself
        store.close()
    }

    private fun newCustomer(
        name: String,
        phones: List<String> = emptyList(),
        address: String? = null,
        tags: List<String> = emptyList(),
    ) = FfiNewCustomer(companyName = name, phones = phones, address = address, tags = tags)

    @Test
    fun `the library is the one gen-bindings placed for the tests`() {
        val loaded = NativeLibrary.getInstance("fieldsync_ffi").file.canonicalFile
        val expected = File(System.getProperty("jna.library.path")).canonicalFile
        assertEquals(expected, loaded.parentFile, "JNA loaded $loaded")
    }

    @Test
    fun `created customer reads back with every field`() {
        val before = System.currentTimeMillis()
        val created = store.createCustomer(
            newCustomer("温州正泰电器", listOf("+86 577 6287 7777"), "浙江省乐清市", listOf("vip", "展会"))
        )

        assertTrue(Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").matches(created.id))
        assertEquals("温州正泰电器", created.companyName)
        assertEquals(listOf("+86 577 6287 7777"), created.phones)
        assertEquals("浙江省乐清市", created.address)
        assertEquals(listOf("vip", "展会"), created.tags)
        assertTrue(created.createdAt in (before - 5_000)..(System.currentTimeMillis() + 5_000))

        assertEquals(created, store.customer(created.id))
    }

    @Test
    fun `optional fields cross as null and empty lists`() {
        val read = store.customer(store.createCustomer(newCustomer("Acme Valves")).id)
        assertNull(read.address)
        assertEquals(emptyList(), read.phones)
        assertEquals(emptyList(), read.tags)
    }

    @Test
    fun `name prefix query returns matches in name order up to the limit`() {
        for (name in listOf("Ningbo Pumps", "Acme Valves", "ACME Bearings", "Acme Castings", "Wenzhou Switches")) {
            store.createCustomer(newCustomer(name, listOf("0574 %04d".format(name.length))))
        }

        val found: List<FfiCustomerSummary> = store.customersByNamePrefix("acme", 10u)
        assertContentEquals(listOf("ACME Bearings", "Acme Castings", "Acme Valves"), found.map { it.companyName })
        assertEquals("0574 0013", found[0].firstPhone)

        assertEquals(2, store.customersByNamePrefix("acme", 2u).size)
        assertEquals(emptyList(), store.customersByNamePrefix("Zhejiang", 10u))
    }

    @Test
    fun `each created customer waits in the outbox`() {
        assertEquals(0uL, store.outboxLen())
        repeat(3) { store.createCustomer(newCustomer("Customer $it")) }
        assertEquals(3uL, store.outboxLen())
    }

    @Test
    fun `device id is stable across reopen and data survives`() {
        val device = store.deviceId()
        val created = store.createCustomer(newCustomer("Hangzhou Motors"))
        store.closeStore()

        FieldStore.open(path).use { again ->
            try {
                assertTrue(Regex("[0-9a-f]+").matches(device))
                assertEquals(device, again.deviceId())
                assertEquals("Hangzhou Motors", again.customer(created.id).companyName)
                assertEquals(1uL, again.outboxLen())
            } finally {
                again.closeStore()
            }
        }
    }

    @Test
    fun `empty company name throws InvalidInput and stores nothing`() {
        val thrown = assertFailsWith<FfiException.InvalidInput> { store.createCustomer(newCustomer("")) }
        assertTrue(thrown.detail.isNotBlank())
        assertEquals(0uL, store.outboxLen())
    }

    @Test
    fun `malformed id throws InvalidInput`() {
        val thrown = assertFailsWith<FfiException.InvalidInput> { store.customer("not-an-id") }
        assertTrue(thrown.detail.isNotBlank())
    }

    @Test
    fun `unknown well-formed id throws NotFound`() {
        val foreignId = FieldStore.open(dir.resolve("other.fieldsync").toString()).use { other ->
            try {
                other.createCustomer(newCustomer("Elsewhere Ltd")).id
            } finally {
                other.closeStore()
            }
        }
        assertFailsWith<FfiException.NotFound> { store.customer(foreignId) }
    }

    @Test
    fun `empty path throws InvalidInput`() {
        assertFailsWith<FfiException.InvalidInput> { FieldStore.open("  ") }
    }

    @Test
    fun `second open of the same file throws StoreUnavailable`() {
        val thrown = assertFailsWith<FfiException.StoreUnavailable> { FieldStore.open(path) }
        assertTrue(thrown.detail.isNotBlank())
        assertEquals(0uL, store.outboxLen(), "the first handle is unaffected")
    }

    @Test
    fun `every call after close throws StoreUnavailable`() {
        val created = store.createCustomer(newCustomer("Before Close"))
        store.closeStore()

        assertFailsWith<FfiException.StoreUnavailable> { store.outboxLen() }
        assertFailsWith<FfiException.StoreUnavailable> { store.createCustomer(newCustomer("After Close")) }
        assertFailsWith<FfiException.StoreUnavailable> { store.customer(created.id) }
        assertFailsWith<FfiException.StoreUnavailable> { store.customersByNamePrefix("Before", 10u) }
        store.closeStore() // closing twice is harmless
    }

    @Test
    fun `releasing the handle with use closes the store and frees the file`() {
        store.closeStore()
        store.close()
        // AutoCloseable.close() drops the last reference; the core closes the file on drop.
        FieldStore.open(path).use { it.createCustomer(newCustomer("Via use")) }
        FieldStore.open(path).use { again ->
            try {
                assertEquals(1uL, again.outboxLen())
            } finally {
                again.closeStore()
            }
        }
    }

    @Test
    fun `a released handle throws instead of touching freed memory`() {
        store.closeStore()
        store.close()
        assertFailsWith<IllegalStateException> { store.deviceId() }
    }
}
