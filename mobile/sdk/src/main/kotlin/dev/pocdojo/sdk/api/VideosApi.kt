package dev.pocdojo.sdk.api

import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import okhttp3.Request
import kotlin.time.Duration

/**
 * Videos (`/v1/videos`): the caller's year in review, or a dojo's replay: ask for one, follow its job, get the signed
 * URLs of its MP4, thumbnail and captions, cancel or delete it. The media service's workers render them
 * with ffmpeg; [get] with a wait follows one.
 */
public class VideosApi internal constructor(
    private val transport: Transport,
    private val sessions: SessionManager,
) {
    private val videoPage = Page.serializer(Video.serializer())

    /**
     * Asks for a video (202: queued). [idempotencyKey] names this request, as for [ReportsApi.create]: send
     * the same key when asking again after no answer, so a retried POST answers the video the first one made.
     * The same key with another body is a [ValidationException] on `Idempotency-Key`; too many videos
     * queued or running is a [RateLimitedException] with its `retryAfter`.
     */
    public suspend fun create(video: NewVideo, idempotencyKey: String = newIdempotencyKey()): Video {
        val body = buildJsonObject {
            put("period", video.period.toJson())
            put("resolution", video.resolution.wire)
            put("locale", video.locale.wire)
        }
        return post(body, idempotencyKey)
    }

    /**
     * Asks for a dojo's replay video (202: queued), a time-lapse of its files being written; the same
     * rules as the year video's [create]. A dojo the caller may not read is a [NotFoundException], a
     * tenant with history off a [ConflictException] (slug `history-off`).
     */
    public suspend fun create(video: NewReplayVideo, idempotencyKey: String = newIdempotencyKey()): Video {
        val body = buildJsonObject {
            put("kind", VideoKind.DOJO_REPLAY.wire)
            put("dojo_id", video.dojoId)
            put("speed", video.speed)
            put("resolution", video.resolution.wire)
            put("locale", video.locale.wire)
        }
        return post(body, idempotencyKey)
    }

    private suspend fun post(body: JsonObject, idempotencyKey: String): Video {
        val request = Request.Builder().url(transport.url("v1", "videos").build())
            .header(Transport.IDEMPOTENCY_KEY, idempotencyKey)
            .post(body.toString().toJsonBody())
            .build()
        return transport.decode(sessions.send(request), Video.serializer())
    }

    /** The caller's videos (an administrator's: the tenant's), newest first; pass `nextCursor` back as [cursor]. */
    public suspend fun list(limit: Int? = null, cursor: String? = null): Page<Video> {
        val url = transport.url("v1", "videos")
        limit?.let { url.addQueryParameter("limit", it.toString()) }
        cursor?.let { url.addQueryParameter("cursor", it) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), videoPage)
    }

    /**
     * The video now, or — with a [wait] (whole seconds, at most [MAX_WAIT]) — once it changes (status,
     * stage or progress) or the wait ends; a finished video answers at once.
     */
    public suspend fun get(id: String, wait: Duration = Duration.ZERO): Video {
        require(!wait.isNegative() && wait <= MAX_WAIT) { "wait must be within 0..$MAX_WAIT, got $wait" }
        val url = transport.url("v1", "videos", id)
        val seconds = wait.inWholeSeconds
        val options = if (seconds > 0) {
            url.addQueryParameter("wait", seconds.toString())
            CallOptions(readTimeout = wait + LONG_POLL_MARGIN)
        } else {
            CallOptions.DEFAULT
        }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build(), options), Video.serializer())
    }

    /**
     * The done video's MP4 as a short-lived signed URL (it serves HTTP Range, so a player streams and
     * seeks): hand it to a player or share it, without the caller's token; it expires after the server's
     * `POCDOJO_MEDIA_DOWNLOAD_URL_SECONDS`. A video that is not done is a [ConflictException].
     */
    public suspend fun downloadUrl(id: String): String = signed(id, "download")

    /** The done video's JPEG thumbnail as a short-lived signed URL (see [downloadUrl]). */
    public suspend fun thumbnailUrl(id: String): String = signed(id, "thumbnail")

    /** The done video's WebVTT captions as a short-lived signed URL (see [downloadUrl]). */
    public suspend fun captionsUrl(id: String): String = signed(id, "captions")

    private suspend fun signed(id: String, part: String): String =
        sessions.signedUrl(transport.url("v1", "videos", id, part).build()).toString()

    /** Cancels a queued or running video (it never finishes), or deletes a finished one and its files. */
    public suspend fun delete(id: String) {
        sessions.send(Request.Builder().url(transport.url("v1", "videos", id).build()).delete().build())
    }

    public companion object {
        /** The longest wait the server accepts for [get]. */
        public val MAX_WAIT: Duration = ReportsApi.MAX_WAIT

        /** A fresh key for [create]: keep it with the request it names. */
        public fun newIdempotencyKey(): String = ReportsApi.newIdempotencyKey()

        private val LONG_POLL_MARGIN = ReportsApi.LONG_POLL_MARGIN
    }
}
