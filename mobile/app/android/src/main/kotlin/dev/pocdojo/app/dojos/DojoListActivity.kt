package dev.pocdojo.app.dojos

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.view.LayoutInflater
import android.view.View
import android.widget.AbsListView
import android.widget.Button
import android.widget.ListView
import android.widget.TextView
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.dojos.DojoListEvent
import dev.pocdojo.app.core.dojos.DojoListState
import dev.pocdojo.app.core.dojos.DojoListViewModel
import dev.pocdojo.app.graph
import dev.pocdojo.app.replay.ReplayActivity
import dev.pocdojo.app.retained
import dev.pocdojo.app.show
import dev.pocdojo.app.text
import dev.pocdojo.app.toSignIn
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/** The tenant's dojos: tap a running one to join it, an ended one to replay it, or start a new one. */
class DojoListActivity : Activity() {
    private lateinit var screen: Retained<DojoListViewModel>
    private lateinit var views: CoroutineScope
    private lateinit var adapter: DojoAdapter
    private var returning = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_dojo_list)
        screen = retained { scope -> DojoListViewModel(graph.gateways.dojos, graph.connectivity, scope) }
        val viewModel = screen.viewModel
        adapter = DojoAdapter(LayoutInflater.from(this))
        findViewById<ListView>(R.id.list).apply {
            adapter = this@DojoListActivity.adapter
            setOnItemClickListener { _, _, position, _ ->
                viewModel.onEvent(DojoListEvent.Join(this@DojoListActivity.adapter.getItem(position).id))
            }
            setOnScrollListener(
                object : AbsListView.OnScrollListener {
                    override fun onScrollStateChanged(view: AbsListView, scrollState: Int) = Unit

                    override fun onScroll(view: AbsListView, first: Int, visible: Int, total: Int) {
                        if (total > 0 && first + visible >= total - PREFETCH_ROWS) viewModel.onEvent(DojoListEvent.NearEnd)
                    }
                },
            )
        }
        findViewById<Button>(R.id.retry).setOnClickListener { viewModel.onEvent(DojoListEvent.Refresh) }
        findViewById<Button>(R.id.new_dojo).setOnClickListener { startActivity(Intent(this, DojoCreateActivity::class.java)) }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    override fun onRestart() {
        super.onRestart()
        returning = true
    }

    override fun onResume() {
        super.onResume()
        if (returning) screen.viewModel.onEvent(DojoListEvent.Refresh) // dojos start and end meanwhile
        returning = false
    }

    private fun render(state: DojoListState) {
        if (state.signedOut) {
            views.cancel()
            toSignIn()
            return
        }
        state.joined?.let {
            screen.viewModel.onEvent(DojoListEvent.Opened)
            startActivity(DojoRoomActivity.intent(this, it))
        }
        state.replay?.let {
            screen.viewModel.onEvent(DojoListEvent.Opened)
            startActivity(ReplayActivity.intent(this, it))
        }
        findViewById<View>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<View>(R.id.error_bar).visibility = if (state.error != null) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.error).show(state.error?.let(::text))
        findViewById<View>(R.id.loading).visibility = if (state.loading || state.loadingMore) View.VISIBLE else View.GONE
        findViewById<View>(R.id.empty).visibility = if (state.empty) View.VISIBLE else View.GONE
        adapter.show(state.items, state.joining)
    }

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        views.cancel()
        if (!isChangingConfigurations) screen.close()
        super.onDestroy()
    }

    private companion object {
        const val PREFETCH_ROWS = 5
    }
}
