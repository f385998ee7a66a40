package dev.fieldsync.demo

import java.io.File
import java.nio.file.Path
import java.time.ZoneId
import java.util.concurrent.ConcurrentLinkedQueue
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import uniffi.fieldsync_ffi.FfiFix
import uniffi.fieldsync_ffi.FfiNewCustomer

/** The shared real-world fixtures (camera JPEGs, QR photos), from the pom's fieldsync.fixtures. */
object Fixtures {
    val root: File = File(checkNotNull(System.getProperty("fieldsync.fixtures")) { "run through Maven" })

    fun exif(name: String): ByteArray = File(root, "exif/$name").readBytes()

    /** What an independent EXIF reader found in a photo (fixtures/exif/expected.json). */
    fun exifGps(name: String): Pair<Double, Double> {
        val json = File(root, "exif/expected.json").readText()
        val entry = Regex("\"${Regex.escape(name)}\":\\s*\\{(.*?)\\}", RegexOption.DOT_MATCHES_ALL).find(json)
            ?: error("$name is not in expected.json")
        val gps = Regex("\"gps_wgs84\":\\s*\\[\\s*([-0-9.]+),\\s*([-0-9.]+)").find(entry.groupValues[1])
            ?: error("$name has no GPS in expected.json")
        return gps.groupValues[1].toDouble() to gps.groupValues[2].toDouble()
    }

    /** Stored pixel size (before rotation) from expected.json. */
    fun exifPixels(name: String): Pair<Int, Int> {
        val json = File(root, "exif/expected.json").readText()
        val entry = Regex("\"${Regex.escape(name)}\":\\s*\\{(.*?)\\}", RegexOption.DOT_MATCHES_ALL).find(json)!!
        val px = Regex("\"pixels\":\\s*\\[\\s*(\\d+),\\s*(\\d+)").find(entry.groupValues[1])!!
        return px.groupValues[1].toInt() to px.groupValues[2].toInt()
    }
}

/** A phone fix as Android's LocationManager gives it (WGS-84, with accuracy). */
fun gpsFix(lat: Double, lon: Double, accuracyM: Double? = 8.0, mock: Boolean = false, datum: String = "wgs84") =
    FfiFix(lat = lat, lon = lon, datum = datum, source = "gps", accuracyM = accuracyM, at = null, mock = mock)

/**
 * The phone's location service for a test: answers with the results queued, in order, then
 * with the last one again (as a phone keeps reporting its last fix).
 */
class ScriptedLocation(vararg answers: FixResult) : LocationProvider {
    private val queue = ConcurrentLinkedQueue(answers.toList())
    @Volatile private var last: FixResult = FixResult.Unavailable("location is off")
    var calls = 0
        private set

    fun then(answer: FixResult) = apply { queue.add(answer) }

    override suspend fun currentFix(): FixResult {
        calls++
        queue.poll()?.let { last = it }
        return last
    }
}

/** A real store in a temporary directory, a repository over it and a scope for view models. */
class TestPhone(dir: Path, val zone: ZoneId = ZoneId.of("Asia/Shanghai")) : AutoCloseable {
    val repository = FieldRepository.open(dir.resolve("phone.fieldsync").toString(), zone)
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    fun customer(name: String, phones: List<String> = emptyList()) =
        repository.createCustomer(FfiNewCustomer(companyName = name, phones = phones, address = null, tags = emptyList()))

    override fun close() {
        scope.cancel()
        repository.close()
    }
}
