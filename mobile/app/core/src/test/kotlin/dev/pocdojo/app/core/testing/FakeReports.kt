package dev.pocdojo.app.core.testing

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.Report
import dev.pocdojo.app.core.gateway.ReportFormat
import dev.pocdojo.app.core.gateway.ReportGateway
import dev.pocdojo.app.core.gateway.ReportPage
import dev.pocdojo.app.core.gateway.ReportRequest
import dev.pocdojo.app.core.gateway.ReportStage
import dev.pocdojo.app.core.gateway.ReportStatus
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.channels.Channel
import java.nio.file.Files
import java.nio.file.Path

/**
 * Reports in memory, newest first. A long-poll ([get] with a wait) suspends until the test changes the
 * report with [advance] (or the wait would end: never, in virtual time, unless the test lets it).
 * Requests with a key already seen answer that key's report, as the server does.
 */
class FakeReportGateway(initial: List<Report> = emptyList()) : ReportGateway {
    val reports = initial.toMutableList()
    val requests = mutableListOf<Pair<ReportRequest, String>>()
    val deletions = mutableListOf<String>()
    val polls = mutableListOf<Pair<String, Int>>()
    val listCursors = mutableListOf<String?>()
    private val byKey = mutableMapOf<String, String>()
    private val changes = mutableMapOf<String, Channel<Unit>>()

    /** Thrown by the next call of that kind (in order). */
    val requestFailures = ArrayDeque<GatewayException>()
    val pollFailures = ArrayDeque<GatewayException>()
    val listFailures = ArrayDeque<GatewayException>()
    val downloadFailures = ArrayDeque<GatewayException>()

    /** The bytes each report's file holds; a download waits on [downloadHold] after the first half. */
    val contents = mutableMapOf<String, ByteArray>()
    var downloadHold: CompletableDeferred<Unit>? = null
    private var made = 0

    fun report(id: String): Report = reports.first { it.id == id }

    /** The report changes on the server: a long-poll waiting on it answers. */
    fun advance(id: String, change: (Report) -> Report) {
        val index = reports.indexOfFirst { it.id == id }
        reports[index] = change(reports[index])
        changes[id]?.trySend(Unit)
    }

    override suspend fun request(request: ReportRequest, idempotencyKey: String): Report {
        requests += request to idempotencyKey
        requestFailures.removeFirstOrNull()?.let { throw it }
        byKey[idempotencyKey]?.let { id -> return report(id) }
        made++
        val report = queuedReport("new-$made", request.format)
        reports.add(0, report)
        byKey[idempotencyKey] = report.id
        return report
    }

    override suspend fun list(cursor: String?, limit: Int): ReportPage {
        listCursors += cursor
        listFailures.removeFirstOrNull()?.let { throw it }
        val start = cursor?.toInt() ?: 0
        val end = minOf(start + limit, reports.size)
        return ReportPage(reports.subList(start, end).toList(), if (end < reports.size) end.toString() else null)
    }

    override suspend fun get(id: String, waitSeconds: Int): Report {
        polls += id to waitSeconds
        pollFailures.removeFirstOrNull()?.let { throw it }
        val before = reports.find { it.id == id } ?: throw GatewayException.NotFound("No such report.")
        if (waitSeconds > 0 && before.status.active) {
            changes.getOrPut(id) { Channel(Channel.CONFLATED) }.receive()
        }
        return reports.find { it.id == id } ?: throw GatewayException.NotFound("No such report.")
    }

    override suspend fun download(id: String, file: Path, onProgress: (Long, Long?) -> Unit): Long {
        downloadFailures.removeFirstOrNull()?.let { throw it }
        val report = reports.find { it.id == id } ?: throw GatewayException.NotFound("No such report.")
        if (report.status != ReportStatus.DONE) throw GatewayException.Conflict("The report is ${report.status}.")
        val bytes = contents.getValue(id)
        onProgress(0, bytes.size.toLong())
        onProgress(bytes.size / 2L, bytes.size.toLong())
        downloadHold?.await()
        Files.write(file, bytes)
        onProgress(bytes.size.toLong(), bytes.size.toLong())
        return bytes.size.toLong()
    }

    override suspend fun delete(id: String) {
        deletions += id
        val report = reports.find { it.id == id } ?: throw GatewayException.NotFound("No such report.")
        if (report.status.active) {
            advance(id) { it.copy(status = ReportStatus.CANCELLED) }
        } else {
            reports.removeIf { it.id == id }
        }
    }
}

fun queuedReport(id: String, format: ReportFormat = ReportFormat.PDF): Report =
    Report(id, format, ReportStatus.QUEUED, ReportStage.QUEUED, 0, null, 3, null, "2026-12-05T12:00:00Z")

fun Report.running(stage: ReportStage, progress: Int): Report = copy(status = ReportStatus.RUNNING, stage = stage, progress = progress)

fun Report.done(size: Long): Report = copy(status = ReportStatus.DONE, stage = ReportStage.DONE, progress = 100, sizeBytes = size)

fun Report.failed(error: String?): Report = copy(status = ReportStatus.FAILED, error = error)
