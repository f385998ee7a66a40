package dev.fieldsync.demo.app

import android.Manifest
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.BitmapFactory
import android.os.Bundle
import android.widget.ImageView
import android.widget.LinearLayout
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.VisitCaptureViewModel
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** One visit: check in with the phone's fix, take photos, open the service slip. */
class VisitActivity : ScreenActivity() {
    companion object {
        const val EXTRA_VISIT_ID = "visit_id"
        private const val TAKE_PHOTO = 1
        private const val LOCATION_PERMISSION = 2
    }

    private var model: VisitCaptureViewModel? = null

    /** A photo that came back before the store was open (the process was recreated meanwhile). */
    private var photoBeforeStore: ByteArray? = null
    private val camera = CameraCapture(this, TAKE_PHOTO)

    override fun onStoreReady(repository: FieldRepository) {
        val visitId = requireNotNull(intent.getStringExtra(EXTRA_VISIT_ID)) { "VisitActivity needs $EXTRA_VISIT_ID" }
        val capture = VisitCaptureViewModel(repository, AndroidLocationProvider(this), screenScope).also { model = it }
        if (checkSelfPermission(Manifest.permission.ACCESS_FINE_LOCATION) != PackageManager.PERMISSION_GRANTED) {
            requestPermissions(arrayOf(Manifest.permission.ACCESS_FINE_LOCATION), LOCATION_PERMISSION)
        }

        val title = text(size = 22f)
        val checkInLine = text()
        val flagsLine = text(size = 14f)
        button("Check in here") { capture.checkIn() }
        button("Take a photo") { camera.start() }
        button("Service slip") {
            startActivity(Intent(this, SlipActivity::class.java).putExtra(SlipActivity.EXTRA_VISIT_ID, visitId))
        }
        val strip = section().apply { orientation = LinearLayout.HORIZONTAL }

        capture.state.renderWith { state ->
            showProblem(state.problem)
            title.text = state.visit?.let { "${it.customerName} · ${it.plannedLocal}" } ?: "…"
            checkInLine.text = state.lastCheckIn?.let { report ->
                val where = when (report.onSite) {
                    true -> "on site"
                    false -> "off site"
                    null -> "site not known"
                }
                val distance = report.distanceM?.let { " · %.0f m from the site".format(it) }.orEmpty()
                "Checked in (${report.outcome}): $where$distance"
            } ?: if (state.visit?.checkedIn == true) "Checked in earlier" else "Not checked in"
            flagsLine.text = state.visit?.visit?.flags?.joinToString("\n") { "⚑ ${it.detail}" }.orEmpty()
            strip.removeAllViews()
            for (photo in state.photos) {
                val jpeg = photo.thumbnailJpeg ?: continue
                strip.addView(ImageView(this).apply {
                    setImageBitmap(BitmapFactory.decodeByteArray(jpeg, 0, jpeg.size))
                    contentDescription = photo.photo.flags.joinToString { it.detail }
                    setPadding(0, 0, 8, 0)
                })
            }
        }
        capture.load(visitId)
        photoBeforeStore?.let { capture.attachPhoto(it) }
        photoBeforeStore = null
    }

    override fun onSaveInstanceState(outState: Bundle) {
        super.onSaveInstanceState(outState)
        camera.save(outState)
    }

    override fun onRestoreInstanceState(savedInstanceState: Bundle) {
        super.onRestoreInstanceState(savedInstanceState)
        camera.restore(savedInstanceState)
    }

    @Deprecated("Deprecated in Java")
    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        if (requestCode != TAKE_PHOTO) return
        screenScope.launch {
            val jpeg = withContext(Dispatchers.IO) { camera.finish(resultCode) } ?: return@launch
            model?.attachPhoto(jpeg) ?: run { photoBeforeStore = jpeg }
        }
    }
}
