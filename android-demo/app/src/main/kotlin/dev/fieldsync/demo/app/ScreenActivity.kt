package dev.fieldsync.demo.app

import android.app.Activity
import android.graphics.Color
import android.os.Bundle
import android.view.View
import android.view.ViewGroup
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import dev.fieldsync.demo.FieldRepository
import dev.fieldsync.demo.Outcome
import dev.fieldsync.demo.Problem
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch

/**
 * A screen built from framework Views in code (no layouts, so no generated R class): waits for
 * the store, then hands it to [onStoreReady]; renders view-model state on the main thread.
 * The screen's coroutines stop with the Activity.
 */
abstract class ScreenActivity : Activity() {
    /** Cancelled in onDestroy: the view models launch their work here. */
    protected val screenScope: CoroutineScope = MainScope()

    /** The screen's content column, inside a ScrollView. */
    protected lateinit var column: LinearLayout
        private set

    /** The line that shows the current problem, if any. */
    protected lateinit var problemLine: TextView
        private set

    protected val app: FieldsyncApplication get() = application as FieldsyncApplication

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(32, 32, 32, 32)
        }
        problemLine = TextView(this).apply {
            setTextColor(Color.rgb(0xB0, 0x00, 0x20))
            visibility = View.GONE
        }
        column.addView(problemLine)
        setContentView(ScrollView(this).apply { addView(column) })
        screenScope.launch {
            when (val opened = app.repository.await()) {
                is Outcome.Done -> onStoreReady(opened.value)
                is Outcome.Failed -> showProblem(opened.problem)
            }
        }
    }

    /** Builds the screen's views and view models once the store is open. */
    protected abstract fun onStoreReady(repository: FieldRepository)

    override fun onDestroy() {
        screenScope.cancel()
        super.onDestroy()
    }

    /** Shows [problem] above the content, or hides the line when it is `null`. */
    protected fun showProblem(problem: Problem?) {
        problemLine.text = problem?.detail.orEmpty()
        problemLine.visibility = if (problem == null) View.GONE else View.VISIBLE
    }

    /** Renders every state the flow takes, on the main thread, while the screen lives. */
    protected fun <S> StateFlow<S>.renderWith(render: (S) -> Unit) {
        screenScope.launch { collect { render(it) } }
    }

    protected fun text(initial: String = "", size: Float = 16f): TextView =
        TextView(this).apply {
            text = initial
            textSize = size
        }.also { column.addView(it) }

    protected fun button(label: String, onClick: () -> Unit): Button =
        Button(this).apply {
            text = label
            setOnClickListener { onClick() }
        }.also { column.addView(it) }

    protected fun field(hint: String): EditText =
        EditText(this).apply { this.hint = hint }.also { column.addView(it) }

    /** A sub-list whose rows are replaced on every render. */
    protected fun section(): LinearLayout =
        LinearLayout(this).apply { orientation = LinearLayout.VERTICAL }.also {
            column.addView(it, ViewGroup.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, ViewGroup.LayoutParams.WRAP_CONTENT))
        }
}
