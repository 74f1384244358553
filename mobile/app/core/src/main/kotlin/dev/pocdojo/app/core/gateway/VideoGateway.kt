package dev.pocdojo.app.core.gateway

/** A year-in-review video's frame size. */
enum class VideoResolution { HD_720P, FULL_HD_1080P }

/**
 * A video as `/v1/videos` returns it: a year in review, or a dojo's replay ([dojoId] set). [error] is the
 * server's sentence (why it failed).
 */
data class Video(
    val id: String,
    val status: JobStatus,
    val stage: JobStage,
    val progress: Int,
    val error: String?,
    val pocCount: Int?,
    val durationSeconds: Double?,
    val sizeBytes: Long?,
    val createdAt: String,
    val dojoId: String? = null,
)

/** What a video is asked for: the last twelve months of my POCs, in [language], at [resolution]. */
data class VideoRequest(val language: MediaLanguage, val resolution: VideoResolution)

/** Video calls the "My year" screen needs. Failures are [GatewayException]s. */
interface VideoGateway {
    /** `POST /v1/videos`; [idempotencyKey] names the request: the same key again is the same video. */
    suspend fun request(request: VideoRequest, idempotencyKey: String): Video

    /** My newest video (`GET /v1/videos?limit=1`), or null when I have none. */
    suspend fun latest(): Video?

    /** `GET /v1/videos/{id}`, answering when it changes or after [waitSeconds] (0: at once). */
    suspend fun get(id: String, waitSeconds: Int): Video

    /** The done video's MP4 as a short-lived signed URL (streams with HTTP Range; no token needed). */
    suspend fun playUrl(id: String): String

    /** The done video's JPEG thumbnail as a short-lived signed URL. */
    suspend fun thumbnailUrl(id: String): String

    /** `DELETE /v1/videos/{id}`: cancels a queued or running video, deletes a finished one. */
    suspend fun delete(id: String)
}
