package dev.pocdojo.app

import android.app.Activity
import android.text.Editable
import android.text.TextWatcher
import android.view.View
import android.widget.EditText
import android.widget.TextView
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel

val Activity.graph: AppGraph get() = (application as PocDojoApp).graph

/**
 * A view-model and the scope its work runs in, kept across configuration changes (rotation) through
 * `onRetainNonConfigurationInstance` and cancelled when the screen finishes.
 */
class Retained<T>(val viewModel: T, val scope: CoroutineScope) {
    fun close() = scope.cancel()
}

fun <T> Activity.retained(create: (CoroutineScope) -> T): Retained<T> {
    @Suppress("UNCHECKED_CAST")
    val kept = lastNonConfigurationInstance as Retained<T>?
    if (kept != null) return kept
    val scope = CoroutineScope(SupervisorJob() + graph.main)
    return Retained(create(scope), scope)
}

/** Shows [message] in this view, or hides it when null. */
fun TextView.show(message: String?) {
    text = message
    visibility = if (message == null) View.GONE else View.VISIBLE
}

/** Calls [onChange] with the text after each edit by the person (not when [setTextQuietly] sets it). */
fun EditText.onEdited(onChange: (String) -> Unit) {
    addTextChangedListener(
        object : TextWatcher {
            override fun beforeTextChanged(s: CharSequence?, start: Int, count: Int, after: Int) = Unit

            override fun onTextChanged(s: CharSequence?, start: Int, before: Int, count: Int) = Unit

            override fun afterTextChanged(s: Editable?) {
                if (getTag(R.id.quiet) == null) onChange(s?.toString().orEmpty())
            }
        },
    )
}

/** Sets the text from the state when it differs, without echoing it back as an edit. */
fun EditText.setTextQuietly(value: String) {
    if (text.toString() == value) return
    setTag(R.id.quiet, true)
    setText(value)
    setSelection(value.length)
    setTag(R.id.quiet, null)
}
