package dev.fieldsync.bindings

import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import uniffi.fieldsync_ffi.FfiException
import uniffi.fieldsync_ffi.FieldStore
import uniffi.fieldsync_ffi.decodeWeeklyBrief

/**
 * Performance on facts (docs/kpi.md) through the generated Kotlin bindings and the real library:
 * a weekly brief's payload, written here by hand as another implementation would, decodes with
 * its numbers; a stall alert's does not; "my figures" need an enrolled phone and a period that
 * parses; a phone that synced no team table has none (the relay sends them to supervisors only).
 */
class KpiTest {
    @TempDir
    lateinit var dir: Path

    private val brief = """
        {"v": 1, "type": "weekly_brief", "team_id": "team-1", "week": "2026-W49",
         "text": "W49周报：本周无在谈大单；方案提交转化33%（近8周66%）；无人明显落后。",
         "biggest_deal": null,
         "abnormal_stage": {"stage": "ProposalSubmitted", "week_deals": 3, "week_converted": 1,
                            "week_bp": 3333, "trailing_bp": 6666, "trailing_deals": 6},
         "needs_support": null, "raised_at": 1796000000000}
    """.trimIndent()

    @Test
    fun `a weekly brief decodes with its numbers and a stall alert does not`() {
        val read = decodeWeeklyBrief(brief.toByteArray(Charsets.UTF_8))
        assertEquals("2026-W49", read.week)
        assertEquals("W49周报：本周无在谈大单；方案提交转化33%（近8周66%）；无人明显落后。", read.text)
        assertEquals("ProposalSubmitted", read.abnormalStage)
        assertEquals(3333L, read.abnormalWeekBp)
        assertEquals(6666L, read.abnormalTrailingBp)
        assertNull(read.biggestDealId)
        assertNull(read.needsSupportName)
        assertFailsWith<FfiException.InvalidInput> {
            decodeWeeklyBrief("""{"v": 1, "id": "x", "key": "deal/stage"}""".toByteArray(Charsets.UTF_8))
        }
        assertFailsWith<FfiException.InvalidInput> { decodeWeeklyBrief(byteArrayOf(0xFF.toByte(), 0x00)) }
    }

    @Test
    fun `my figures need an enrolled phone and a period that parses`() {
        val store = FieldStore.open(dir.resolve("rep.fieldsync").toString())
        try {
            assertFailsWith<FfiException.InvalidInput> { store.myFigures("2026-12") }
            assertFailsWith<FfiException.InvalidInput> { store.myFigures("2026-13") }
            assertNull(store.teamTable("2026-12"))
            assertNull(store.teamTable("2026-W49"))
            assertFailsWith<FfiException.InvalidInput> { store.teamTable("2026-W54") }
        } finally {
            store.closeStore()
            store.close()
        }
    }
}
