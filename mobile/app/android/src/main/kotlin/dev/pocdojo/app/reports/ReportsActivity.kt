package dev.pocdojo.app.reports

import android.app.Activity
import android.app.AlertDialog
import android.content.ActivityNotFoundException
import android.content.Context
import android.content.Intent
import android.os.Bundle
import android.view.LayoutInflater
import android.view.View
import android.widget.AbsListView
import android.widget.Button
import android.widget.ListView
import android.widget.TextView
import android.widget.Toast
import dev.pocdojo.app.Extras
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.ReportFormat
import dev.pocdojo.app.core.gateway.ReportLanguage
import dev.pocdojo.app.core.reports.OpenFile
import dev.pocdojo.app.core.reports.ReportsEvent
import dev.pocdojo.app.core.reports.ReportsState
import dev.pocdojo.app.core.reports.ReportsViewModel
import dev.pocdojo.app.graph
import dev.pocdojo.app.retained
import dev.pocdojo.app.show
import dev.pocdojo.app.text
import dev.pocdojo.app.toSignIn
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/**
 * Binds the Reports screen to [ReportsViewModel]: PDF / CSV of the POC list's search (given by [intent]),
 * my reports with their progress, tap a done one to download and open it, long-press to cancel or delete.
 */
class ReportsActivity : Activity() {
    private lateinit var screen: Retained<ReportsViewModel>
    private lateinit var views: CoroutineScope
    private lateinit var adapter: ReportAdapter

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_reports)
        val gateway = checkNotNull(graph.gateways.reports) { "no report gateway bound" }
        val query = queryOf(intent)
        screen = retained { scope ->
            ReportsViewModel(gateway, graph.connectivity, scope, query, language(), ReportFilesProvider.directory(this).toPath())
        }
        val viewModel = screen.viewModel
        adapter = ReportAdapter(LayoutInflater.from(this))
        findViewById<ListView>(R.id.list).apply {
            adapter = this@ReportsActivity.adapter
            setOnItemClickListener { _, _, position, _ ->
                viewModel.onEvent(ReportsEvent.Open(this@ReportsActivity.adapter.getItem(position).id))
            }
            setOnItemLongClickListener { _, _, position, _ ->
                confirmDelete(this@ReportsActivity.adapter.getItem(position).id, this@ReportsActivity.adapter.getItem(position).report.status.active)
                true
            }
            setOnScrollListener(
                object : AbsListView.OnScrollListener {
                    override fun onScrollStateChanged(view: AbsListView, scrollState: Int) = Unit

                    override fun onScroll(view: AbsListView, first: Int, visible: Int, total: Int) {
                        if (total > 0 && first + visible >= total - PREFETCH_ROWS) viewModel.onEvent(ReportsEvent.NearEnd)
                    }
                },
            )
        }
        findViewById<TextView>(R.id.filters).text = describe(query)
        findViewById<Button>(R.id.request_pdf).setOnClickListener { viewModel.onEvent(ReportsEvent.Request(ReportFormat.PDF)) }
        findViewById<Button>(R.id.request_csv).setOnClickListener { viewModel.onEvent(ReportsEvent.Request(ReportFormat.CSV)) }
        findViewById<Button>(R.id.retry).setOnClickListener { viewModel.onEvent(ReportsEvent.Retry) }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    private fun render(state: ReportsState) {
        if (state.signedOut) {
            views.cancel()
            toSignIn()
            return
        }
        findViewById<View>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<Button>(R.id.request_pdf).isEnabled = state.requesting == null
        findViewById<Button>(R.id.request_csv).isEnabled = state.requesting == null
        findViewById<View>(R.id.requesting).visibility = if (state.requesting != null) View.VISIBLE else View.GONE
        findViewById<View>(R.id.error_bar).visibility = if (state.error != null) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.error).show(state.error?.let(::text))
        findViewById<View>(R.id.loading).visibility = if (state.loading) View.VISIBLE else View.GONE
        findViewById<View>(R.id.empty).visibility = if (state.empty) View.VISIBLE else View.GONE
        adapter.show(state.rows)
        state.notice?.let {
            Toast.makeText(this, text(it), Toast.LENGTH_LONG).show()
            screen.viewModel.onEvent(ReportsEvent.NoticeShown)
        }
        state.open?.let {
            screen.viewModel.onEvent(ReportsEvent.Opened)
            view(it)
        }
    }

    /** Opens the downloaded file with the phone's viewer, through our provider's content:// URI. */
    private fun view(file: OpenFile) {
        val intent = Intent(Intent.ACTION_VIEW)
            .setDataAndType(ReportFilesProvider.uriOf(file.path.toFile()), file.mimeType)
            .addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION)
        try {
            startActivity(intent)
        } catch (none: ActivityNotFoundException) {
            Toast.makeText(this, getString(R.string.report_no_viewer, file.mimeType), Toast.LENGTH_LONG).show()
        }
    }

    private fun confirmDelete(id: String, active: Boolean) {
        AlertDialog.Builder(this)
            .setMessage(if (active) R.string.report_confirm_cancel else R.string.report_confirm_delete)
            .setPositiveButton(if (active) R.string.action_cancel_report else R.string.action_delete) { _, _ ->
                screen.viewModel.onEvent(ReportsEvent.Delete(id))
            }
            .setNegativeButton(R.string.action_keep, null)
            .show()
    }

    private fun describe(query: PocQuery): String {
        val parts = listOfNotNull(
            query.text.takeIf { it.isNotBlank() }?.let { getString(R.string.report_filter_text, it) },
            query.language?.let { getString(R.string.report_filter_language, it) },
            query.tags.takeIf { it.isNotEmpty() }?.let { getString(R.string.report_filter_tags, it.sorted().joinToString(", ")) },
        )
        return if (parts.isEmpty()) getString(R.string.report_filters_none) else getString(R.string.report_filters, parts.joinToString(" · "))
    }

    /** The app's language, which the report's texts, dates and numbers follow. */
    private fun language(): ReportLanguage =
        if (resources.configuration.locales[0].language == "pt") ReportLanguage.PT_BR else ReportLanguage.EN

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        views.cancel()
        if (!isChangingConfigurations) screen.close() // stops the long-poll loops
        super.onDestroy()
    }

    companion object {
        private const val PREFETCH_ROWS = 5

        /** The Reports screen for the POC list's current search and filters. */
        fun intent(context: Context, query: PocQuery): Intent =
            Intent(context, ReportsActivity::class.java)
                .putExtra(Extras.QUERY_TEXT, query.text)
                .putExtra(Extras.QUERY_LANGUAGE, query.language)
                .putExtra(Extras.QUERY_TAGS, query.tags.sorted().toTypedArray())

        private fun queryOf(intent: Intent): PocQuery =
            PocQuery(
                text = intent.getStringExtra(Extras.QUERY_TEXT).orEmpty(),
                language = intent.getStringExtra(Extras.QUERY_LANGUAGE),
                tags = intent.getStringArrayExtra(Extras.QUERY_TAGS).orEmpty().toSet(),
            )
    }
}
