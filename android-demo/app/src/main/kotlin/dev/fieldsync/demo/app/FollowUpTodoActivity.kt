package dev.fieldsync.demo.app

import android.content.Intent
import android.widget.TextView
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.FollowUpTodoViewModel
import java.time.Instant

/**
 * The rep's follow-up to-do: next steps due by tomorrow (tap: done), calls left unsummarised, and
 * customers that return to the public pool soon (tap: the customer, to follow up).
 */
class FollowUpTodoActivity : ScreenActivity() {
    private var model: FollowUpTodoViewModel? = null

    override fun onStoreReady(repository: FieldRepository) {
        val todo = FollowUpTodoViewModel(repository, screenScope).also { model = it }
        val heading = text(size = 20f)
        val due = section()
        val calls = section()
        val pool = section()
        todo.state.renderWith { state ->
            showProblem(state.problem)
            heading.text = "${state.due.size} next steps due · ${state.callsWithoutSummary.size} calls to summarise"
            due.removeAllViews()
            for (item in state.due) {
                due.addView(TextView(this).apply {
                    textSize = 17f
                    text = "□ ${item.nextActionWhat} (${item.nextActionDueAt?.let { Instant.ofEpochMilli(it) }})"
                    setPadding(0, 14, 0, 14)
                    setOnClickListener { todo.done(item.id) }
                })
            }
            calls.removeAllViews()
            for (call in state.callsWithoutSummary) {
                calls.addView(TextView(this).apply {
                    text = "☎ ${Instant.ofEpochMilli(call.at)}: no summary yet"
                    setPadding(0, 10, 0, 10)
                })
            }
            pool.removeAllViews()
            for (warning in state.returningToPool) {
                pool.addView(TextView(this).apply {
                    text = "⚠ ${warning.companyName} returns to the pool ${Instant.ofEpochMilli(warning.returnsAt)}"
                    setPadding(0, 10, 0, 10)
                    setOnClickListener {
                        startActivity(
                            Intent(this@FollowUpTodoActivity, CustomerActivity::class.java)
                                .putExtra(CustomerActivity.EXTRA_CUSTOMER_ID, warning.customerId),
                        )
                    }
                })
            }
        }
        todo.refresh()
    }

    override fun onResume() {
        super.onResume()
        model?.refresh()
    }
}
