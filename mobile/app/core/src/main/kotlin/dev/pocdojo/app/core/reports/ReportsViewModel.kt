package dev.pocdojo.app.core.reports

import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.Report
import dev.pocdojo.app.core.gateway.ReportFormat
import dev.pocdojo.app.core.gateway.ReportGateway
import dev.pocdojo.app.core.gateway.ReportLanguage
import dev.pocdojo.app.core.gateway.ReportRequest
import dev.pocdojo.app.core.gateway.ReportStatus
import dev.pocdojo.app.core.jobs.RequestKeys
import dev.pocdojo.app.core.jobs.followJob
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.message
import dev.pocdojo.app.core.text.toUiMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import java.io.IOException
import java.nio.file.Files
import java.nio.file.Path
import java.util.UUID

/**
 * Page size; how long one long-poll asks the server to wait (at most 25 s); the pause before following a
 * report again after a failed poll (offline, server down).
 */
data class ReportsSettings(val pageSize: Int = 20, val waitSeconds: Int = 25, val retryDelayMillis: Long = 5_000)

/**
 * The Reports screen: ask for a PDF or CSV report of the POC list's search ([query]) in the app's
 * [language], follow every queued or running report with long-polls (one loop per report, in [scope]: they
 * stop when the screen's owner cancels it), list my reports page by page, download a done one into
 * [files] and open it, cancel or delete one.
 *
 * A request keeps its idempotency key until the server answers it: asking again for the same report after
 * a network failure or a server error sends the same key, so the server makes one report, not two.
 */
class ReportsViewModel(
    private val reports: ReportGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    query: PocQuery,
    private val language: ReportLanguage,
    private val files: Path,
    private val settings: ReportsSettings = ReportsSettings(),
    private val newKey: () -> String = { UUID.randomUUID().toString() },
) {
    private val mutableState = MutableStateFlow(ReportsState(query, loading = true))
    val state: StateFlow<ReportsState> = mutableState.asStateFlow()

    private var load: Job? = null
    private var nextCursor: String? = null
    private var failedMore = false

    /** The long-poll loop of each report being followed. */
    private val followers = mutableMapOf<String, Job>()

    private val keys = RequestKeys<ReportRequest>(newKey)

    init {
        scope.launch {
            connectivity.online.collect { online ->
                val wasOffline = mutableState.value.offline
                mutableState.update { it.copy(offline = !online) }
                if (online && wasOffline && mutableState.value.error != null) retry()
            }
        }
        loadFirst()
    }

    fun onEvent(event: ReportsEvent) {
        when (event) {
            is ReportsEvent.Request -> request(event.format)
            is ReportsEvent.Open -> open(event.id)
            is ReportsEvent.Delete -> delete(event.id)
            ReportsEvent.NearEnd -> loadMore()
            ReportsEvent.Retry -> retry()
            ReportsEvent.Refresh -> loadFirst()
            ReportsEvent.NoticeShown -> mutableState.update { it.copy(notice = null) }
            ReportsEvent.Opened -> mutableState.update { it.copy(open = null) }
        }
    }

    /** Where a report's file is kept on the device. */
    fun fileOf(report: Report): Path = files.resolve("report-${report.id}.${report.format.extension}")

    private fun request(format: ReportFormat) {
        if (mutableState.value.requesting != null) return
        val request = ReportRequest(format, language, mutableState.value.query)
        val key = keys.keyFor(request)
        mutableState.update { it.copy(requesting = format, notice = null) }
        scope.launch {
            try {
                val report = reports.request(request, key)
                keys.ended()
                mutableState.update { state ->
                    val row = state.rows.find { it.id == report.id }?.copy(report = report) ?: row(report)
                    state.copy(rows = listOf(row) + state.rows.filter { it.id != report.id })
                }
                follow(report)
            } catch (failure: GatewayException) {
                keys.ended(failure)
                notify(failure)
            } finally {
                mutableState.update { it.copy(requesting = null) }
            }
        }
    }

    /** Follows [report] with long-polls until it is finished (or gone), unless it is followed already. */
    private fun follow(report: Report) {
        if (!report.status.active || followers[report.id]?.isActive == true) return
        followers[report.id] = scope.launch {
            try {
                followJob(report, { it.status.active }, settings.retryDelayMillis, { reports.get(it.id, settings.waitSeconds) }, ::replace)
            } catch (failure: GatewayException.NotFound) {
                remove(report.id)
            } catch (failure: GatewayException.SignedOut) {
                mutableState.update { it.copy(signedOut = true) }
            }
        }
    }

    private fun open(id: String) {
        val row = mutableState.value.rows.find { it.id == id } ?: return
        if (row.report.status != ReportStatus.DONE || row.deleting) return
        if (row.download != null && row.download.error == null) return // under way
        val file = fileOf(row.report)
        if (row.downloaded && Files.exists(file)) {
            mutableState.update { it.copy(open = OpenFile(file, row.report.format.mimeType)) }
            return
        }
        updateRow(id) { it.copy(downloaded = false, download = Download(0, row.report.sizeBytes)) }
        scope.launch {
            try {
                Files.createDirectories(files)
                reports.download(id, file) { read, total ->
                    updateRow(id) { it.copy(download = Download(read, total ?: it.report.sizeBytes)) }
                }
                updateRow(id) { it.copy(downloaded = true, download = null) }
                mutableState.update { it.copy(open = OpenFile(file, row.report.format.mimeType)) }
            } catch (failure: GatewayException) {
                if (failure is GatewayException.NotFound) {
                    remove(id)
                } else {
                    updateRow(id) { it.copy(download = (it.download ?: Download(0, null)).copy(error = failure.toUiMessage())) }
                }
                mutableState.update { it.copy(signedOut = it.signedOut || failure is GatewayException.SignedOut) }
            } catch (failure: IOException) {
                // the phone could not keep the file (storage full or unwritable): say so on the row
                updateRow(id) { it.copy(download = (it.download ?: Download(0, null)).copy(error = MessageKey.REPORT_NOT_SAVED.message())) }
            }
        }
    }

    private fun delete(id: String) {
        val row = mutableState.value.rows.find { it.id == id } ?: return
        if (row.deleting) return
        updateRow(id) { it.copy(deleting = true) }
        scope.launch {
            try {
                reports.delete(id)
                if (row.report.status.active) {
                    // cancelled: it stays in the list as such (unless it had just finished and was deleted)
                    followers.remove(id)?.cancel()
                    replace(reports.get(id, waitSeconds = 0))
                    updateRow(id) { it.copy(deleting = false) }
                } else {
                    remove(id)
                }
            } catch (failure: GatewayException) {
                if (failure is GatewayException.NotFound) {
                    remove(id)
                } else {
                    updateRow(id) { it.copy(deleting = false) }
                    notify(failure)
                }
            }
        }
    }

    private fun retry() {
        if (failedMore) loadMore(afterFailure = true) else loadFirst()
    }

    private fun loadFirst() {
        load?.cancel()
        failedMore = false
        mutableState.update { it.copy(loading = true, loadingMore = false, error = null) }
        load = scope.launch {
            try {
                val page = reports.list(cursor = null, limit = settings.pageSize)
                nextCursor = page.nextCursor
                mutableState.update { state ->
                    val known = state.rows.associateBy { it.id }
                    val rows = page.items.map { report -> known[report.id]?.copy(report = report) ?: row(report) }
                    state.copy(rows = rows, loading = false, endReached = page.nextCursor == null)
                }
                page.items.forEach(::follow)
            } catch (failure: GatewayException) {
                fail(failure)
            }
        }
    }

    private fun loadMore(afterFailure: Boolean = false) {
        val current = mutableState.value
        val cursor = nextCursor
        val busy = current.loading || current.loadingMore || (current.error != null && !afterFailure)
        if (busy || cursor == null) return
        failedMore = false
        mutableState.update { it.copy(loadingMore = true, error = null) }
        load = scope.launch {
            try {
                val page = reports.list(cursor, settings.pageSize)
                nextCursor = page.nextCursor
                mutableState.update { state ->
                    val known = state.rows.mapTo(HashSet()) { it.id }
                    val more = page.items.filter { it.id !in known }.map(::row)
                    state.copy(rows = state.rows + more, loadingMore = false, endReached = page.nextCursor == null)
                }
                page.items.forEach(::follow)
            } catch (failure: GatewayException) {
                failedMore = true
                fail(failure)
            }
        }
    }

    private fun row(report: Report): ReportRow = ReportRow(report, downloaded = Files.exists(fileOf(report)))

    private fun replace(report: Report) = updateRow(report.id) { it.copy(report = report) }

    private fun updateRow(id: String, change: (ReportRow) -> ReportRow) {
        mutableState.update { state -> state.copy(rows = state.rows.map { if (it.id == id) change(it) else it }) }
    }

    private fun remove(id: String) {
        followers.remove(id)?.cancel()
        val gone = mutableState.value.rows.find { it.id == id }
        mutableState.update { state -> state.copy(rows = state.rows.filter { it.id != id }) }
        gone?.let { Files.deleteIfExists(fileOf(it.report)) }
    }

    private fun notify(failure: GatewayException) {
        mutableState.update {
            it.copy(notice = failure.toUiMessage(), signedOut = it.signedOut || failure is GatewayException.SignedOut)
        }
    }

    private fun fail(failure: GatewayException) {
        mutableState.update {
            it.copy(
                loading = false,
                loadingMore = false,
                error = failure.toUiMessage(),
                signedOut = it.signedOut || failure is GatewayException.SignedOut,
            )
        }
    }
}
