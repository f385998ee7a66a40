package dev.fieldsync.bindings

import java.io.File
import java.nio.file.Path
import java.util.Collections
import kotlin.test.assertContains
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiCreateMode
import uniffi.fieldsync_ffi.FfiCreateOutcome
import uniffi.fieldsync_ffi.FfiException
import uniffi.fieldsync_ffi.FfiFix
import uniffi.fieldsync_ffi.FfiNewCustomer
import uniffi.fieldsync_ffi.FfiSlipItem
import uniffi.fieldsync_ffi.FfiStrokePoint
import uniffi.fieldsync_ffi.FfiUptime
import uniffi.fieldsync_ffi.FfiSyncProgress
import uniffi.fieldsync_ffi.FieldStore
import uniffi.fieldsync_ffi.LocationService
import uniffi.fieldsync_ffi.PhoneClock
import uniffi.fieldsync_ffi.SecureKeyStorage
import uniffi.fieldsync_ffi.SyncPhase
import uniffi.fieldsync_ffi.SyncProgressListener

/**
 * A rep's day offline, then sync through a real relay process (`fieldsync serve` on loopback) to a
 * second device, through the generated Kotlin bindings and the real library. The phone's services
 * are Kotlin objects the library calls back; enroll and sync are suspend functions that run on the
 * library's own runtime (`runBlocking` here, a coroutine scope in the app).
 */
class RepDaySyncTest {
    @TempDir
    lateinit var dir: Path

    private val fixtures = File(System.getProperty("fieldsync.fixtures"))

    private class FakeClock(var now: Long) : PhoneClock {
        override fun nowMs(): Long = now
        override fun uptime(): FfiUptime? = null
    }

    /** A phone's two clocks: the wall clock the user can set, and time since boot, which moves only as time passes. */
    private class PhoneClocks(var wall: Long) : PhoneClock {
        var sinceBoot = 120_000L
        fun pass(ms: Long) {
            wall += ms
            sinceBoot += ms
        }
        override fun nowMs(): Long = wall
        override fun uptime(): FfiUptime? = FfiUptime(bootId = "7", uptimeMs = sinceBoot)
    }

    private class MemoryKeyStorage : SecureKeyStorage {
        val entries: MutableMap<String, ByteArray> = Collections.synchronizedMap(mutableMapOf())
        override fun load(entry: String): ByteArray? = entries[entry]
        override fun store(entry: String, value: ByteArray) {
            entries[entry] = value
        }
    }

    private class FixedLocation(private val fix: FfiFix) : LocationService {
        var asked = 0
        override fun currentFix(): FfiFix? = fix.also { asked++ }
    }

    private class Recorder : SyncProgressListener {
        val seen: MutableList<FfiSyncProgress> = Collections.synchronizedList(mutableListOf())
        override fun onProgress(progress: FfiSyncProgress) {
            seen += progress
        }
    }

    private fun fix(lat: Double = 31.2989, lon: Double = 120.5853) =
        FfiFix(lat = lat, lon = lon, datum = "gcj02", source = "gps", accuracyM = 8.0, at = null, mock = false)

    private fun stroke(n: Int = 14) =
        (0 until n).map { FfiStrokePoint(x = 10f + it * 12f, y = 30f + (it % 5) * 9f, tMs = (it * 9).toUInt(), pressure = 0.5f) }

    @Test
    fun `a rep's offline day syncs through a real relay to a second device`(): Unit = Relay(dir.resolve("relay")).use { relay ->
        val morning = 1_790_000_000_000L
        val clock = FakeClock(morning)
        val keys = MemoryKeyStorage()
        val gps = FixedLocation(fix())
        val rep = FieldStore.openWith(dir.resolve("rep.fieldsync").toString(), clock, keys, gps)
        val qrPhoto = File(fixtures, "qr/qrcode-3/26.png")
        val customerId: String
        val cardId: String
        val visitId: String
        val slipId: String
        val photoSha: String
        try {
            val outcome = rep.createCustomerChecked(
                FfiNewCustomer(
                    companyName = "苏州精工机械有限公司", phones = listOf("0512-6888 8888"), address = "苏州工业园区",
                    tags = listOf("展会"), location = fix(), creditCode = null,
                ),
                FfiCreateMode.WARN_IF_DUPLICATES,
            )
            val customer = assertIs<FfiCreateOutcome.Created>(outcome).customer
            customerId = customer.id
            assertEquals(morning, customer.createdAt, "the library read the app's clock")

            val scan = rep.scanLeadImage(qrPhoto.readBytes())
            assertEquals(File(fixtures, "qr/qrcode-3/26.txt").readText(), scan.lead.rawPayload)
            assertEquals("Sean Owen", scan.lead.name)
            cardId = rep.saveLeadCard(scan.lead, "2026 工博会", customer.id).id

            clock.now += 3_600_000
            val visit = rep.createVisit(customer.id, clock.now, "季度保养")
            visitId = visit.id
            val checkIn = rep.checkInHere(visit.id, 480)
            assertEquals(1, gps.asked)
            assertEquals(true, checkIn.visit.onSite)
            val photo = rep.attachPhoto(visit.id, File(fixtures, "exif/gps_DSCN0010.jpg").readBytes(), fix(), 480)
            photoSha = photo.sha256
            val slip = rep.createSlip(visit.id, listOf(FfiSlipItem("更换主轴轴承", 2.0, "套")), "")
            slipId = slip.id
            val signed = rep.signSlip(slip.id, "王建国", 300f, 120f, listOf(stroke(), stroke(6)), fix())
            assertNull(signed.verificationProblem)
            val waiting = rep.outboxLen()
            assertTrue(waiting >= 6uL)

            val enrollment = runBlocking { rep.enroll(relay.url, relay.codes[0], "rep phone") }
            assertEquals(rep.deviceId(), enrollment.deviceId)
            assertEquals(setOf("fieldsync.device_key", "fieldsync.relay_token"), keys.entries.keys)
            val progress = Recorder()
            val report = runBlocking { rep.sync(progress) }
            assertEquals(waiting.toUInt(), report.pushed)
            assertEquals(0uL, rep.outboxLen())
            val blobs = listOf(photo.sha256, photo.thumbnailSha256!!, signed.signaturePngSha256!!, signed.strokesSha256!!)
            assertEquals(blobs.size.toUInt(), report.blobsUploaded)
            for (sha in blobs) assertContentEquals(rep.blob(sha), relay.blob(sha).readBytes())
            val phases = progress.seen.map { it.phase }.toSet()
            assertEquals(setOf(SyncPhase.PUSHING, SyncPhase.PULLING, SyncPhase.BLOBS), phases)
            assertContains(progress.seen, FfiSyncProgress(SyncPhase.PUSHING, waiting, waiting))
        } finally {
            rep.closeStore()
            rep.close()
        }

        FieldStore.open(dir.resolve("second.fieldsync").toString()).use { other ->
            try {
                runBlocking {
                    // The supervisor: another rep would see only that the customer exists and
                    // who owns it (docs/ownership.md).
                    other.enroll(relay.url, relay.codes[2], "supervisor phone")
                    other.sync(null)
                }
                assertEquals("苏州精工机械有限公司", other.customer(customerId).companyName)
                assertEquals("Sean Owen", other.leadCard(cardId).lead.name)
                assertEquals(listOf(photoSha), other.visit(visitId).photos.map { it.sha256 })
                val slip = other.slip(slipId)
                assertEquals("王建国", slip.signerName)
                assertNull(slip.verificationProblem)
            } finally {
                other.closeStore()
            }
        }
    }

    @Test
    fun `a clock set forward a day after a sync is flagged from the phone's uptime`(): Unit = Relay(dir.resolve("relay")).use { relay ->
        val clock = PhoneClocks(System.currentTimeMillis())
        val rep = FieldStore.openWith(dir.resolve("rep.fieldsync").toString(), clock, MemoryKeyStorage(), null)
        try {
            val customer = assertIs<FfiCreateOutcome.Created>(
                rep.createCustomerChecked(
                    FfiNewCustomer(
                        companyName = "苏州精工机械有限公司", phones = listOf(), address = "", tags = listOf(),
                        location = fix(), creditCode = null,
                    ),
                    FfiCreateMode.WARN_IF_DUPLICATES,
                ),
            ).customer
            runBlocking {
                rep.enroll(relay.url, relay.codes[0], "rep phone")
                rep.sync(null)
            }
            // An hour passes; the rep moves the wall clock a day ahead.
            clock.pass(3_600_000)
            clock.wall += 86_400_000
            val visit = rep.createVisit(customer.id, clock.wall, "")
            val checkIn = rep.checkIn(visit.id, fix(), 480)
            val flag = checkIn.visit.flags.single { it.code == "clock_jumped" }
            // A day, give or take the relay's and the test's clocks differing by a second or two.
            assertTrue(Regex("moved by 86(39\\d|40\\d) s").containsMatchIn(flag.detail), flag.detail)
            assertEquals("accept", checkIn.outcome)
        } finally {
            rep.closeStore()
            rep.close()
        }
    }

    @Test
    fun `sync and enroll errors arrive as typed exceptions`(): Unit = Relay(dir.resolve("relay")).use { relay ->
        FieldStore.open(dir.resolve("d.fieldsync").toString()).use { store ->
            try {
                assertFailsWith<FfiException.Unauthorized> { runBlocking { store.sync(null) } }
                assertFailsWith<FfiException.Unauthorized> {
                    runBlocking { store.enroll(relay.url, "WRONG-CODE-0000", "phone") }
                }
                assertFailsWith<FfiException.InvalidInput> {
                    runBlocking { store.enroll("relay.example", relay.codes[0], "phone") }
                }
                relay.close()
                val down = assertFailsWith<FfiException.Network> {
                    runBlocking { store.enroll(relay.url, relay.codes[0], "phone") }
                }
                assertTrue(down.retryable)
                assertNull(store.relayUrl())
            } finally {
                store.closeStore()
            }
            assertFailsWith<FfiException.StoreUnavailable> { runBlocking { store.sync(null) } }
        }
    }

    @Test
    fun `a panic inside the library is an Internal exception and the store survives`() {
        FieldStore.open(dir.resolve("p.fieldsync").toString()).use { store ->
            try {
                val thrown = assertFailsWith<FfiException.Internal> { store.testOnlyPanic("boom from kotlin") }
                assertContains(thrown.detail, "boom from kotlin")
                assertFailsWith<FfiException.Internal> { runBlocking { store.testOnlyPanicAsync("async boom") } }
                assertEquals(0uL, store.outboxLen())
            } finally {
                store.closeStore()
            }
        }
    }

    @Test
    fun `bad arguments from Kotlin are InvalidInput`() {
        FieldStore.open(dir.resolve("b.fieldsync").toString()).use { store ->
            try {
                assertFailsWith<FfiException.InvalidInput> { store.scanLeadImage("not a photo".toByteArray()) }
                assertFailsWith<FfiException.InvalidInput> { store.scanLeadText("  ") }
                assertFailsWith<FfiException.InvalidInput> { store.customersNear(fix(lat = Double.NaN), 100.0, 10u) }
                assertFailsWith<FfiException.InvalidInput> { store.visit("") }
            } finally {
                store.closeStore()
            }
        }
    }
}
