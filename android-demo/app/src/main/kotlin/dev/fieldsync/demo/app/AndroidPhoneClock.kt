package dev.fieldsync.demo.app

import android.content.ContentResolver
import android.os.SystemClock
import android.provider.Settings
import uniffi.fieldsync_ffi.FfiUptime
import uniffi.fieldsync_ffi.PhoneClock

/**
 * The phone's clocks for the core: the wall clock, and time since boot (counting deep sleep),
 * which settings cannot change. The boot count tells two boots apart; without it (some vendor
 * builds hide it) no uptime is given and the core falls back to comparing wall clocks.
 */
class AndroidPhoneClock(private val resolver: ContentResolver) : PhoneClock {
    override fun nowMs(): Long = System.currentTimeMillis()

    override fun uptime(): FfiUptime? {
        val boot = try {
            Settings.Global.getInt(resolver, Settings.Global.BOOT_COUNT)
        } catch (_: Settings.SettingNotFoundException) {
            return null
        }
        return FfiUptime(bootId = boot.toString(), uptimeMs = SystemClock.elapsedRealtime())
    }
}
