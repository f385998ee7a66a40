package dev.fieldsync.demo.app

import android.os.Build
import android.view.View
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.SyncState
import dev.fieldsync.demo.SyncViewModel
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import uniffi.fieldsync_ffi.SyncPhase

/**
 * Enrolling the phone with the team's relay (the address and a one-time code from an admin) and
 * syncing it: "Sync now" with live progress, the last sync's report, or what went wrong. The
 * enroll form comes back when the relay refuses the device.
 */
class SyncActivity : ScreenActivity() {
    private val time = DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault())

    override fun onStoreReady(repository: FieldRepository) {
        val sync = SyncViewModel(repository, screenScope)
        val status = text(size = 18f)
        val url = field("Relay address, e.g. https://relay.example.com")
        val code = field("Enrollment code from an admin")
        val enroll = button("Enroll this phone") {
            sync.enroll(url.text.toString(), code.text.toString(), "${Build.MANUFACTURER} ${Build.MODEL}")
        }
        val syncNow = button("Sync now") { sync.syncNow() }
        val progress = text(size = 14f)
        val report = text(size = 14f)

        sync.state.renderWith { state ->
            showProblem(state.problem)
            status.text = when {
                !state.enrolled -> "Not enrolled: this phone's work stays on it until it enrolls."
                state.role != null -> "Enrolled with ${state.relayUrl} as ${state.role}"
                else -> "Enrolled with ${state.relayUrl}"
            }
            val form = if (state.mustEnroll) View.VISIBLE else View.GONE
            url.visibility = form
            code.visibility = form
            enroll.visibility = form
            syncNow.visibility = if (state.enrolled) View.VISIBLE else View.GONE
            enroll.isEnabled = !state.busy
            syncNow.isEnabled = !state.busy
            progress.text = progressLine(state)
            report.text = state.lastReport?.let { r ->
                buildString {
                    append("Last sync ${state.lastSyncedAt?.let { time.format(Instant.ofEpochMilli(it)) }.orEmpty()}: ")
                    append("${r.pushed} sent, ${r.received} received, ${r.blobsUploaded} photos uploaded")
                    if (r.rejected > 0u) append(", ${r.rejected} refused by the relay")
                    if (r.outboxRemaining > 0u) append("; ${r.outboxRemaining} changes still waiting")
                }
            }.orEmpty()
        }
        sync.start()
    }

    private fun progressLine(state: SyncState): String {
        val p = state.progress ?: return if (state.busy) "…" else ""
        val of = p.total?.let { " of $it" }.orEmpty()
        return when (p.phase) {
            SyncPhase.PUSHING -> "Sending changes: ${p.done}$of"
            SyncPhase.PULLING -> "Receiving the team's changes: ${p.done}"
            SyncPhase.BLOBS -> "Uploading photos and signatures: ${p.done}$of"
        }
    }
}
