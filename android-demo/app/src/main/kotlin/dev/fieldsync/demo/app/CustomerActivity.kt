package dev.fieldsync.demo.app

import android.content.Intent
import android.net.Uri
import android.widget.TextView
import dev.fieldsync.demo.CustomerViewModel
import dev.fieldsync.demo.FieldRepository
import java.time.Duration
import java.time.Instant
import kotlinx.coroutines.launch

/**
 * One customer: tap a number to call it (the call is saved first, then the dialler opens with
 * ACTION_DIAL, which needs no permission); on return the screen asks what was said, with the time
 * away as the duration. Below, the timeline: visits, follow-ups, deals and cards, newest first.
 */
class CustomerActivity : ScreenActivity() {
    companion object {
        const val EXTRA_CUSTOMER_ID = "customer_id"
    }

    private var model: CustomerViewModel? = null

    override fun onStoreReady(repository: FieldRepository) {
        val customerId = intent.getStringExtra(EXTRA_CUSTOMER_ID) ?: return finish()
        val screen = CustomerViewModel(repository, customerId, screenScope).also { model = it }
        val title = text(size = 20f)
        val numbers = section()
        val summaryPrompt = text(size = 16f)
        val summary = field("What was said (沟通内容)")
        val next = field("Next step (下一步), due tomorrow")
        button("Save the call") {
            screen.finishCall(
                summary = summary.text.toString(),
                outcome = null,
                durationS = screen.suggestedDurationS(),
                nextWhat = next.text.toString(),
                nextDueAt = Instant.now().plus(Duration.ofDays(1)).toEpochMilli(),
            )
            summary.text.clear()
            next.text.clear()
        }
        val sample = field("Sample sent: what")
        button("Log a sample sent (寄样)") {
            screen.logFollowUp("sample_sent", sample.text.toString())
            sample.text.clear()
        }
        val timeline = section()
        button("Older entries") { screen.loadMore() }

        screen.state.renderWith { state ->
            showProblem(state.problem)
            val customer = state.customer
            title.text = customer?.companyName ?: "…"
            numbers.removeAllViews()
            for (phone in customer?.phones.orEmpty()) {
                numbers.addView(TextView(this).apply {
                    textSize = 18f
                    text = "☎ $phone"
                    setPadding(0, 16, 0, 16)
                    setOnClickListener { call(screen, phone) }
                })
            }
            summaryPrompt.text = state.pendingCall?.let { "Call to ${it.activity.phone}: what was said?" } ?: ""
            timeline.removeAllViews()
            for (entry in state.timeline) {
                timeline.addView(TextView(this).apply {
                    text = "${Instant.ofEpochMilli(entry.at)}  ${entry.line}"
                    setPadding(0, 8, 0, 8)
                })
            }
        }
        screen.refresh()
    }

    /** Saves the call, then hands the number to the phone's dialler. */
    private fun call(screen: CustomerViewModel, phone: String) {
        screenScope.launch {
            screen.startCall(phone).join()
            if (screen.state.value.pendingCall != null) {
                startActivity(Intent(Intent.ACTION_DIAL, Uri.fromParts("tel", phone, null)))
            }
        }
    }

    override fun onResume() {
        super.onResume()
        model?.refresh()
    }
}
