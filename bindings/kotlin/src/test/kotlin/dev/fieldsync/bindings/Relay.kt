package dev.fieldsync.bindings

import java.io.File
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/**
 * `fieldsync serve` from this workspace as a separate process on a free loopback port, with two
 * reps and a supervisor of one team (codes 0, 1: the reps; 2: the supervisor) bootstrapped
 * through `fieldsync admin` first. scripts/gen-bindings.sh builds
 * the binary and writes its path to bindings/generated/relay-bin.
 */
class Relay(private val dataDir: Path) : AutoCloseable {
    private val binary: String =
        System.getenv("FIELDSYNC_BIN")
            ?: File(System.getProperty("fieldsync.generated"), "relay-bin").readText().trim()
    val tenantId: String
    val codes: List<String>
    val url: String
    private val process: Process

    init {
        val boot = admin("bootstrap", "--reps", "2", "--supervisors", "1")
        tenantId = Regex("\"tenant_id\":\"([^\"]+)\"").find(boot)!!.groupValues[1]
        codes = Regex("\"code\":\"([^\"]+)\"").findAll(boot).map { it.groupValues[1] }.toList()
        check(codes.size == 3) { "bootstrap printed $boot" }
        process = ProcessBuilder(binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir.toString())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .also { it.environment()["RUST_LOG"] = "warn" }
            .start()
        val line = process.inputStream.bufferedReader().readLine().orEmpty().trim()
        val prefix = "fieldsync relay listening on "
        if (!line.startsWith(prefix)) {
            close()
            error("the relay did not start: $line")
        }
        url = line.removePrefix(prefix)
    }

    private fun admin(vararg args: String): String {
        val run = ProcessBuilder(listOf(binary, "admin", "--data-dir", dataDir.toString()) + args)
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start()
        val out = run.inputStream.bufferedReader().readText()
        check(run.waitFor(60, TimeUnit.SECONDS) && run.exitValue() == 0) { "fieldsync admin ${args.toList()} failed" }
        return out
    }

    /** Where the relay keeps an uploaded blob. */
    fun blob(sha256: String): File = dataDir.resolve("blobs/$tenantId/${sha256.take(2)}/$sha256").toFile()

    override fun close() {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}
