package dev.pocdojo.app.poceditor

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import dev.pocdojo.app.Extras
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.poceditor.PocEditorEvent
import dev.pocdojo.app.core.poceditor.PocEditorState
import dev.pocdojo.app.core.poceditor.PocEditorViewModel
import dev.pocdojo.app.core.poceditor.PocField
import dev.pocdojo.app.graph
import dev.pocdojo.app.onEdited
import dev.pocdojo.app.pocdetail.PocDetailActivity
import dev.pocdojo.app.retained
import dev.pocdojo.app.setTextQuietly
import dev.pocdojo.app.show
import dev.pocdojo.app.text
import dev.pocdojo.app.toSignIn
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/** Creates a POC, or edits the one of extra [Extras.POC_ID]; each refusal is shown under its field. */
class PocEditorActivity : Activity() {
    private lateinit var screen: Retained<PocEditorViewModel>
    private lateinit var views: CoroutineScope
    private lateinit var fields: Map<PocField, Pair<EditText, TextView>>
    private val editing: Boolean get() = intent.getStringExtra(Extras.POC_ID) != null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_poc_editor)
        setTitle(if (editing) R.string.poc_edit_title else R.string.poc_new_title)
        val pocId = intent.getStringExtra(Extras.POC_ID)
        screen = retained { scope -> PocEditorViewModel(graph.gateways.pocs, graph.connectivity, scope, pocId) }
        val viewModel = screen.viewModel
        fields =
            mapOf(
                PocField.NAME to field(R.id.name, R.id.name_error),
                PocField.GITHUB_URL to field(R.id.github_url, R.id.github_url_error),
                PocField.LANGUAGE to field(R.id.language, R.id.language_error),
                PocField.TAGS to field(R.id.tags, R.id.tags_error),
                PocField.DESCRIPTION to field(R.id.description, R.id.description_error),
            )
        for ((field, views) in fields) views.first.onEdited { viewModel.onEvent(PocEditorEvent.Edited(field, it)) }
        findViewById<Button>(R.id.save).setOnClickListener { viewModel.onEvent(PocEditorEvent.Saved) }
        findViewById<Button>(R.id.retry).setOnClickListener { viewModel.onEvent(PocEditorEvent.Retry) }
        findViewById<Button>(R.id.open_existing).setOnClickListener {
            val existing = viewModel.state.value.existingPocId ?: return@setOnClickListener
            startActivity(Intent(this, PocDetailActivity::class.java).putExtra(Extras.POC_ID, existing))
            finish()
        }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    private fun field(input: Int, error: Int): Pair<EditText, TextView> = findViewById<EditText>(input) to findViewById(error)

    private fun render(state: PocEditorState) {
        if (state.signedOut) {
            views.cancel()
            toSignIn()
            return
        }
        state.saved?.let { saved ->
            views.cancel() // close once: later states of this screen are not drawn
            // A new POC opens on its page; an edited one returns to the page it came from.
            if (!editing) startActivity(Intent(this, PocDetailActivity::class.java).putExtra(Extras.POC_ID, saved.id))
            finish()
            return
        }
        findViewById<View>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<View>(R.id.loading).visibility = if (state.loading) View.VISIBLE else View.GONE
        val values =
            mapOf(
                PocField.NAME to state.name,
                PocField.GITHUB_URL to state.githubUrl,
                PocField.LANGUAGE to state.language,
                PocField.TAGS to state.tags,
                PocField.DESCRIPTION to state.description,
            )
        val ready = !state.loading && !(editing && state.original == null)
        for ((field, views) in fields) {
            views.first.setTextQuietly(values.getValue(field))
            views.first.isEnabled = ready && !state.saving
            views.second.show(state.fieldErrors[field]?.let(::text))
        }
        findViewById<TextView>(R.id.form_error).show(state.formError?.let(::text))
        findViewById<View>(R.id.open_existing).visibility = if (state.existingPocId != null) View.VISIBLE else View.GONE
        findViewById<Button>(R.id.save).isEnabled = ready && !state.saving
        // Loading the POC to edit failed: only then is there something to retry.
        findViewById<View>(R.id.retry).visibility =
            if (editing && state.original == null && !state.loading && state.formError != null) View.VISIBLE else View.GONE
        findViewById<View>(R.id.progress).visibility = if (state.saving) View.VISIBLE else View.GONE
    }

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        views.cancel()
        if (!isChangingConfigurations) screen.close()
        super.onDestroy()
    }
}
