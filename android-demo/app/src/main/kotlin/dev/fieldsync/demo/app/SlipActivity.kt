package dev.fieldsync.demo.app

import android.graphics.BitmapFactory
import android.view.ViewGroup
import android.widget.ImageView
import android.widget.LinearLayout
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.SignSlipViewModel
import uniffi.fieldsync_ffi.FfiSlipItem

/** The service slip of a visit: the lines, then the customer signs on the pad. */
class SlipActivity : ScreenActivity() {
    companion object {
        const val EXTRA_VISIT_ID = "visit_id"
        private const val PAD_HEIGHT_PX = 480
    }

    override fun onStoreReady(repository: FieldRepository) {
        val visitId = requireNotNull(intent.getStringExtra(EXTRA_VISIT_ID)) { "SlipActivity needs $EXTRA_VISIT_ID" }
        val slips = SignSlipViewModel(repository, AndroidLocationProvider(this), screenScope)

        val description = field("What was delivered or serviced")
        val quantity = field("Quantity")
        val unit = field("Unit")
        val items = text()
        button("Open the slip with this line") {
            val amount = quantity.text.toString().toDoubleOrNull() ?: 1.0
            slips.open(visitId, listOf(FfiSlipItem(description.text.toString(), amount, unit.text.toString())))
        }
        val pad = SignaturePadView(this).apply {
            listener = object : SignaturePadView.Listener {
                override fun penDown(x: Float, y: Float, pressure: Float, atMs: Long) = slips.penDown(x, y, pressure, atMs)
                override fun penMove(x: Float, y: Float, pressure: Float, atMs: Long) = slips.penMove(x, y, pressure, atMs)
                override fun padResized() = slips.clearPad()
            }
        }
        column.addView(pad, LinearLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, PAD_HEIGHT_PX))
        val signer = field("Signer's name")
        button("Clear the pad") { slips.clearPad() }
        button("Sign") { slips.sign(signer.text.toString(), pad.width.toFloat(), pad.height.toFloat()) }
        val verdict = text()
        val signature = ImageView(this).also { column.addView(it) }

        slips.state.renderWith { state ->
            showProblem(state.problem)
            pad.show(state.strokes)
            val slip = state.slip
            items.text = slip?.items?.joinToString("\n") { "${it.description} × ${it.quantity} ${it.unit}" } ?: "No slip yet"
            pad.isEnabled = slip != null && slip.signedAt == null
            verdict.text = when {
                slip?.signedAt == null -> ""
                state.signedAndVerified -> "Signed by ${slip.signerName}; the signature verifies."
                else -> "Signed by ${slip.signerName}, but it does not verify: ${slip.verificationProblem}"
            }
            val png = state.signature?.png
            signature.setImageBitmap(png?.let { BitmapFactory.decodeByteArray(it, 0, it.size) })
        }
    }
}
