package dev.fieldsync.demo

import java.io.File
import java.nio.file.Path
import java.util.concurrent.TimeUnit

/**
 * `fieldsync serve` from this workspace on a free loopback port, with reps and supervisors of
 * one team bootstrapped through `fieldsync admin` (as bindings/kotlin's tests do); the scheduler
 * ticks every second so alerts come quickly. [config], when given, is the relay's TOML
 * configuration (written next to [dataDir] and passed as `FIELDSYNC_CONFIG`); [env] adds to the
 * relay's environment. scripts/gen-bindings.sh writes the binary's path to
 * bindings/generated/relay-bin.
 */
class TestRelay(
    private val dataDir: Path,
    reps: Int,
    supervisors: Int,
    config: String? = null,
    env: Map<String, String> = emptyMap(),
) : AutoCloseable {
    companion object {
        /** Push delivery to plain-http loopback endpoints (a test's receiver), looked for every second. */
        const val LOOPBACK_PUSH_CONFIG =
            "[push]\ncontact = \"mailto:ops@fieldsync.example\"\nallow_insecure_loopback = true\npoll_interval_secs = 1\n"
    }

    private val binary: String =
        System.getenv("FIELDSYNC_BIN")
            ?: File(checkNotNull(System.getProperty("fieldsync.generated")) { "run through Maven" }, "relay-bin").readText().trim()

    /** Enrollment codes by role, in bootstrap order. */
    val codes: Map<String, List<String>>
    val url: String
    private val process: Process

    init {
        val boot = admin("bootstrap", "--reps", "$reps", "--supervisors", "$supervisors")
        codes = Regex("\\{[^{}]*\\}").findAll(boot).mapNotNull { user ->
            val role = Regex("\"role\"\\s*:\\s*\"([^\"]+)\"").find(user.value)?.groupValues?.get(1)
            val code = Regex("\"code\"\\s*:\\s*\"([^\"]+)\"").find(user.value)?.groupValues?.get(1)
            if (role != null && code != null) role to code else null
        }.groupBy({ it.first }, { it.second })
        check(codes["rep"]?.size == reps && (supervisors == 0 || codes["supervisor"]?.size == supervisors)) {
            "bootstrap printed $boot"
        }
        process = ProcessBuilder(binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir.toString())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .also {
                it.environment()["RUST_LOG"] = "warn"
                it.environment()["FIELDSYNC_SCHEDULER_INTERVAL_SECS"] = "1"
                if (config != null) {
                    val file = dataDir.resolveSibling("${dataDir.fileName}.toml")
                    file.toFile().writeText(config)
                    it.environment()["FIELDSYNC_CONFIG"] = file.toString()
                }
                it.environment().putAll(env)
            }
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

    override fun close() {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}
