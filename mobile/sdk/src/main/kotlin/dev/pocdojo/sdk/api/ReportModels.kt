package dev.pocdojo.sdk.api

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.json.JsonObject
import java.time.Instant

/** A report's file type. */
@Serializable
public enum class ReportFormat(internal val wire: String) {
    @SerialName("pdf")
    PDF("pdf"),

    @SerialName("csv")
    CSV("csv"),
}

/** A report's language: the media jobs' [MediaLocale]. */
public typealias ReportLocale = MediaLocale

/** A report's status: the media jobs' [JobStatus]. */
public typealias ReportStatus = JobStatus

/** A report's stage: the media jobs' [JobStage]. */
public typealias ReportStage = JobStage

/** A report of a POC search and its job (`/v1/reports`). */
@Serializable
public data class Report(
    val id: String,
    @SerialName("user_id") val userId: String,
    val status: ReportStatus,
    val stage: ReportStage,
    /** 0-100. */
    val progress: Int,
    /** Why it failed (or why it is being retried), in the server's words. */
    val error: String? = null,
    val format: ReportFormat,
    val locale: ReportLocale,
    val title: String? = null,
    val bom: Boolean = false,
    /** The filters as the report was asked for (`q`, `language`, `tag`...). */
    val filters: JsonObject = JsonObject(emptyMap()),
    /** POCs in the report, known once the search was frozen. */
    @SerialName("row_count") val rowCount: Int? = null,
    /** The file's size once done. */
    @SerialName("size_bytes") val sizeBytes: Long? = null,
    @SerialName("created_at") @Serializable(InstantSerializer::class) val createdAt: Instant,
    @SerialName("started_at") @Serializable(InstantSerializer::class) val startedAt: Instant? = null,
    @SerialName("finished_at") @Serializable(InstantSerializer::class) val finishedAt: Instant? = null,
    /** Set once done: the API path that redirects to the file ([ReportsApi.download] follows it). */
    @SerialName("download_url") val downloadUrl: String? = null,
)

/**
 * `POST /v1/reports`: a report of what `GET /v1/pocs` with [query]'s filters returns now, in its order
 * ([PocQuery.limit] is not a filter and is not sent). [title] is the PDF cover's; [bom] starts a CSV with
 * a UTF-8 byte order mark (for Excel).
 */
public data class NewReport(
    val format: ReportFormat,
    val locale: ReportLocale,
    val query: PocQuery = PocQuery(),
    val title: String? = null,
    val bom: Boolean = false,
)

/** How much of a download has arrived; [totalBytes] is null when the server did not say. */
public data class DownloadProgress(val bytesRead: Long, val totalBytes: Long?)
