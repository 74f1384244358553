package dev.pocdojo.app.dojos

import android.app.Activity
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.TextView
import dev.pocdojo.app.Extras
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.dojos.DojoCreateEvent
import dev.pocdojo.app.core.dojos.DojoCreateState
import dev.pocdojo.app.core.dojos.DojoCreateViewModel
import dev.pocdojo.app.core.dojos.DojoPoc
import dev.pocdojo.app.graph
import dev.pocdojo.app.onEdited
import dev.pocdojo.app.retained
import dev.pocdojo.app.setTextQuietly
import dev.pocdojo.app.show
import dev.pocdojo.app.text
import dev.pocdojo.app.toSignIn
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/** Starts a dojo (title; the POC of extras [Extras.POC_ID]/[Extras.POC_NAME], optional) and joins it. */
class DojoCreateActivity : Activity() {
    private lateinit var screen: Retained<DojoCreateViewModel>
    private lateinit var views: CoroutineScope

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_dojo_create)
        val poc = intent.getStringExtra(Extras.POC_ID)?.let { DojoPoc(it, intent.getStringExtra(Extras.POC_NAME) ?: it) }
        screen = retained { scope -> DojoCreateViewModel(graph.gateways.dojos, graph.connectivity, scope, poc) }
        val viewModel = screen.viewModel
        findViewById<EditText>(R.id.title).onEdited { viewModel.onEvent(DojoCreateEvent.TitleEdited(it)) }
        findViewById<Button>(R.id.remove_poc).setOnClickListener { viewModel.onEvent(DojoCreateEvent.PocRemoved) }
        findViewById<Button>(R.id.create).setOnClickListener { viewModel.onEvent(DojoCreateEvent.Submitted) }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    private fun render(state: DojoCreateState) {
        if (state.signedOut) {
            views.cancel()
            toSignIn()
            return
        }
        state.joined?.let {
            views.cancel() // open once
            startActivity(DojoRoomActivity.intent(this, it))
            finish()
            return
        }
        findViewById<View>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<EditText>(R.id.title).apply {
            setTextQuietly(state.title)
            isEnabled = !state.submitting && state.created == null
        }
        findViewById<TextView>(R.id.title_error).show(state.titleError?.let(::text))
        findViewById<View>(R.id.poc_row).visibility = if (state.poc != null) View.VISIBLE else View.GONE
        findViewById<View>(R.id.no_poc).visibility = if (state.poc == null) View.VISIBLE else View.GONE
        state.poc?.let { findViewById<TextView>(R.id.poc).text = getString(R.string.dojo_poc, it.name) }
        findViewById<View>(R.id.remove_poc).isEnabled = state.created == null && !state.submitting
        findViewById<TextView>(R.id.form_error).show(state.formError?.let(::text))
        findViewById<Button>(R.id.create).isEnabled = !state.submitting
        findViewById<View>(R.id.progress).visibility = if (state.submitting) View.VISIBLE else View.GONE
    }

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        views.cancel()
        if (!isChangingConfigurations) screen.close()
        super.onDestroy()
    }
}
