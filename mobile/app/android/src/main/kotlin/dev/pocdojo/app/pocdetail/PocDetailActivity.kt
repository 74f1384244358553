package dev.pocdojo.app.pocdetail

import android.app.Activity
import android.app.AlertDialog
import android.content.Intent
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.TextView
import dev.pocdojo.app.Extras
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.pocdetail.PocDetailEvent
import dev.pocdojo.app.core.pocdetail.PocDetailState
import dev.pocdojo.app.core.pocdetail.PocDetailViewModel
import dev.pocdojo.app.dojos.DojoCreateActivity
import dev.pocdojo.app.graph
import dev.pocdojo.app.poceditor.PocEditorActivity
import dev.pocdojo.app.retained
import dev.pocdojo.app.show
import dev.pocdojo.app.shownTime
import dev.pocdojo.app.text
import dev.pocdojo.app.toSignIn
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/** One POC (extra [Extras.POC_ID]): edit, start a dojo on it, delete after a confirmation. */
class PocDetailActivity : Activity() {
    private lateinit var screen: Retained<PocDetailViewModel>
    private lateinit var views: CoroutineScope
    private var confirmation: AlertDialog? = null
    private var returning = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_poc_detail)
        val pocId = requireNotNull(intent.getStringExtra(Extras.POC_ID)) { "PocDetailActivity needs ${Extras.POC_ID}" }
        screen = retained { scope -> PocDetailViewModel(graph.gateways.pocs, graph.connectivity, scope, pocId) }
        val viewModel = screen.viewModel
        findViewById<Button>(R.id.retry).setOnClickListener { viewModel.onEvent(PocDetailEvent.Reload) }
        findViewById<Button>(R.id.delete).setOnClickListener { viewModel.onEvent(PocDetailEvent.DeleteTapped) }
        findViewById<Button>(R.id.edit).setOnClickListener {
            startActivity(Intent(this, PocEditorActivity::class.java).putExtra(Extras.POC_ID, pocId))
        }
        findViewById<Button>(R.id.start_dojo).setOnClickListener {
            val poc = viewModel.state.value.poc ?: return@setOnClickListener
            startActivity(
                Intent(this, DojoCreateActivity::class.java).putExtra(Extras.POC_ID, poc.id).putExtra(Extras.POC_NAME, poc.name),
            )
        }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    override fun onRestart() {
        super.onRestart()
        returning = true
    }

    override fun onResume() {
        super.onResume()
        // Back from the editor (or anywhere): show the POC as it is now.
        if (returning) screen.viewModel.onEvent(PocDetailEvent.Reload)
        returning = false
    }

    private fun render(state: PocDetailState) {
        if (state.signedOut) {
            views.cancel()
            toSignIn()
            return
        }
        if (state.deleted) {
            views.cancel() // close once: later states of this screen are not drawn
            finish()
            return
        }
        findViewById<View>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<View>(R.id.loading).visibility = if (state.loading || state.deleting) View.VISIBLE else View.GONE
        findViewById<View>(R.id.error_bar).visibility = if (state.error != null) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.error).show(state.error?.let(::text))
        val poc = state.poc
        findViewById<View>(R.id.content).visibility = if (poc != null) View.VISIBLE else View.GONE
        if (poc != null) {
            findViewById<TextView>(R.id.name).text = poc.name
            findViewById<TextView>(R.id.details).text =
                if (poc.tags.isEmpty()) {
                    poc.language
                } else {
                    getString(R.string.poc_language_and_tags, poc.language, poc.tags.joinToString(", "))
                }
            findViewById<TextView>(R.id.github_url).text = poc.githubUrl
            findViewById<TextView>(R.id.description).show(poc.description.ifEmpty { null })
            findViewById<TextView>(R.id.updated).text = getString(R.string.poc_updated, shownTime(poc.updatedAt))
        }
        listOf(R.id.edit, R.id.delete, R.id.start_dojo).forEach { findViewById<Button>(it).isEnabled = !state.deleting }
        renderConfirmation(state)
    }

    private fun renderConfirmation(state: PocDetailState) {
        val poc = state.poc
        if (!state.confirmingDelete || poc == null) {
            confirmation?.dismiss()
            confirmation = null
            return
        }
        if (confirmation != null) return
        val viewModel = screen.viewModel
        confirmation =
            AlertDialog.Builder(this)
                .setTitle(R.string.delete_confirm_title)
                .setMessage(getString(R.string.delete_confirm_message, poc.name))
                .setPositiveButton(R.string.action_delete) { _, _ -> viewModel.onEvent(PocDetailEvent.DeleteConfirmed) }
                .setNegativeButton(R.string.action_cancel) { _, _ -> viewModel.onEvent(PocDetailEvent.DeleteCancelled) }
                .setOnCancelListener { viewModel.onEvent(PocDetailEvent.DeleteCancelled) }
                .show()
    }

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        confirmation?.setOnCancelListener(null) // rotation: the dialog is shown again from the state
        confirmation?.dismiss()
        views.cancel()
        if (!isChangingConfigurations) screen.close()
        super.onDestroy()
    }
}
