package dev.fieldsync.demo.app

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.view.MotionEvent
import android.view.View
import uniffi.fieldsync_ffi.FfiStrokePoint

/**
 * The pad the customer signs on. Reports every pen sample (position, pressure, event time) to
 * [listener] and draws the strokes it is given by [show] (the view model's state), so what is
 * drawn is exactly what will be signed.
 *
 * Samples are clamped to the pad and to pressure [0, 1] here, because the hardware reports
 * positions past the edge when a finger slides off and some panels report pressure above 1; the
 * core refuses both.
 */
class SignaturePadView(context: Context) : View(context) {
    /** Receives pen samples: down starts a stroke, move extends it. */
    interface Listener {
        fun penDown(x: Float, y: Float, pressure: Float, atMs: Long)
        fun penMove(x: Float, y: Float, pressure: Float, atMs: Long)

        /** The pad changed size (rotation): strokes drawn on the old size no longer fit it. */
        fun padResized()
    }

    var listener: Listener? = null
    private var strokes: List<List<FfiStrokePoint>> = emptyList()
    private val ink = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.rgb(0x10, 0x20, 0x60)
        style = Paint.Style.STROKE
        strokeCap = Paint.Cap.ROUND
        strokeJoin = Paint.Join.ROUND
    }

    init {
        setBackgroundColor(Color.rgb(0xF6, 0xF6, 0xF0))
    }

    /** Draws [strokes] (from the view model's state). */
    fun show(strokes: List<List<FfiStrokePoint>>) {
        if (strokes === this.strokes) return
        this.strokes = strokes
        invalidate()
    }

    override fun onSizeChanged(w: Int, h: Int, oldw: Int, oldh: Int) {
        super.onSizeChanged(w, h, oldw, oldh)
        if (oldw != 0 && oldh != 0) listener?.padResized()
    }

    override fun onTouchEvent(event: MotionEvent): Boolean {
        val target = listener ?: return false
        if (!isEnabled) return false // no slip open, or already signed
        when (event.actionMasked) {
            MotionEvent.ACTION_DOWN -> target.penDown(x(event.x), y(event.y), pressure(event.pressure), event.eventTime)
            MotionEvent.ACTION_MOVE -> {
                // Samples batched since the last event first, with their own times.
                for (i in 0 until event.historySize) {
                    target.penMove(
                        x(event.getHistoricalX(i)),
                        y(event.getHistoricalY(i)),
                        pressure(event.getHistoricalPressure(i)),
                        event.getHistoricalEventTime(i),
                    )
                }
                target.penMove(x(event.x), y(event.y), pressure(event.pressure), event.eventTime)
            }
            MotionEvent.ACTION_UP, MotionEvent.ACTION_CANCEL -> performClick()
        }
        return true
    }

    override fun performClick(): Boolean = super.performClick()

    private fun x(value: Float) = value.coerceIn(0f, width.toFloat())
    private fun y(value: Float) = value.coerceIn(0f, height.toFloat())
    private fun pressure(value: Float) = if (value.isNaN()) 0.5f else value.coerceIn(0f, 1f)

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        for (stroke in strokes) {
            if (stroke.size == 1) {
                ink.strokeWidth = 2f + 6f * stroke[0].pressure
                canvas.drawPoint(stroke[0].x, stroke[0].y, ink)
                continue
            }
            for (i in 1 until stroke.size) {
                val (a, b) = stroke[i - 1] to stroke[i]
                ink.strokeWidth = 2f + 6f * b.pressure
                canvas.drawLine(a.x, a.y, b.x, b.y, ink)
            }
        }
    }
}
