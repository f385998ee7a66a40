package dev.fieldsync.demo.app

import android.widget.TextView
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.Outcome
import kotlinx.coroutines.launch

/**
 * The supervisor's alerts: those synced to the store and those pushed (UnifiedPushReceiver), the
 * newest on top, each with the deal, its rep, stage, level, the rules broken, days since due and
 * how long before the alert the rep last synced. "Refresh" syncs (what the sync stores arrives
 * through the store subscription); the push registration at the relay is shown below. The view
 * model is the application's (the push receiver feeds the same one), so this screen only renders
 * it and asks it to sync.
 */
class AlertsActivity : ScreenActivity() {
    override fun onStoreReady(repository: FieldRepository) {
        val status = text(size = 14f)
        val list = section()
        val pushLine = text(size = 12f)
        screenScope.launch {
            val alerts = when (val got = app.alerts()) {
                is Outcome.Done -> got.value
                is Outcome.Failed -> return@launch showProblem(got.problem)
            }
            button("Refresh") { alerts.refresh() }
            button("Stop push alerts on this phone") { alerts.unregister() }
            alerts.state.renderWith { state ->
                showProblem(state.problem)
                status.text = when {
                    state.busy || state.syncing -> "…"
                    state.live -> "${state.alerts.size} alerts · live"
                    else -> "${state.alerts.size} alerts"
                }
                list.removeAllViews()
                for (row in state.alerts) {
                    list.addView(TextView(this@AlertsActivity).apply {
                        text = buildString {
                            append(if (row.pushed) "✉ " else "⚑ ")
                            append("${row.title} — ${row.owner}\n")
                            append("${row.stageLabel} · ${row.levelLabel} · ${row.daysSinceDue} days since due\n")
                            append(row.rules.joinToString("; "))
                            append("\nrep last synced: ${row.repLastSync}")
                        }
                        setPadding(0, 16, 0, 16)
                    })
                }
                pushLine.text = state.registration?.let {
                    "Alerts are pushed to this phone (${it.provider}): ${it.address}"
                } ?: "No push registration in this session: alerts arrive when this phone syncs."
            }
            alerts.refresh() // opening the screen syncs, so it shows what the relay raised since
        }
    }
}
