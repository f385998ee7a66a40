package dev.fieldsync.demo

import java.io.ByteArrayInputStream
import java.io.File
import java.nio.file.Path
import java.time.LocalTime
import java.time.ZonedDateTime
import javax.imageio.ImageIO
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
import uniffi.fieldsync_ffi.FfiNewCustomer

class VisitCaptureViewModelTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var phone: TestPhone
    private lateinit var visitId: String

    /** Near Suzhou, where the customer is; far from where the fixture photos were taken. */
    private val suzhou = gpsFix(31.2989, 120.5853, accuracyM = 12.0)

    @BeforeEach
    fun setUp() {
        phone = TestPhone(dir)
        val customer = phone.customer("苏州精工机械")
        val noon = ZonedDateTime.now(phone.zone).with(LocalTime.NOON).toInstant().toEpochMilli()
        visitId = phone.repository.planVisit(customer.id, noon, "季度保养").id
    }

    @AfterEach
    fun tearDown() = phone.close()

    private fun screen(location: LocationProvider) =
        VisitCaptureViewModel(phone.repository, location, phone.scope).also { runBlocking { it.load(visitId).join() } }

    private fun isJpeg(bytes: ByteArray?) = bytes != null && bytes.size > 2 && bytes[0] == 0xFF.toByte() && bytes[1] == 0xD8.toByte()

    @Test
    fun `loading shows the visit with its customer, not yet checked in`() {
        val state = screen(ScriptedLocation()).state.value
        assertEquals("苏州精工机械", state.visit?.customerName)
        assertFalse(state.visit!!.checkedIn)
        assertEquals(emptyList(), state.photos)
        assertNull(state.problem)
    }

    @Test
    fun `check-in with a mocked fix is accepted and the screen shows what the checks flagged`() = runBlocking {
        val location = ScriptedLocation(FixResult.Fix(suzhou.copy(mock = true)))
        val capture = screen(location)
        capture.checkIn().join()

        val state = capture.state.value
        assertNull(state.problem)
        val report = assertNotNull(state.lastCheckIn)
        assertEquals("accept", report.outcome)
        // The demo's customers carry no site location yet, so the on-site rule cannot run.
        assertNull(report.distanceM)
        assertNull(report.onSite)
        assertEquals(listOf("site_unknown", "mock_location"), state.flagCodes)
        assertTrue(state.visit!!.checkedIn)
        assertEquals(1u, state.visit!!.visit.fixCount)
        assertEquals(1, location.calls)
    }

    @Test
    fun `at a customer with a known site the screen shows on site, and off site as a flagged check-in`() = runBlocking {
        val site = gpsFix(31.2989, 120.5853, accuracyM = 5.0)
        val customer = phone.repository.createCustomer(
            FfiNewCustomer(companyName = "苏州精工机械二厂", phones = emptyList(), address = null, tags = emptyList(), location = site),
        )
        val noon = ZonedDateTime.now(phone.zone).with(LocalTime.NOON).toInstant().toEpochMilli()
        val visit = phone.repository.planVisit(customer.id, noon, "").id
        // ~110 m north of the site, then ~2.2 km north (0.001° and 0.02° of latitude).
        val location = ScriptedLocation(
            FixResult.Fix(gpsFix(31.2999, 120.5853, accuracyM = 10.0)),
            FixResult.Fix(gpsFix(31.3189, 120.5853, accuracyM = 10.0)),
        )
        val capture = VisitCaptureViewModel(phone.repository, location, phone.scope)
        capture.load(visit).join()

        capture.checkIn().join()
        val near = assertNotNull(capture.state.value.lastCheckIn, "${capture.state.value.problem}")
        assertEquals("accept", near.outcome)
        assertEquals(true, near.onSite)
        assertTrue(near.distanceM!! in 90.0..130.0, "${near.distanceM}")
        assertFalse("off_site" in capture.state.value.flagCodes)

        capture.checkIn().join()
        val far = assertNotNull(capture.state.value.lastCheckIn)
        assertEquals("accept_flagged", far.outcome)
        assertEquals(false, far.onSite)
        assertTrue(far.distanceM!! in 2_000.0..2_400.0, "${far.distanceM}")
        assertContains(capture.state.value.flagCodes, "off_site")
    }

    @Test
    fun `no location fix means no check-in, with the phone's reason on screen`() = runBlocking {
        val capture = screen(ScriptedLocation(FixResult.Unavailable("location is turned off")))
        capture.checkIn().join()

        val state = capture.state.value
        assertEquals(Problem(ProblemKind.NO_LOCATION, "location is turned off"), state.problem)
        assertFalse(state.busy)
        assertEquals(0u, phone.repository.visitRow(visitId).visit.fixCount)
    }

    @Test
    fun `fixes the core refuses are input problems and save nothing`() = runBlocking {
        for (bad in listOf(suzhou.copy(lat = Double.NaN), suzhou.copy(accuracyM = null), suzhou.copy(datum = "wgs-84"))) {
            val capture = screen(ScriptedLocation(FixResult.Fix(bad)))
            capture.checkIn().join()
            val problem = capture.state.value.problem
            assertEquals(ProblemKind.INVALID_INPUT, problem?.kind, "for $bad")
            assertTrue(problem!!.detail.isNotBlank())
            assertNull(capture.state.value.lastCheckIn)
        }
        assertEquals(0u, phone.repository.visitRow(visitId).visit.fixCount)
    }

    @Test
    fun `a camera photo taken where its EXIF says is stored with an upright JPEG thumbnail`() = runBlocking {
        val (lat, lon) = Fixtures.exifGps("gps_DSCN0010.jpg")
        val capture = screen(ScriptedLocation(FixResult.Fix(gpsFix(lat, lon))))
        capture.attachPhoto(Fixtures.exif("gps_DSCN0010.jpg")).join()

        val state = capture.state.value
        assertNull(state.problem)
        val photo = state.photos.single()
        assertEquals(64, photo.photo.sha256.length)
        assertTrue(isJpeg(photo.thumbnailJpeg))
        val codes = photo.photo.flags.map { it.code }
        assertContains(codes, "site_unknown")
        assertFalse("exif_far_from_fix" in codes, "$codes")
        assertEquals(listOf(photo.photo.sha256), state.visit!!.visit.photos.map { it.sha256 })
    }

    @Test
    fun `a photo whose EXIF position is far from the phone is flagged, and a photo without fix uses the check-in`() = runBlocking {
        val location = ScriptedLocation(FixResult.Fix(suzhou), FixResult.Fix(suzhou), FixResult.Unavailable("no signal"))
        val capture = screen(location)
        capture.checkIn().join()
        capture.attachPhoto(Fixtures.exif("gps_DSCN0012.jpg")).join() // taken in Tuscany
        capture.attachPhoto(Fixtures.exif("mobile_jolla.jpg")).join() // no GPS; phone has no fix now

        val state = capture.state.value
        assertNull(state.problem)
        val (tuscany, jolla) = state.photos.map { p -> p.photo.flags.map { it.code } }
        assertContains(tuscany, "exif_far_from_fix")
        assertFalse("no_device_fix" in jolla, "the check-in fix stands in: $jolla")
        assertEquals(2, state.visit!!.visit.photos.size)
    }

    @Test
    fun `a photo with no fix at all is kept and flagged`() = runBlocking {
        val capture = screen(ScriptedLocation(FixResult.Unavailable("no permission")))
        capture.attachPhoto(Fixtures.exif("gps_DSCN0021.jpg")).join()
        assertContains(capture.state.value.photos.single().photo.flags.map { it.code }, "no_device_fix")
    }

    @Test
    fun `a rotated phone photo gets a thumbnail that is upright`() = runBlocking {
        val name = "orientation_landscape_6.jpg" // EXIF orientation 6: stored sideways
        val (storedWidth, storedHeight) = Fixtures.exifPixels(name)
        val capture = screen(ScriptedLocation(FixResult.Fix(suzhou)))
        capture.attachPhoto(Fixtures.exif(name)).join()

        val thumbnail = ImageIO.read(ByteArrayInputStream(capture.state.value.photos.single().thumbnailJpeg))
        // Orientation 6 turns the stored image a quarter, so the long side swaps.
        assertEquals(storedWidth > storedHeight, thumbnail.height > thumbnail.width, "${thumbnail.width}x${thumbnail.height}")
    }

    @Test
    fun `bytes that are not a usable JPEG are an input problem and attach nothing`() = runBlocking {
        val capture = screen(ScriptedLocation(FixResult.Fix(suzhou)))
        val qrPng = File(Fixtures.root, "qr/qrcode-1/1.png").readBytes()
        val jpeg = Fixtures.exif("gps_DSCN0010.jpg")
        for (bad in listOf(qrPng, ByteArray(0), jpeg.copyOf(200), "not a photo".toByteArray())) {
            capture.attachPhoto(bad).join()
            val problem = capture.state.value.problem
            assertEquals(ProblemKind.INVALID_INPUT, problem?.kind, "for ${bad.size} bytes")
            assertFalse(capture.state.value.busy)
        }
        assertEquals(emptyList(), capture.state.value.photos)
        assertEquals(0, phone.repository.visitRow(visitId).visit.photos.size)
    }

    @Test
    fun `the same photo twice is refused the second time`() = runBlocking {
        val capture = screen(ScriptedLocation(FixResult.Fix(suzhou)))
        val jpeg = Fixtures.exif("gps_DSCN0025.jpg")
        capture.attachPhoto(jpeg).join()
        capture.attachPhoto(jpeg).join()
        assertEquals(ProblemKind.INVALID_INPUT, capture.state.value.problem?.kind)
        assertEquals(1, capture.state.value.photos.size)
    }

    @Test
    fun `JPEGs that broke other EXIF readers give a photo or a clear problem, never a crash`() = runBlocking {
        val breakers = File(Fixtures.root, "exif").listFiles { f ->
            f.name.startsWith("tests_") || f.name.startsWith("invalid_") || f.name == "corrupted.jpg" || f.name == "xmp_no_exif.jpg"
        }!!.sortedBy { it.name }
        assertTrue(breakers.size >= 8, "fixtures: ${breakers.map { it.name }}")
        val capture = screen(ScriptedLocation(FixResult.Fix(suzhou)))
        var attached = 0
        for (file in breakers) {
            capture.attachPhoto(file.readBytes()).join()
            val state = capture.state.value
            if (state.problem == null) {
                attached++
                assertEquals(attached, state.photos.size, file.name)
                assertTrue(isJpeg(state.photos.last().thumbnailJpeg), file.name)
            } else {
                assertEquals(ProblemKind.INVALID_INPUT, state.problem!!.kind, "${file.name}: ${state.problem}")
            }
        }
        assertEquals(attached, phone.repository.visitRow(visitId).visit.photos.size)
    }

    @Test
    fun `an unknown visit id is not found on screen`() = runBlocking {
        val capture = VisitCaptureViewModel(phone.repository, ScriptedLocation(), phone.scope)
        capture.load("0190a4c2-3b8e-7c1d-9f2a-4b5c6d7e8f90").join()
        assertEquals(ProblemKind.NOT_FOUND, capture.state.value.problem?.kind)
        assertNull(capture.state.value.visit)
    }
}
