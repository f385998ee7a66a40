package dev.fieldsync.demo

import java.io.File
import java.nio.file.Path
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

class ScanLeadViewModelTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var phone: TestPhone
    private lateinit var scanner: ScanLeadViewModel

    /** A vCard business card photographed by a phone (ZXing's blackbox set) and its text. */
    private val vcardPhoto = File(Fixtures.root, "qr/qrcode-2/11.png")
    private val vcardText = File(Fixtures.root, "qr/qrcode-2/11.txt").readText()

    @BeforeEach
    fun setUp() {
        phone = TestPhone(dir)
        scanner = ScanLeadViewModel(phone.repository, phone.scope)
    }

    @AfterEach
    fun tearDown() = phone.close()

    @Test
    fun `contact-card QR photos decode to the text they encode and parse as leads`() = runBlocking {
        val cards = File(Fixtures.root, "qr").walk()
            .filter { it.extension == "txt" && Regex("^(BEGIN:VCARD|MECARD:)").containsMatchIn(it.readText()) }
            .map { File(it.parentFile, it.nameWithoutExtension + ".png") }
            .filter { it.isFile }
            .sortedBy { it.path }
            .toList()
        assertTrue(cards.size >= 10, "contact-card photos in the fixtures: ${cards.size}")
        val decoded = mutableListOf<String>()
        for (photo in cards) {
            scanner.scanPhoto(photo.readBytes()).join()
            val state = scanner.state.value
            val scan = state.scan
            if (scan == null) {
                // Not every blurred phone photo decodes (ZXing's own reader misses some too), but
                // the screen says why instead of failing.
                assertEquals(ProblemKind.INVALID_INPUT, state.problem?.kind, "${photo.name}: ${state.problem}")
                continue
            }
            val expected = File(photo.parentFile, photo.nameWithoutExtension + ".txt").readText()
            assertEquals(expected.trimEnd(), scan.lead.rawPayload.trimEnd(), photo.path)
            assertTrue(scan.lead.format == "mecard" || scan.lead.format.startsWith("vcard"), scan.lead.format)
            decoded += photo.path
        }
        assertTrue(decoded.size * 2 >= cards.size, "decoded ${decoded.size} of ${cards.size}: $decoded")
    }

    @Test
    fun `a scanned card of a known customer warns, and the rep links the lead to that customer`() = runBlocking {
        val nettek = phone.customer("NetTek Ltd")
        scanner.atEvent("  Canton Fair 2026  ")
        scanner.scanPhoto(vcardPhoto.readBytes()).join()

        val scan = assertNotNull(scanner.state.value.scan, "${scanner.state.value.problem}")
        assertEquals("NetTek Ltd", scan.lead.company)
        val warning = scanner.state.value.duplicateWarning
        assertEquals(listOf(nettek.id), warning.map { it.customer.id })
        assertContains(warning.single().reasons.map { it.code }, "same_name")

        scanner.linkTo(nettek.id).join()
        val saved = assertNotNull(scanner.state.value.saved)
        assertEquals(nettek.id, saved.customerId)
        assertEquals("Canton Fair 2026", saved.sourceEvent)
        assertEquals(vcardText.trimEnd(), saved.lead.rawPayload.trimEnd())
    }

    @Test
    fun `a card sharing a mobile number with a customer under another name is flagged by the number`() = runBlocking {
        // Phone numbers are matched in their Chinese forms (dedup::phone); the ZXing cards are
        // Western, so this card is the text a scanner app returns for a Chinese one.
        val jinggong = phone.customer("苏州精工机械有限公司", phones = listOf("138 1234 5678"))
        val card = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:王;建国\r\nFN:王建国\r\nORG:吴中精密设备\r\n" +
            "TITLE:采购经理\r\nTEL;TYPE=CELL:+86 138-1234-5678\r\nEND:VCARD\r\n"
        scanner.scanText(card).join()
        val scan = assertNotNull(scanner.state.value.scan, "${scanner.state.value.problem}")
        assertEquals("王建国", scan.lead.name)
        val candidate = scan.candidates.single { it.customer.id == jinggong.id }
        val shared = candidate.reasons.single { it.code == "shared_phone" }
        assertEquals("+8613812345678", shared.phone)
    }

    @Test
    fun `creating a customer from a lead is stopped by the duplicate check until the rep insists`() = runBlocking {
        scanner.scanText(vcardText).join()
        assertEquals(emptyList(), scanner.state.value.duplicateWarning)
        scanner.createCustomer().join()
        val first = assertNotNull(scanner.state.value.createdCustomer, "${scanner.state.value.problem}")
        assertEquals("NetTek Ltd", first.companyName)
        assertEquals(first.id, scanner.state.value.saved?.customerId)

        // The same card again (a colleague scanned it too): now it matches the customer just made.
        scanner.scanText(vcardText).join()
        assertNull(scanner.state.value.saved, "a new scan starts over")
        assertEquals(listOf(first.id), scanner.state.value.duplicateWarning.map { it.customer.id })
        scanner.createCustomer().join()
        val blocked = scanner.state.value
        assertEquals(listOf(first.id), blocked.blockingDuplicates.map { it.customer.id })
        assertNull(blocked.saved)
        assertEquals(1, phone.repository.searchCustomers("NetTek").size, "nothing saved")

        scanner.createCustomer(anyway = true).join()
        assertNotNull(scanner.state.value.saved)
        assertEquals(2, phone.repository.searchCustomers("NetTek").size)
    }

    @Test
    fun `a card kept as a bare lead has no customer`() = runBlocking {
        scanner.scanText(File(Fixtures.root, "qr/qrcode-3/10.txt").readText()).join()
        scanner.keepAsLead().join()
        val saved = assertNotNull(scanner.state.value.saved, "${scanner.state.value.problem}")
        assertNull(saved.customerId)
        assertEquals(0, phone.repository.searchCustomers("Google").size)
    }

    @Test
    fun `photos without a code, non-images and empty text are problems with a reason`() = runBlocking {
        val inputs = mapOf(
            "camera photo with no QR code" to Fixtures.exif("gps_DSCN0010.jpg"),
            "random bytes" to ByteArray(4096) { (it * 31 % 251).toByte() },
            "empty" to ByteArray(0),
        )
        for ((what, bytes) in inputs) {
            scanner.scanPhoto(bytes).join()
            val state = scanner.state.value
            assertEquals(ProblemKind.INVALID_INPUT, state.problem?.kind, what)
            assertTrue(state.problem!!.detail.isNotBlank(), what)
            assertNull(state.scan, what)
            assertFalse(state.busy, what)
        }
        scanner.scanText("").join()
        assertEquals(ProblemKind.INVALID_INPUT, scanner.state.value.problem?.kind)
    }
}
