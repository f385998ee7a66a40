package dev.fieldsync.demo

import java.io.ByteArrayInputStream
import java.nio.file.Path
import java.time.LocalTime
import java.time.ZonedDateTime
import javax.imageio.ImageIO
import kotlin.math.PI
import kotlin.math.sin
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiSlipItem

class SignSlipViewModelTest {
    @TempDir
    lateinit var dir: Path
    private lateinit var phone: TestPhone
    private lateinit var visitId: String

    private val padWidth = 600f
    private val padHeight = 240f
    private val items = listOf(
        FfiSlipItem(description = "更换轴承 6205-2RS", quantity = 2.0, unit = "套"),
        FfiSlipItem(description = "Lubrication service", quantity = 1.5, unit = "h"),
    )

    @BeforeEach
    fun setUp() {
        phone = TestPhone(dir)
        val customer = phone.customer("苏州精工机械")
        val noon = ZonedDateTime.now(phone.zone).with(LocalTime.NOON).toInstant().toEpochMilli()
        visitId = phone.repository.planVisit(customer.id, noon, "").id
    }

    @AfterEach
    fun tearDown() = phone.close()

    private fun screen(location: LocationProvider = ScriptedLocation(FixResult.Fix(gpsFix(31.2989, 120.5853)))) =
        SignSlipViewModel(phone.repository, location, phone.scope)

    /**
     * A hand signature as a pad reports it: a looping first stroke sampled every 8 ms, a lift,
     * then a short underline; uptime timestamps as Android's MotionEvent gives them.
     */
    private fun SignSlipViewModel.drawSignature(startUptimeMs: Long = 8_123_456L) {
        var t = startUptimeMs
        penDown(40f, 150f, 0.35f, t)
        for (i in 1..60) {
            t += 8
            val x = 40f + i * 7.5f
            val y = 130f + 60f * sin(i * PI.toFloat() / 9f)
            penMove(x, y, 0.4f + (i % 10) / 40f, t)
        }
        t += 180 // pen lifted
        penDown(60f, 205f, 0.5f, t)
        for (i in 1..20) {
            t += 8
            penMove(60f + i * 22f, 205f - i * 0.5f, 0.55f, t)
        }
    }

    @Test
    fun `the customer signs on the pad and the slip is sealed with a verifying signature`() = runBlocking {
        val slips = screen()
        slips.open(visitId, items, "两台设备").join()
        val opened = assertNotNull(slips.state.value.slip)
        assertNull(opened.signedAt)
        assertEquals(items, opened.items)

        slips.drawSignature()
        val strokes = slips.state.value.strokes
        assertEquals(listOf(61, 21), strokes.map { it.size })
        assertEquals(0u, strokes[0][0].tMs, "times count from the first sample")
        assertEquals(60u * 8u + 180u, strokes[1][0].tMs)

        slips.sign("王建国", padWidth, padHeight).join()
        val state = slips.state.value
        assertNull(state.problem)
        val signed = assertNotNull(state.slip)
        assertEquals("王建国", signed.signerName)
        assertNotNull(signed.signedAt)
        assertNull(signed.verificationProblem)
        assertTrue(state.signedAndVerified)

        val png = assertNotNull(state.signature).png
        assertEquals(signed.signaturePngSha256, state.signature!!.sha256)
        val image = assertNotNull(ImageIO.read(ByteArrayInputStream(png)), "the signature is a readable PNG")
        assertTrue(image.width > 0 && image.height > 0)

        // Reopening the slip later shows the same sealed slip and signature.
        val later = screen()
        later.load(signed.id).join()
        assertEquals(signed, later.state.value.slip)
        assertEquals(state.signature, later.state.value.signature)
    }

    @Test
    fun `a signed slip refuses a second signature and stays as signed`() = runBlocking {
        val slips = screen()
        slips.open(visitId, items).join()
        slips.drawSignature()
        slips.sign("王建国", padWidth, padHeight).join()
        val signed = slips.state.value.slip

        slips.clearPad()
        slips.drawSignature(startUptimeMs = 9_000_000L)
        slips.sign("李四", padWidth, padHeight).join()
        assertEquals(ProblemKind.SEALED, slips.state.value.problem?.kind)
        assertEquals(signed, slips.state.value.slip)
        assertEquals(signed, phone.repository.slip(signed!!.id))
    }

    @Test
    fun `an empty pad, a blank name and a stroke off the pad are input problems and leave the slip unsigned`() = runBlocking {
        val slips = screen()
        slips.open(visitId, items).join()
        val slipId = slips.state.value.slip!!.id

        slips.sign("王建国", padWidth, padHeight).join()
        assertEquals(ProblemKind.INVALID_INPUT, slips.state.value.problem?.kind, "empty pad")

        slips.drawSignature()
        slips.sign("   ", padWidth, padHeight).join()
        assertEquals(ProblemKind.INVALID_INPUT, slips.state.value.problem?.kind, "blank name")

        slips.sign("王建国", padWidth / 4, padHeight).join() // the strokes run past a narrower pad
        val offPad = slips.state.value.problem
        assertEquals(ProblemKind.INVALID_INPUT, offPad?.kind)
        assertContains(offPad!!.detail, "pad")

        assertNull(phone.repository.slip(slipId).signedAt)
        assertNull(slips.state.value.signature)
    }

    @Test
    fun `clearing the pad starts the timing again`() {
        val slips = screen()
        slips.drawSignature()
        slips.clearPad()
        assertEquals(emptyList(), slips.state.value.strokes)
        slips.penDown(10f, 10f, 0.5f, 20_000_000L)
        slips.penMove(12f, 11f, 0.5f, 20_000_016L)
        assertEquals(listOf(0u, 16u), slips.state.value.strokes.single().map { it.tMs })
    }

    @Test
    fun `a slip for a visit this phone does not have cannot be signed, and shows not found`() = runBlocking {
        // The core opens it (the visit may still arrive by sync) but signing needs the visit's photos.
        val slips = screen()
        slips.open("0190a4c2-3b8e-7c1d-9f2a-4b5c6d7e8f90", items).join()
        val orphan = assertNotNull(slips.state.value.slip)
        slips.drawSignature()
        slips.sign("王建国", padWidth, padHeight).join()
        assertEquals(ProblemKind.NOT_FOUND, slips.state.value.problem?.kind)
        assertNull(phone.repository.slip(orphan.id).signedAt)
    }

    @Test
    fun `a phone without a location fix can still take a signature`() = runBlocking {
        val location = ScriptedLocation(FixResult.Unavailable("location is off"))
        val slips = screen(location)
        slips.open(visitId, items).join()
        slips.drawSignature()
        slips.sign("Wang Jianguo", padWidth, padHeight).join()
        assertNull(slips.state.value.problem)
        assertTrue(slips.state.value.signedAndVerified)
        assertEquals(1, location.calls)
    }
}
