package dev.pocdojo.app.poclist

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.view.LayoutInflater
import android.view.Menu
import android.view.MenuItem
import android.view.View
import android.widget.AbsListView
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.ListView
import android.widget.TextView
import android.widget.Toast
import dev.pocdojo.app.Extras
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.poclist.Chip
import dev.pocdojo.app.core.poclist.PocListEvent
import dev.pocdojo.app.core.poclist.PocListState
import dev.pocdojo.app.core.poclist.PocListViewModel
import dev.pocdojo.app.dojos.DojoListActivity
import dev.pocdojo.app.graph
import dev.pocdojo.app.pocdetail.PocDetailActivity
import dev.pocdojo.app.poceditor.PocEditorActivity
import dev.pocdojo.app.onEdited
import dev.pocdojo.app.myyear.MyYearActivity
import dev.pocdojo.app.reports.ReportsActivity
import dev.pocdojo.app.retained
import dev.pocdojo.app.setTextQuietly
import dev.pocdojo.app.show
import dev.pocdojo.app.toSignIn
import dev.pocdojo.app.text
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/** Binds the POC list screen to [PocListViewModel]. */
class PocListActivity : Activity() {
    private lateinit var screen: Retained<PocListViewModel>
    private lateinit var views: CoroutineScope
    private lateinit var adapter: PocAdapter

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_poc_list)
        screen = retained { scope -> PocListViewModel(graph.gateways.pocs, graph.gateways.auth, graph.connectivity, scope) }
        val viewModel = screen.viewModel
        adapter = PocAdapter(LayoutInflater.from(this))
        findViewById<ListView>(R.id.list).apply {
            adapter = this@PocListActivity.adapter
            setOnItemClickListener { _, _, position, _ ->
                val poc = this@PocListActivity.adapter.getItem(position) as? Poc ?: return@setOnItemClickListener
                startActivity(Intent(this@PocListActivity, PocDetailActivity::class.java).putExtra(Extras.POC_ID, poc.id))
            }
            setOnScrollListener(NearEndListener { viewModel.onEvent(PocListEvent.NearEnd) })
        }
        findViewById<EditText>(R.id.search).onEdited { viewModel.onEvent(PocListEvent.TextChanged(it)) }
        findViewById<Button>(R.id.retry).setOnClickListener { viewModel.onEvent(PocListEvent.Retry) }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    private fun render(state: PocListState) {
        if (state.signedOut) {
            views.cancel() // navigate once: later states of this screen are not drawn
            state.signOutWarning?.let { Toast.makeText(applicationContext, text(it), Toast.LENGTH_LONG).show() }
            toSignIn()
            return
        }
        findViewById<TextView>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<EditText>(R.id.search).setTextQuietly(state.text)
        renderChips(findViewById(R.id.language_chips), state.languageChips) { PocListEvent.LanguageToggled(it) }
        renderChips(findViewById(R.id.tag_chips), state.tagChips) { PocListEvent.TagToggled(it) }
        findViewById<TextView>(R.id.facets_error).visibility = if (state.facetsError != null) View.VISIBLE else View.GONE
        findViewById<View>(R.id.error_bar).visibility = if (state.error != null) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.error).show(state.error?.let(::text))
        findViewById<View>(R.id.loading).visibility = if (state.loading) View.VISIBLE else View.GONE
        findViewById<View>(R.id.empty).visibility = if (state.empty) View.VISIBLE else View.GONE
        adapter.show(state.items, state.loadingMore)
    }

    private fun renderChips(row: LinearLayout, chips: List<Chip>, event: (String) -> PocListEvent) {
        val inflater = LayoutInflater.from(this)
        while (row.childCount > chips.size) row.removeViewAt(row.childCount - 1)
        while (row.childCount < chips.size) row.addView(inflater.inflate(R.layout.chip, row, false))
        chips.forEachIndexed { index, chip ->
            (row.getChildAt(index) as TextView).apply {
                text = chip.count?.let { getString(R.string.chip_with_count, chip.value, it) } ?: chip.value
                isSelected = chip.selected
                setOnClickListener { screen.viewModel.onEvent(event(chip.value)) }
            }
        }
    }

    override fun onRestart() {
        super.onRestart()
        // Back from a POC's page or the editor: a POC may have been added, edited or deleted.
        screen.viewModel.onEvent(PocListEvent.Refresh)
    }

    override fun onCreateOptionsMenu(menu: Menu): Boolean {
        menuInflater.inflate(R.menu.poc_list, menu)
        return true
    }

    override fun onOptionsItemSelected(item: MenuItem): Boolean =
        when (item.itemId) {
            R.id.action_new_poc -> true.also { startActivity(Intent(this, PocEditorActivity::class.java)) }
            R.id.action_dojos -> true.also { startActivity(Intent(this, DojoListActivity::class.java)) }
            R.id.action_reports -> true.also { startActivity(ReportsActivity.intent(this, screen.viewModel.state.value.query)) }
            R.id.action_my_year -> true.also { startActivity(Intent(this, MyYearActivity::class.java)) }
            R.id.action_sign_out -> true.also { screen.viewModel.onEvent(PocListEvent.SignOut) }
            else -> super.onOptionsItemSelected(item)
        }

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        views.cancel()
        if (!isChangingConfigurations) screen.close()
        super.onDestroy()
    }

    /** Asks for the next page when the last rows come into view. */
    private class NearEndListener(private val nearEnd: () -> Unit) : AbsListView.OnScrollListener {
        override fun onScrollStateChanged(view: AbsListView, scrollState: Int) = Unit

        override fun onScroll(view: AbsListView, first: Int, visible: Int, total: Int) {
            if (total > 0 && first + visible >= total - PREFETCH_ROWS) nearEnd()
        }
    }

    private companion object {
        const val PREFETCH_ROWS = 5
    }
}
