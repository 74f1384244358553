package dev.pocdojo.app.dojos

import android.content.Context
import android.util.AttributeSet
import android.widget.EditText

/** The room's editor: an EditText that reports selection changes (the local cursor, shared by awareness). */
class CodeEditor(
    context: Context,
    attrs: AttributeSet?,
) : EditText(context, attrs) {
    var onSelection: ((Int, Int) -> Unit)? = null

    override fun onSelectionChanged(selStart: Int, selEnd: Int) {
        super.onSelectionChanged(selStart, selEnd)
        onSelection?.invoke(selStart, selEnd)
    }
}
