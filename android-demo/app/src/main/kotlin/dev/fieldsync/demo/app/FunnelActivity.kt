package dev.fieldsync.demo.app

import android.widget.TextView
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.FunnelViewModel
import uniffi.fieldsync_ffi.FfiStage

/**
 * The rep's funnel: deals per stage, the deals that need attention, and moving the open deal a
 * stage on or back. (Attaching a stage's documents goes through the same view model; the picker
 * for them is not part of this demo screen.)
 */
class FunnelActivity : ScreenActivity() {
    companion object {
        const val EXTRA_OWNER = "owner"
        const val EXTRA_DEAL_ID = "deal_id"
    }

    override fun onStoreReady(repository: FieldRepository) {
        val owner = intent.getStringExtra(EXTRA_OWNER) ?: "me"
        val funnel = FunnelViewModel(repository, owner, screenScope)
        val counts = text(size = 16f)
        val reminders = section()
        val deal = text(size = 18f)
        val note = field("Note for the move")
        button("Move to the next stage") {
            val current = funnel.state.value.deal?.stage ?: return@button
            // The open stages in order, then Won; Lost is not "next".
            if (current == FfiStage.WON || current == FfiStage.LOST) return@button
            funnel.moveTo(FfiStage.entries[current.ordinal + 1], note.text.toString())
        }
        button("Move back a stage") {
            val current = funnel.state.value.deal?.stage ?: return@button
            if (current == FfiStage.WON || current == FfiStage.LOST) return@button
            FfiStage.entries.getOrNull(current.ordinal - 1)?.let { funnel.moveTo(it, note.text.toString()) }
        }

        funnel.state.renderWith { state ->
            showProblem(state.problem)
            counts.text = state.report?.team?.joinToString("\n") { "${it.stage.name.lowercase()}: ${it.deals}" } ?: "…"
            reminders.removeAllViews()
            for (stalled in state.reminders) {
                reminders.addView(TextView(this).apply {
                    text = "⚑ ${stalled.title} (${stalled.stage.name.lowercase()}, ${stalled.kinds.joinToString { it.name.lowercase() }})"
                    setPadding(0, 12, 0, 12)
                    setOnClickListener { funnel.open(stalled.opportunityId) }
                })
            }
            deal.text = state.deal?.let { d ->
                "${d.title}: ${d.stage.name.lowercase()} · ${d.documents.size} documents"
            } ?: "Tap a deal"
        }
        intent.getStringExtra(EXTRA_DEAL_ID)?.let { funnel.open(it) } ?: funnel.refresh()
    }
}
