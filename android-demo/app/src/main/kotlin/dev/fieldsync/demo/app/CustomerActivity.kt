package dev.fieldsync.demo.app

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.widget.TextView
import dev.fieldsync.demo.CustomerViewModel
import dev.fieldsync.demo.DurationSource
import dev.fieldsync.demo.FieldRepository
import java.time.Duration
import java.time.Instant
import kotlinx.coroutines.launch

/**
 * One customer: tap a number to call it (the call is saved first, then the dialler opens with
 * ACTION_DIAL, which needs no permission); on return the screen asks what was said, with the
 * call log's duration where READ_CALL_LOG is granted (asked once, at the first call), else the
 * time away. Below, the timeline: visits, follow-ups, deals and cards, newest first.
 */
class CustomerActivity : ScreenActivity() {
    companion object {
        const val EXTRA_CUSTOMER_ID = "customer_id"
        private const val CALL_LOG_PERMISSION = 7
    }

    private var model: CustomerViewModel? = null
    private var durationLine: TextView? = null

    /** The number to dial once the rep has answered the call-log permission dialog. */
    private var awaitingPermission: String? = null

    /** The call-log permission is asked for once per screen; a refusal is respected. */
    private var askedForCallLog = false

    override fun onStoreReady(repository: FieldRepository) {
        val customerId = intent.getStringExtra(EXTRA_CUSTOMER_ID) ?: return finish()
        val screen = CustomerViewModel(repository, customerId, screenScope, callLog = AndroidCallLog(this))
            .also { model = it }
        val title = text(size = 20f)
        val numbers = section()
        val summaryPrompt = text(size = 16f)
        durationLine = text()
        val summary = field("What was said (沟通内容)")
        val next = field("Next step (下一步), due tomorrow")
        button("Save the call") {
            val said = summary.text.toString()
            val nextWhat = next.text.toString()
            screenScope.launch {
                screen.finishCall(
                    summary = said,
                    outcome = null,
                    durationS = screen.suggestedDuration()?.seconds,
                    nextWhat = nextWhat,
                    nextDueAt = Instant.now().plus(Duration.ofDays(1)).toEpochMilli(),
                )
            }
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
                    setOnClickListener { call(phone) }
                })
            }
            summaryPrompt.text = state.pendingCall?.let { "Call to ${it.activity.phone}: what was said?" } ?: ""
            if (state.pendingCall == null) durationLine?.text = ""
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

    /** Asks once for the call log (the rep may refuse: the time away is used), then dials. */
    private fun call(phone: String) {
        if (checkSelfPermission(Manifest.permission.READ_CALL_LOG) != PackageManager.PERMISSION_GRANTED &&
            !askedForCallLog
        ) {
            askedForCallLog = true
            awaitingPermission = phone
            requestPermissions(arrayOf(Manifest.permission.READ_CALL_LOG), CALL_LOG_PERMISSION)
            return
        }
        dial(phone)
    }

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        super.onRequestPermissionsResult(requestCode, permissions, grantResults)
        if (requestCode == CALL_LOG_PERMISSION) {
            awaitingPermission?.let(::dial)
            awaitingPermission = null
        }
    }

    /** Saves the call, then hands the number to the phone's dialler. */
    private fun dial(phone: String) {
        val screen = model ?: return
        screenScope.launch {
            screen.startCall(phone).join()
            if (screen.state.value.pendingCall != null) {
                startActivity(Intent(Intent.ACTION_DIAL, Uri.fromParts("tel", phone, null)))
            }
        }
    }

    override fun onResume() {
        super.onResume()
        val screen = model ?: return
        screen.refresh()
        // Back from the dialler: say how long the call was and where that comes from.
        screenScope.launch {
            val duration = screen.suggestedDuration() ?: return@launch
            val from = when (duration.source) {
                DurationSource.CALL_LOG -> "from the call log"
                DurationSource.TIME_AWAY -> "time away from the app"
            }
            durationLine?.text = "Duration ${duration.seconds / 60} min ${duration.seconds % 60} s ($from)"
        }
    }
}
