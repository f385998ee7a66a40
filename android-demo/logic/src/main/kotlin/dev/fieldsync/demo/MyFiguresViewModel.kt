package dev.fieldsync.demo

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import uniffi.fieldsync_ffi.FfiMyFigures

/**
 * One line of the 我的业绩 screen: a metric, its value as reps read it, its family, and the
 * team's mean as reps read it (null before the relay's scoreboard was synced).
 */
data class FigureLine(
    val metric: String,
    val label: String,
    val family: String,
    val shown: String,
    val teamMean: String? = null,
)

/** What the 我的业绩 screen shows: this week's, month's and quarter's figures, offline. */
data class MyFiguresState(
    val busy: Boolean = false,
    /** Week, month and quarter, in that order. */
    val periods: List<FfiMyFigures> = emptyList(),
    /** The month's figures as lines, behaviour first. */
    val monthLines: List<FigureLine> = emptyList(),
    /** The month's projected payout as reps read it (¥3,636.00), or why there is none. */
    val monthPayout: String? = null,
    /** How many reps the month's team figures count; null before a scoreboard was synced. */
    val teamReps: Int? = null,
    val problem: Problem? = null,
)

/**
 * The rep's own figures (docs/kpi.md), computed on the phone from its own records through the
 * core's KPI projection: no network needed, the same numbers the relay computes for the same
 * records; the team's mean and median from the relay's scoreboard of the period as last synced
 * (also offline).
 */
class MyFiguresViewModel(
    private val repository: FieldRepository,
    private val scope: CoroutineScope,
    private val io: CoroutineDispatcher = Dispatchers.IO,
) {
    private val mutableState = MutableStateFlow(MyFiguresState())

    /** The screen's state. */
    val state: StateFlow<MyFiguresState> = mutableState.asStateFlow()

    /** Recomputes the three periods containing today. */
    fun refresh(): Job = scope.launch {
        mutableState.update { it.copy(busy = true, problem = null) }
        val loaded = callLibrary(io) { repository.currentPeriods().map { repository.myFigures(it) } }
        mutableState.update {
            when (loaded) {
                is Outcome.Done -> {
                    val month = loaded.value[1]
                    MyFiguresState(
                        periods = loaded.value,
                        monthLines = lines(month),
                        monthPayout = month.payoutFen?.let(::yuan) ?: month.payoutUnavailable,
                        teamReps = month.teamReps?.toInt(),
                    )
                }
                is Outcome.Failed -> it.copy(busy = false, problem = loaded.problem)
            }
        }
    }

    companion object {
        private val familyOrder = listOf("behaviour", "result", "data_quality")

        /** A value in its unit as a rep reads it: counts as they are, rates in %, money in ¥. */
        fun shown(unit: String, value: Long): String = when (unit) {
            "basis_points" -> (if (value < 0) "-" else "") + "%d.%02d%%".format(Math.abs(value) / 100, Math.abs(value) % 100)
            "milli" -> "%d.%03d".format(value / 1000, value % 1000)
            "fen" -> yuan(value)
            else -> value.toString()
        }

        /** Fen as yuan with two decimals: 363600 → ¥3,636.00. */
        fun yuan(fen: Long): String = "¥%,d.%02d".format(fen / 100, Math.abs(fen % 100))

        fun lines(figures: FfiMyFigures): List<FigureLine> = figures.metrics
            .sortedBy { familyOrder.indexOf(it.family) }
            .map {
                FigureLine(it.metric, it.label, it.family, shown(it.unit, it.value), it.teamMean?.let { mean -> shown(it.unit, mean) })
            }
    }
}
