package dev.fieldsync.demo.app

import android.app.Activity
import android.content.ContentValues
import android.content.Intent
import android.net.Uri
import android.os.Bundle
import android.provider.MediaStore

/**
 * Taking a full-size photo through the phone's camera app, with the framework only: the camera
 * writes the JPEG (with its EXIF) into a MediaStore entry we create, we read the bytes back and
 * delete the entry, so the evidence photo does not stay in the gallery. (Without EXTRA_OUTPUT the
 * camera returns only a small bitmap with no EXIF, which is useless as evidence.)
 */
class CameraCapture(private val activity: Activity, private val requestCode: Int) {
    private companion object {
        const val KEY_PENDING = "camera_capture_pending"
    }

    private var pending: Uri? = null

    /** Starts the camera app; the answer arrives in the Activity's onActivityResult. */
    fun start(): Boolean {
        val values = ContentValues().apply {
            put(MediaStore.Images.Media.DISPLAY_NAME, "fieldsync-${System.currentTimeMillis()}.jpg")
            put(MediaStore.Images.Media.MIME_TYPE, "image/jpeg")
        }
        val uri = activity.contentResolver.insert(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, values) ?: return false
        pending = uri
        val intent = Intent(MediaStore.ACTION_IMAGE_CAPTURE)
            .putExtra(MediaStore.EXTRA_OUTPUT, uri)
            .addFlags(Intent.FLAG_GRANT_WRITE_URI_PERMISSION)
        activity.startActivityForResult(intent, requestCode)
        return true
    }

    /** Keeps the pending entry across the Activity being recreated while the camera is open. */
    fun save(outState: Bundle) {
        pending?.let { outState.putString(KEY_PENDING, it.toString()) }
    }

    /** The counterpart of [save]. */
    fun restore(state: Bundle) {
        state.getString(KEY_PENDING)?.let { pending = Uri.parse(it) }
    }

    /** The photo's bytes if the camera took one; the MediaStore entry is removed either way. */
    fun finish(resultCode: Int): ByteArray? {
        val uri = pending ?: return null
        pending = null
        return try {
            if (resultCode != Activity.RESULT_OK) null
            else activity.contentResolver.openInputStream(uri)?.use { it.readBytes() }
        } finally {
            activity.contentResolver.delete(uri, null, null)
        }
    }
}
