package dev.fieldsync.demo.app

import android.app.Application
import dev.fieldsync.demo.AlertsViewModel
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.Outcome
import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async

/**
 * Opens the device's store once per process, off the main thread. Screens await [repository];
 * a store that cannot be opened arrives as a Problem they show. The process owns the repository
 * until it dies (Android gives no reliable "app closing" callback; the core's writes are
 * transactions, so nothing is lost when the process is killed).
 */
class FieldsyncApplication : Application() {
    /** A scope for work that outlives one screen (opening the store, handling a push). */
    val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** The store, opened at start-up. */
    lateinit var repository: Deferred<Outcome<FieldRepository>>
        private set

    override fun onCreate() {
        super.onCreate()
        val path = File(noBackupFilesDir, "device.fieldsync").path
        val secrets = KeystorePushSecrets(File(noBackupFilesDir, "push-secret.bin"))
        val clocks = AndroidPhoneClock(contentResolver)
        repository = appScope.async { FieldRepository.openOnIo(path, pushSecrets = secrets, phoneClock = clocks) }
    }

    private val alertsLock = Any()
    private var alertsModel: AlertsViewModel? = null

    /**
     * The supervisor's alerts, one view model for the process (started on first use): the push
     * receiver feeds it and AlertsActivity renders it. Lives as long as the repository.
     */
    suspend fun alerts(): Outcome<AlertsViewModel> = when (val opened = repository.await()) {
        is Outcome.Failed -> opened
        is Outcome.Done -> Outcome.Done(
            synchronized(alertsLock) {
                alertsModel ?: AlertsViewModel(opened.value, appScope).also {
                    alertsModel = it
                    it.start()
                }
            },
        )
    }
}
