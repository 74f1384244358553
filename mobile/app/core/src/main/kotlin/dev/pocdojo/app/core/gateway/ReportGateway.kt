package dev.pocdojo.app.core.gateway

/** A report's file type. */
enum class ReportFormat(val extension: String, val mimeType: String) {
    PDF("pdf", "application/pdf"),
    CSV("csv", "text/csv"),
}

/** The language of a report: the app's ([MediaLanguage]). */
typealias ReportLanguage = MediaLanguage

/** A report's status ([JobStatus]). */
typealias ReportStatus = JobStatus

/** Where a running report is ([JobStage]). */
typealias ReportStage = JobStage

/** A report as `/v1/reports` returns it. [error] is the server's sentence (why it failed). */
data class Report(
    val id: String,
    val format: ReportFormat,
    val status: ReportStatus,
    val stage: ReportStage,
    val progress: Int,
    val error: String?,
    val rowCount: Int?,
    val sizeBytes: Long?,
    val createdAt: String,
)

/** One page of the caller's reports, newest first; [nextCursor] is null on the last page. */
data class ReportPage(val items: List<Report>, val nextCursor: String?)

/** What a report is asked for: a file type, its language, and the POC list's search and filters. */
data class ReportRequest(val format: ReportFormat, val language: ReportLanguage, val query: PocQuery)

/** Report calls the Reports screen needs. Failures are [GatewayException]s. */
interface ReportGateway {
    /** `POST /v1/reports`; [idempotencyKey] names the request: the same key again is the same report. */
    suspend fun request(request: ReportRequest, idempotencyKey: String): Report

    /** One page of `GET /v1/reports` from [cursor] (null: the newest). */
    suspend fun list(cursor: String?, limit: Int): ReportPage

    /** `GET /v1/reports/{id}`, answering when it changes or after [waitSeconds] (0: at once). */
    suspend fun get(id: String, waitSeconds: Int): Report

    /**
     * Downloads a done report to [file] (whole, or not at all), reporting [onProgress] (bytes so far and the
     * total when known; called on any thread); returns its size. A file that cannot be written is an
     * `IOException` (the device's storage, not the backend).
     */
    suspend fun download(id: String, file: java.nio.file.Path, onProgress: (Long, Long?) -> Unit): Long

    /** `DELETE /v1/reports/{id}`: cancels a queued or running report, deletes a finished one. */
    suspend fun delete(id: String)
}
