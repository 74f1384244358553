package dev.pocdojo.sdk.api

import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import kotlinx.serialization.json.putJsonArray
import kotlinx.serialization.json.putJsonObject
import okhttp3.Request
import java.io.OutputStream
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.util.UUID
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * PDF and CSV reports of a POC search (`/v1/reports`): ask for one, follow its job, download the file,
 * cancel or delete it. A report is made by the media service's workers; [get] with a wait follows it.
 */
public class ReportsApi internal constructor(
    private val transport: Transport,
    private val sessions: SessionManager,
) {
    private val reportPage = Page.serializer(Report.serializer())

    /**
     * Asks for a report (202: queued). [idempotencyKey] names this request: keep it until the answer
     * arrives and send the same key when asking again, so that a retried POST (this client retries it after
     * a network failure or a 5xx) answers the report the first one created instead of making a second.
     * The same key with another body is a [ValidationException] on the field `Idempotency-Key`.
     * Too many of the caller's reports queued or running: [RateLimitedException] with its `retryAfter`.
     */
    public suspend fun create(report: NewReport, idempotencyKey: String = newIdempotencyKey()): Report {
        val body = buildJsonObject {
            put("format", report.format.wire)
            put("locale", report.locale.wire)
            report.title?.let { put("title", it) }
            put("bom", report.bom)
            putJsonObject("filters") {
                val query = report.query
                query.text?.let { put("q", it) }
                query.language?.let { put("language", it) }
                if (query.tags.isNotEmpty()) putJsonArray("tag") { query.tags.forEach { add(JsonPrimitive(it)) } }
                query.owner?.let { put("owner", it) }
                query.createdFrom?.let { put("created_from", it.toString()) }
                query.createdTo?.let { put("created_to", it.toString()) }
                query.sort?.let { put("sort", it.wire) }
            }
        }
        val request = Request.Builder().url(transport.url("v1", "reports").build())
            .header(Transport.IDEMPOTENCY_KEY, idempotencyKey)
            .post(body.toString().toJsonBody())
            .build()
        return transport.decode(sessions.send(request), Report.serializer())
    }

    /** The caller's reports (an administrator's: the tenant's), newest first; pass `nextCursor` back as [cursor]. */
    public suspend fun list(limit: Int? = null, cursor: String? = null): Page<Report> {
        val url = transport.url("v1", "reports")
        limit?.let { url.addQueryParameter("limit", it.toString()) }
        cursor?.let { url.addQueryParameter("cursor", it) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), reportPage)
    }

    /**
     * The report now, or — with a [wait] (whole seconds, at most [MAX_WAIT]) — once it changes (status,
     * stage or progress) or the wait ends, whichever comes first; a finished report answers at once.
     */
    public suspend fun get(id: String, wait: Duration = Duration.ZERO): Report {
        require(!wait.isNegative() && wait <= MAX_WAIT) { "wait must be within 0..$MAX_WAIT, got $wait" }
        val url = transport.url("v1", "reports", id)
        val seconds = wait.inWholeSeconds
        val options = if (seconds > 0) {
            url.addQueryParameter("wait", seconds.toString())
            CallOptions(readTimeout = wait + LONG_POLL_MARGIN)
        } else {
            CallOptions.DEFAULT
        }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build(), options), Report.serializer())
    }

    /**
     * Writes a done report's file to [out] and returns its size: `GET .../download` answers 302 to a
     * short-lived signed URL, fetched without the caller's token; [onProgress] is called (on an IO thread)
     * as the bytes arrive. A report that is not done is a [ConflictException]; an expired link is the
     * signed URL's error (403). [out] is not closed.
     */
    public suspend fun download(id: String, out: OutputStream, onProgress: (DownloadProgress) -> Unit = {}): Long {
        val signed = sessions.signedUrl(transport.url("v1", "reports", id, "download").build())
        val scope = currentCoroutineContext()
        return transport.stream(Request.Builder().url(signed).get().build()) { body ->
            val total = body.contentLength().takeIf { it >= 0 }
            var read = 0L
            val buffer = ByteArray(BUFFER_BYTES)
            onProgress(DownloadProgress(0, total))
            body.byteStream().use { input ->
                while (true) {
                    scope.ensureActive()
                    val n = input.read(buffer)
                    if (n < 0) break
                    out.write(buffer, 0, n)
                    read += n
                    onProgress(DownloadProgress(read, total))
                }
            }
            if (total != null && read != total) {
                throw MalformedResponseException("the download ended after $read of $total bytes")
            }
            read
        }
    }

    /**
     * Downloads a done report to [file]: written beside it first and moved into place once whole, so
     * [file] is either absent or the complete report (a failed or cancelled download leaves nothing).
     * The API's failures are [ApiException]s; a file that cannot be written here is an `IOException`.
     */
    public suspend fun downloadTo(id: String, file: Path, onProgress: (DownloadProgress) -> Unit = {}): Long {
        val parent = file.toAbsolutePath().parent
        Files.createDirectories(parent)
        val partial = Files.createTempFile(parent, file.fileName.toString(), ".part")
        try {
            val size = Files.newOutputStream(partial).use { download(id, it, onProgress) }
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE)
            return size
        } finally {
            Files.deleteIfExists(partial)
        }
    }

    /** Cancels a queued or running report (it never finishes), or deletes a finished one and its file. */
    public suspend fun delete(id: String) {
        sessions.send(Request.Builder().url(transport.url("v1", "reports", id).build()).delete().build())
    }

    public companion object {
        /** The longest wait the server accepts for [get]. */
        public val MAX_WAIT: Duration = 25.seconds

        /** A fresh key for [create]: keep it with the request it names. */
        public fun newIdempotencyKey(): String = UUID.randomUUID().toString()

        internal val LONG_POLL_MARGIN = 15.seconds
        private const val BUFFER_BYTES = 64 * 1024
    }
}
