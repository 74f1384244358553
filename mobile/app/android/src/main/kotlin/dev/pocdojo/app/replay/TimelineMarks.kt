package dev.pocdojo.app.replay

import android.content.Context
import android.graphics.Canvas
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View

/**
 * Ticks above the scrubber where something happened: rotations (the new driver's colour, full height)
 * and chat messages (grey, half height), placed by their time in the dojo's duration.
 */
class TimelineMarks(context: Context, attrs: AttributeSet?) : View(context, attrs) {
    /** A tick at [fraction] (0..1) of the width, in [color] (ARGB), [tall] or half height. */
    data class Tick(val fraction: Float, val color: Int, val tall: Boolean)

    private val paint = Paint(Paint.ANTI_ALIAS_FLAG).apply { strokeWidth = 2f * resources.displayMetrics.density }
    private var ticks: List<Tick> = emptyList()

    fun show(next: List<Tick>) {
        if (next == ticks) return
        ticks = next
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val usable = width - paddingLeft - paddingRight
        for (tick in ticks) {
            val x = paddingLeft + tick.fraction.coerceIn(0f, 1f) * usable
            paint.color = tick.color
            val top = if (tick.tall) 0f else height / 2f
            canvas.drawLine(x, top, x, height.toFloat(), paint)
        }
    }
}
