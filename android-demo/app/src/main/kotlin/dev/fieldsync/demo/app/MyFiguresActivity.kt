package dev.fieldsync.demo.app

import android.widget.TextView
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.MyFiguresViewModel

/**
 * 我的业绩: the rep's own figures this month (behaviour, results, data quality) and the payout
 * the team's rules would give them, computed on the phone offline, each against the team's mean
 * from the relay's scoreboard as last synced; the week and quarter below.
 */
class MyFiguresActivity : ScreenActivity() {
    override fun onStoreReady(repository: FieldRepository) {
        val screen = MyFiguresViewModel(repository, screenScope)
        val payout = text(size = 20f)
        val lines = section()
        val others = text(size = 14f)
        button("Refresh") { screen.refresh() }

        screen.state.renderWith { state ->
            showProblem(state.problem)
            payout.text = state.monthPayout?.let { "本月预计奖金 $it" } ?: "…"
            lines.removeAllViews()
            for (line in state.monthLines) {
                lines.addView(TextView(this).apply {
                    text = "${line.label}  ${line.shown}" + (line.teamMean?.let { "  团队均值 $it" } ?: "")
                    setPadding(0, 8, 0, 8)
                })
            }
            others.text = state.periods.filterIndexed { i, _ -> i != 1 }.joinToString("\n") { p ->
                val visits = p.metrics.firstOrNull { it.metric == "effective_visits" }?.value ?: 0
                "${p.period}: 有效拜访 $visits"
            }
        }
        screen.refresh()
    }
}
