package dev.fieldsync.demo.app

import android.content.Intent
import android.widget.TextView
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.PoolViewModel
import java.time.Instant

/**
 * The rep's customers (私海: tap to open, long-press to release) and the public pool (公海: tap to
 * claim), with what returns to the pool soon and the relay's answers to the latest claims.
 * Claims work offline; the relay decides on the next sync.
 */
class PoolActivity : ScreenActivity() {
    private var model: PoolViewModel? = null

    override fun onStoreReady(repository: FieldRepository) {
        val screen = PoolViewModel(repository, screenScope).also { model = it }
        val heading = text(size = 20f)
        val returning = section()
        val mine = section()
        val poolHeading = text(size = 18f)
        val pool = section()
        val answers = section()
        screen.state.renderWith { state ->
            showProblem(state.problem)
            heading.text = "My customers (${state.mine.size})"
            returning.removeAllViews()
            for (warning in state.returningSoon) {
                returning.addView(line("⚠ ${warning.companyName}: back to the pool ${Instant.ofEpochMilli(warning.returnsAt)}"))
            }
            mine.removeAllViews()
            for (customer in state.mine) {
                mine.addView(line(customer.companyName + (customer.pending?.let { " ($it pending)" } ?: "")).apply {
                    setOnClickListener { open(customer.customerId) }
                    setOnLongClickListener {
                        screen.release(customer.customerId)
                        true
                    }
                })
            }
            poolHeading.text = "Public pool (${state.pool.size})"
            pool.removeAllViews()
            for (customer in state.pool) {
                pool.addView(line("＋ ${customer.companyName}" + (customer.pending?.let { " ($it pending)" } ?: "")).apply {
                    setOnClickListener { screen.claim(customer.customerId) }
                })
            }
            answers.removeAllViews()
            for (claim in state.claims.filter { it.decided }) {
                val verdict = if (claim.granted) "granted" else "refused: ${claim.message ?: claim.code}"
                answers.addView(line("${claim.action} ${claim.customerId.take(8)}…: $verdict"))
            }
        }
        screen.refresh()
    }

    private fun line(content: String) = TextView(this).apply {
        textSize = 16f
        text = content
        setPadding(0, 12, 0, 12)
    }

    private fun open(customerId: String) {
        startActivity(Intent(this, CustomerActivity::class.java).putExtra(CustomerActivity.EXTRA_CUSTOMER_ID, customerId))
    }

    override fun onResume() {
        super.onResume()
        model?.refresh()
    }
}
