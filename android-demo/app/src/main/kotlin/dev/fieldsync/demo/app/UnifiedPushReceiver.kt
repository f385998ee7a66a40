package dev.fieldsync.demo.app

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.util.Log
import dev.fieldsync.demo.Outcome
import kotlinx.coroutines.launch

/**
 * The UnifiedPush connector's broadcasts from the distributor app (ntfy, NextPush, …):
 * `MESSAGE` carries the encrypted Web Push body (extra `bytesMessage`, the UnifiedPush spec's
 * name; `bytes` also read), handed to the supervisor's [dev.fieldsync.demo.AlertsViewModel],
 * which has the core decrypt and read it; `NEW_ENDPOINT` carries the endpoint URL (extra
 * `endpoint`), which the view model registers with the relay (removing this device's older
 * endpoints there); `UNREGISTERED` (the distributor dropped the app) removes this device's
 * registrations at the relay. The work runs in the application's scope under [goAsync], so the
 * process stays up for it (the relay calls are one or two requests each).
 */
class UnifiedPushReceiver : BroadcastReceiver() {
    companion object {
        const val ACTION_MESSAGE = "org.unifiedpush.android.connector.MESSAGE"
        const val ACTION_NEW_ENDPOINT = "org.unifiedpush.android.connector.NEW_ENDPOINT"
        const val ACTION_UNREGISTERED = "org.unifiedpush.android.connector.UNREGISTERED"
        private const val TAG = "fieldsync-push"
    }

    override fun onReceive(context: Context, intent: Intent) {
        val app = context.applicationContext as FieldsyncApplication
        val body = intent.getByteArrayExtra("bytesMessage") ?: intent.getByteArrayExtra("bytes")
        val endpoint = intent.getStringExtra("endpoint")
        val action = intent.action
        if (action != ACTION_MESSAGE && action != ACTION_NEW_ENDPOINT && action != ACTION_UNREGISTERED) return
        val pending = goAsync()
        app.appScope.launch {
            try {
                when (val alerts = app.alerts()) {
                    is Outcome.Failed -> Log.w(TAG, "store unavailable: ${alerts.problem.detail}")
                    is Outcome.Done -> when {
                        action == ACTION_MESSAGE && body != null -> alerts.value.onPushMessage(body).join()
                        action == ACTION_NEW_ENDPOINT && endpoint != null -> alerts.value.register(endpoint).join()
                        action == ACTION_UNREGISTERED -> alerts.value.unregister().join()
                        else -> Log.w(TAG, "$action without its extra")
                    }
                }
            } finally {
                pending.finish()
            }
        }
    }
}
