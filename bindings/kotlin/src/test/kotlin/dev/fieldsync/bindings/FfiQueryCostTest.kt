package dev.fieldsync.bindings

import java.io.File
import java.nio.file.Path
import kotlin.test.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiNewCustomer
import uniffi.fieldsync_ffi.FieldStore

/**
 * Cost of a small query through the FFI from the JVM; the same scenario as
 * bindings/python/bench_ffi.py. Fills a store with 1,000 customers (20 name stems x 50), times
 * 2,000 calls of `customersByNamePrefix("Hangzhou", 10)` one by one after a JIT warm-up, and
 * reports the median. Reference in the same run: `deviceId()`, one crossing with no SQLite.
 *
 * Prints one JSON line `{"bench":"ffi-query-kotlin","us_per_call":…}` and writes it to
 * target/bench-ffi-kotlin.json (Maven may hide test output).
 */
class FfiQueryCostTest {
    @TempDir
    lateinit var dir: Path

    @Test
    fun `measure a small name prefix query through the FFI`() {
        val customers = 1_000
        val calls = 2_000
        val store = FieldStore.open(dir.resolve("bench.fieldsync").toString())
        val line = try {
            for (i in 0 until customers) {
                store.createCustomer(
                    FfiNewCustomer(
                        companyName = "${STEMS[i % STEMS.size]} Trading %04d".format(i),
                        phones = listOf("+86 571 ${8000_0000 + i}"),
                        address = null,
                        tags = emptyList(),
                    )
                )
            }
            val rows = store.customersByNamePrefix(PREFIX, LIMIT).size
            assertEquals(LIMIT.toInt(), rows)

            val (queryUs, queryP99Us) = medianUs(calls) { store.customersByNamePrefix(PREFIX, LIMIT) }
            val (referenceUs, _) = medianUs(calls) { store.deviceId() }
            """{"bench":"ffi-query-kotlin","us_per_call":${round2(queryUs)},"p99_us":${round2(queryP99Us)},""" +
                """"calls":$calls,"customers":$customers,"rows_per_call":$rows,""" +
                """"query":"customersByNamePrefix(\"$PREFIX\", $LIMIT)",""" +
                """"reference":"deviceId(): one FFI call, no SQLite, one short string back",""" +
                """"reference_device_id_us_per_call":${round2(referenceUs)},""" +
                """"jvm":"${System.getProperty("java.version")}"}"""
        } finally {
            store.closeStore()
            store.close()
        }
        println(line)
        System.getProperty("fieldsync.bench.out")?.let { File(it).writeText(line + "\n") }
    }

    private fun medianUs(calls: Int, call: () -> Unit): Pair<Double, Double> {
        repeat(2_000) { call() } // JIT warm-up, reader connection, statement cache
        val samples = LongArray(calls)
        for (i in 0 until calls) {
            val start = System.nanoTime()
            call()
            samples[i] = System.nanoTime() - start
        }
        samples.sort()
        return samples[calls / 2] / 1000.0 to samples[(calls * 99) / 100] / 1000.0
    }

    private fun round2(x: Double) = Math.round(x * 100) / 100.0

    private companion object {
        const val PREFIX = "Hangzhou"
        val LIMIT = 10u
        val STEMS = listOf(
            "Hangzhou", "Ningbo", "Wenzhou", "Shaoxing", "Jiaxing", "Huzhou", "Jinhua", "Taizhou", "Lishui",
            "Quzhou", "Zhoushan", "Yiwu", "Cixi", "Yuyao", "Ruian", "Leqing", "Haining", "Tongxiang",
            "Zhuji", "Shangyu",
        )
    }
}
