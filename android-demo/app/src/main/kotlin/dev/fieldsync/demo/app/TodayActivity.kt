package dev.fieldsync.demo.app

import android.content.Intent
import android.text.Editable
import android.text.TextWatcher
import android.widget.TextView
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.SyncViewModel
import dev.fieldsync.demo.TodayViewModel
import java.time.Duration
import java.time.Instant
import java.time.temporal.ChronoUnit
import kotlinx.coroutines.launch

/**
 * The launcher screen: today's visits; find a customer and plan a visit; go to the other screens.
 * Syncs when it comes to the front on an enrolled phone (one round trip when nothing changed).
 */
class TodayActivity : ScreenActivity() {
    private var model: TodayViewModel? = null
    private var syncModel: SyncViewModel? = null

    override fun onStoreReady(repository: FieldRepository) {
        val today = TodayViewModel(repository, screenScope).also { model = it }
        val sync = SyncViewModel(repository, screenScope).also { syncModel = it }
        val summary = text(size = 20f)
        val visits = section()
        val search = field("Customer name to plan a visit")
        val matches = section()
        val syncLine = text(size = 14f)
        button("Enroll and sync") { startActivity(Intent(this, SyncActivity::class.java)) }
        button("Scan a lead") { startActivity(Intent(this, ScanLeadActivity::class.java)) }
        button("My funnel") { startActivity(Intent(this, FunnelActivity::class.java)) }
        button("我的业绩 My figures") { startActivity(Intent(this, MyFiguresActivity::class.java)) }
        button("Follow-up to-do") { startActivity(Intent(this, FollowUpTodoActivity::class.java)) }
        button("My customers and the pool") { startActivity(Intent(this, PoolActivity::class.java)) }
        button("Alerts (supervisors)") { startActivity(Intent(this, AlertsActivity::class.java)) }

        search.addTextChangedListener(object : TextWatcher {
            override fun beforeTextChanged(s: CharSequence?, start: Int, count: Int, after: Int) {}
            override fun onTextChanged(s: CharSequence?, start: Int, before: Int, count: Int) {}
            override fun afterTextChanged(s: Editable?) {
                today.searchCustomers(s?.toString().orEmpty())
            }
        })

        today.state.renderWith { state ->
            showProblem(state.problem)
            summary.text = buildString {
                append("Today: ${state.visits.size} visits, ${state.checkedInCount} checked in")
                if (state.unsynced > 0u) append(" · ${state.unsynced} changes not yet synced")
                if (state.busy) append(" …")
            }
            visits.removeAllViews()
            for (row in state.visits) {
                visits.addView(TextView(this).apply {
                    textSize = 18f
                    text = "${row.plannedLocal}  ${row.customerName}" + if (row.checkedIn) "  ✓" else ""
                    setPadding(0, 16, 0, 16)
                    setOnClickListener {
                        startActivity(Intent(this@TodayActivity, VisitActivity::class.java).putExtra(VisitActivity.EXTRA_VISIT_ID, row.visit.id))
                    }
                })
            }
            matches.removeAllViews()
            for (customer in state.customerMatches) {
                matches.addView(TextView(this).apply {
                    text = "Plan a visit in an hour: ${customer.companyName} (hold: open the customer)"
                    setPadding(0, 12, 0, 12)
                    setOnLongClickListener {
                        startActivity(
                            Intent(this@TodayActivity, CustomerActivity::class.java)
                                .putExtra(CustomerActivity.EXTRA_CUSTOMER_ID, customer.id),
                        )
                        true
                    }
                    setOnClickListener {
                        val inAnHour = Instant.now().plus(Duration.ofHours(1)).truncatedTo(ChronoUnit.MINUTES)
                        today.planVisit(customer.id, inAnHour.toEpochMilli())
                        search.text.clear()
                    }
                })
            }
        }
        sync.state.renderWith { state ->
            syncLine.text = when {
                state.busy -> "Syncing…"
                state.problem != null -> "Not synced: ${state.problem.detail}"
                state.lastReport != null -> "Synced: ${state.lastReport.received} changes from the team"
                !state.enrolled -> "Not enrolled with a relay"
                else -> ""
            }
        }
        syncAndRefresh()
    }

    override fun onResume() {
        super.onResume()
        syncAndRefresh()
    }

    /**
     * Reloads the day (a visit checked in on its own screen shows here on return), syncs if the
     * phone is enrolled, and reloads again for what the sync brought.
     */
    private fun syncAndRefresh() {
        val today = model ?: return
        val sync = syncModel ?: return
        today.refresh()
        screenScope.launch {
            sync.syncIfEnrolled().join()
            if (sync.state.value.problem == null) today.refresh()
        }
    }
}
