package dev.fieldsync.demo.app

import android.Manifest
import android.content.Context
import android.content.pm.PackageManager
import android.location.Location
import android.location.LocationListener
import android.location.LocationManager
import android.os.Build
import android.os.Bundle
import android.os.CancellationSignal
import android.os.Looper
import dev.fieldsync.demo.FixResult
import dev.fieldsync.demo.LocationProvider
import kotlin.coroutines.resume
import kotlinx.coroutines.suspendCancellableCoroutine
import kotlinx.coroutines.withTimeoutOrNull
import uniffi.fieldsync_ffi.FfiFix

/**
 * [LocationProvider] over the framework's LocationManager (no Play services): one current fix
 * from GPS, else from the network provider, within [timeoutMs]. Android reports WGS-84.
 */
class AndroidLocationProvider(
    private val context: Context,
    private val timeoutMs: Long = 20_000,
) : LocationProvider {
    private val manager = context.getSystemService(LocationManager::class.java)

    override suspend fun currentFix(): FixResult {
        if (context.checkSelfPermission(Manifest.permission.ACCESS_FINE_LOCATION) != PackageManager.PERMISSION_GRANTED) {
            return FixResult.Unavailable("fieldsync has no permission to use the location: allow it in Settings")
        }
        val provider = listOf(LocationManager.GPS_PROVIDER, LocationManager.NETWORK_PROVIDER)
            .firstOrNull { manager.isProviderEnabled(it) }
            ?: return FixResult.Unavailable("location is turned off: turn it on to check in")
        val location = withTimeoutOrNull(timeoutMs) { request(provider) }
            ?: return FixResult.Unavailable("no location fix within ${timeoutMs / 1000} s: step outside or try again")
        return FixResult.Fix(location.toFix())
    }

    @Suppress("MissingPermission") // checked in currentFix
    private suspend fun request(provider: String): Location? = suspendCancellableCoroutine { cont ->
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            val signal = CancellationSignal()
            cont.invokeOnCancellation { signal.cancel() }
            manager.getCurrentLocation(provider, signal, context.mainExecutor) { cont.resume(it) }
        } else {
            val listener = object : LocationListener {
                override fun onLocationChanged(location: Location) {
                    if (cont.isActive) cont.resume(location)
                }

                @Deprecated("Deprecated in Java")
                override fun onStatusChanged(provider: String?, status: Int, extras: Bundle?) {}
                override fun onProviderEnabled(provider: String) {}
                override fun onProviderDisabled(provider: String) {}
            }
            cont.invokeOnCancellation { manager.removeUpdates(listener) }
            @Suppress("DEPRECATION")
            manager.requestSingleUpdate(provider, listener, Looper.getMainLooper())
        }
    }
}

/** The fix as the core takes it: datum, source, accuracy, time and the OS's mock flag. */
private fun Location.toFix() = FfiFix(
    lat = latitude,
    lon = longitude,
    datum = "wgs84",
    source = if (provider == LocationManager.GPS_PROVIDER) "gps" else "network",
    accuracyM = if (hasAccuracy()) accuracy.toDouble() else null,
    at = time,
    mock = if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) isMock else @Suppress("DEPRECATION") isFromMockProvider,
)
