package dev.fieldsync.demo.app

import android.content.ActivityNotFoundException
import android.content.Intent
import android.os.Bundle
import android.widget.TextView
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.Problem
import dev.fieldsync.demo.ProblemKind
import dev.fieldsync.demo.ScanLeadViewModel
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import uniffi.fieldsync_ffi.readPhoneNumbers

/**
 * Scan a business card's QR code at a trade show: with a QR scanner app (the ZXing SCAN intent,
 * which most scanner apps answer) or by photographing the code, which the core decodes itself.
 */
class ScanLeadActivity : ScreenActivity() {
    companion object {
        private const val SCAN_TEXT = 1
        private const val TAKE_PHOTO = 2
        private const val ZXING_SCAN = "com.google.zxing.client.android.SCAN"
        private const val ZXING_RESULT = "SCAN_RESULT"
    }

    private var model: ScanLeadViewModel? = null
    private val camera = CameraCapture(this, TAKE_PHOTO)

    override fun onStoreReady(repository: FieldRepository) {
        val scanner = ScanLeadViewModel(repository, screenScope).also { model = it }
        val event = field("Trade show or event")
        button("Scan with a QR scanner app") {
            scanner.atEvent(event.text.toString())
            try {
                startActivityForResult(Intent(ZXING_SCAN).putExtra("SCAN_MODE", "QR_CODE_MODE"), SCAN_TEXT)
            } catch (_: ActivityNotFoundException) {
                showProblem(Problem(ProblemKind.INVALID_INPUT, "no QR scanner app is installed: photograph the code instead"))
            }
        }
        button("Photograph the code") {
            scanner.atEvent(event.text.toString())
            camera.start()
        }
        val lead = text(size = 18f)
        val warnings = section()
        button("Create a customer from it") { scanner.createCustomer() }
        button("Create it anyway") { scanner.createCustomer(anyway = true) }
        button("Keep as a lead only") { scanner.keepAsLead() }
        val result = text()

        scanner.state.renderWith { state ->
            showProblem(state.problem)
            lead.text = state.scan?.lead?.let { l ->
                // A switchboard is shown with its extension (021 6234 5678 转 8021); a field the
                // core cannot read as a number is shown as written.
                val phones = l.phones.flatMap { p -> readPhoneNumbers(p).map { it.display }.ifEmpty { listOf(p) } }
                listOfNotNull(l.name, l.title, l.company, phones.joinToString().ifEmpty { null }, l.emails.joinToString().ifEmpty { null })
                    .joinToString("\n")
            } ?: if (state.busy) "Reading the code…" else "Nothing scanned yet"
            warnings.removeAllViews()
            val candidates = state.blockingDuplicates.ifEmpty { state.duplicateWarning }
            for (candidate in candidates) {
                warnings.addView(TextView(this).apply {
                    text = "Already a customer? ${candidate.customer.companyName} " +
                        "(${candidate.reasons.joinToString { it.code }}) — tap to link"
                    setPadding(0, 12, 0, 12)
                    setOnClickListener { scanner.linkTo(candidate.customer.id) }
                })
            }
            result.text = state.saved?.let { card ->
                if (card.customerId != null) "Saved, linked to a customer" else "Saved as a lead"
            }.orEmpty()
        }
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
        when (requestCode) {
            SCAN_TEXT -> data?.getStringExtra(ZXING_RESULT)?.let { model?.scanText(it) }
            TAKE_PHOTO -> screenScope.launch {
                val photo = withContext(Dispatchers.IO) { camera.finish(resultCode) } ?: return@launch
                model?.scanPhoto(photo)
            }
        }
    }
}
