package dev.fieldsync.demo

import java.nio.file.Files
import java.nio.file.Path
import java.time.ZoneId
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

/** Opening the store at start-up: the failures the first screen has to show. */
class FieldRepositoryTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `a store held open elsewhere is unavailable, and opens once it is closed`() = runBlocking {
        val path = dir.resolve("phone.fieldsync").toString()
        val first = assertIs<Outcome.Done<FieldRepository>>(FieldRepository.openOnIo(path, Dispatchers.IO))
        val deviceId = first.value.deviceId()

        val second = FieldRepository.openOnIo(path, Dispatchers.IO)
        assertEquals(ProblemKind.STORE_UNAVAILABLE, assertIs<Outcome.Failed>(second).problem.kind)

        first.value.close()
        first.value.close() // closing twice is harmless
        val reopened = assertIs<Outcome.Done<FieldRepository>>(FieldRepository.openOnIo(path, Dispatchers.IO))
        reopened.value.use { assertEquals(deviceId, it.deviceId()) }
    }

    @Test
    fun `a file that is not a fieldsync store and an empty path are problems, not crashes`() = runBlocking {
        val notAStore = dir.resolve("photo.jpg")
        Files.write(notAStore, Fixtures.exif("gps_DSCN0010.jpg"))
        val refused = FieldRepository.openOnIo(notAStore.toString(), Dispatchers.IO)
        assertEquals(ProblemKind.STORE_UNAVAILABLE, assertIs<Outcome.Failed>(refused).problem.kind)

        val empty = FieldRepository.openOnIo("  ", Dispatchers.IO)
        val problem = assertIs<Outcome.Failed>(empty).problem
        assertEquals(ProblemKind.INVALID_INPUT, problem.kind)
        assertTrue("path" in problem.detail, problem.detail)
    }

    @Test
    fun `the offset passed to the core follows the phone's zone`() {
        FieldRepository.open(dir.resolve("a.fieldsync").toString(), ZoneId.of("Asia/Kolkata")).use {
            assertEquals(330, it.utcOffsetMinutes)
        }
    }
}
