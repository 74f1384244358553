package dev.pocdojo.app.core.reports

import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.Report
import dev.pocdojo.app.core.gateway.ReportFormat
import dev.pocdojo.app.core.gateway.ReportStatus
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import java.nio.file.Path

/** A download of a done report to the app's files: under way (bytes so far), or failed with why. */
data class Download(val bytesRead: Long, val totalBytes: Long?, val error: UiMessage? = null) {
    /** 0-100 when the size is known. */
    val percent: Int? get() = totalBytes?.takeIf { it > 0 }?.let { (bytesRead * 100 / it).toInt().coerceIn(0, 100) }
}

/** One of my reports as the list shows it. */
data class ReportRow(
    val report: Report,
    /** The report's file is in the app's files (tapping opens it at once). */
    val downloaded: Boolean = false,
    val download: Download? = null,
    /** A cancel or delete is under way. */
    val deleting: Boolean = false,
) {
    val id: String get() = report.id

    /** Why it did not finish, in words: the server's sentence, or ours when it gave none or was cancelled. */
    val problem: UiMessage?
        get() = when (report.status) {
            ReportStatus.FAILED -> report.error?.let { UiMessage.FromServer(it) } ?: MessageKey.REPORT_FAILED.message()
            ReportStatus.CANCELLED -> MessageKey.REPORT_CANCELLED.message()
            else -> null
        }
}

/** A file for the screen to open with the phone's viewer (consumed with [ReportsEvent.Opened]). */
data class OpenFile(val path: Path, val mimeType: String)

data class ReportsState(
    /** The POC list's search and filters that new reports are made of. */
    val query: PocQuery,
    val rows: List<ReportRow> = emptyList(),
    /** The first page is loading. */
    val loading: Boolean = false,
    val loadingMore: Boolean = false,
    val endReached: Boolean = false,
    /** The list could not be loaded: shown with a retry. */
    val error: UiMessage? = null,
    /** A request for a new report is under way (its format). */
    val requesting: ReportFormat? = null,
    /** The last action failed (request, delete): shown once, then [ReportsEvent.NoticeShown]. */
    val notice: UiMessage? = null,
    val offline: Boolean = false,
    val signedOut: Boolean = false,
    val open: OpenFile? = null,
) {
    val empty: Boolean get() = rows.isEmpty() && endReached && !loading && error == null
}

sealed interface ReportsEvent {
    /** The PDF or CSV button: a report of [ReportsState.query]. */
    data class Request(val format: ReportFormat) : ReportsEvent

    /** Tapped a row: a done report is downloaded (once) and opened. */
    data class Open(val id: String) : ReportsEvent

    /** Cancel a queued or running report, or delete a finished one (and its file on the device). */
    data class Delete(val id: String) : ReportsEvent

    data object NearEnd : ReportsEvent

    data object Retry : ReportsEvent

    data object Refresh : ReportsEvent

    /** The screen showed [ReportsState.notice]. */
    data object NoticeShown : ReportsEvent

    /** The screen handed [ReportsState.open] to the viewer. */
    data object Opened : ReportsEvent
}
