package dev.pocdojo.app.core.testing

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JobStage
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.gateway.VideoGateway
import dev.pocdojo.app.core.gateway.VideoRequest
import kotlinx.coroutines.channels.Channel

/**
 * Videos in memory, newest first. A long-poll ([get] with a wait) suspends until the test changes the
 * video with [advance]. Requests with a key already seen answer that key's video, as the server does.
 * Signed URLs are `https://store.test/<id>.mp4|.jpg?sig=<n>`, a new signature each time.
 */
class FakeVideoGateway(initial: List<Video> = emptyList()) : VideoGateway {
    val videos = initial.toMutableList()
    val requests = mutableListOf<Pair<VideoRequest, String>>()
    val deletions = mutableListOf<String>()
    val polls = mutableListOf<Pair<String, Int>>()
    private val byKey = mutableMapOf<String, String>()
    private val changes = mutableMapOf<String, Channel<Unit>>()
    private var made = 0
    private var signatures = 0

    /** Thrown by the next call of that kind (in order). */
    val requestFailures = ArrayDeque<GatewayException>()
    val pollFailures = ArrayDeque<GatewayException>()
    val latestFailures = ArrayDeque<GatewayException>()
    val linkFailures = ArrayDeque<GatewayException>()

    fun video(id: String): Video = videos.first { it.id == id }

    /** The video changes on the server: a long-poll waiting on it answers. */
    fun advance(id: String, change: (Video) -> Video) {
        val index = videos.indexOfFirst { it.id == id }
        videos[index] = change(videos[index])
        changes[id]?.trySend(Unit)
    }

    override suspend fun request(request: VideoRequest, idempotencyKey: String): Video {
        requests += request to idempotencyKey
        requestFailures.removeFirstOrNull()?.let { throw it }
        byKey[idempotencyKey]?.let { id -> return video(id) }
        made++
        val video = queuedVideo("new-$made")
        videos.add(0, video)
        byKey[idempotencyKey] = video.id
        return video
    }

    override suspend fun latest(): Video? {
        latestFailures.removeFirstOrNull()?.let { throw it }
        return videos.firstOrNull()
    }

    override suspend fun get(id: String, waitSeconds: Int): Video {
        polls += id to waitSeconds
        pollFailures.removeFirstOrNull()?.let { throw it }
        val before = videos.find { it.id == id } ?: throw GatewayException.NotFound("No such video.")
        if (waitSeconds > 0 && before.status.active) {
            changes.getOrPut(id) { Channel(Channel.CONFLATED) }.receive()
        }
        return videos.find { it.id == id } ?: throw GatewayException.NotFound("No such video.")
    }

    override suspend fun playUrl(id: String): String = signed(id, "mp4")

    override suspend fun thumbnailUrl(id: String): String = signed(id, "jpg")

    private fun signed(id: String, extension: String): String {
        linkFailures.removeFirstOrNull()?.let { throw it }
        val video = videos.find { it.id == id } ?: throw GatewayException.NotFound("No such video.")
        if (video.status != JobStatus.DONE) throw GatewayException.Conflict("The video is ${video.status}.")
        return "https://store.test/$id.$extension?sig=${++signatures}"
    }

    override suspend fun delete(id: String) {
        deletions += id
        val video = videos.find { it.id == id } ?: throw GatewayException.NotFound("No such video.")
        if (video.status.active) {
            advance(id) { it.copy(status = JobStatus.CANCELLED) }
        } else {
            videos.removeIf { it.id == id }
        }
    }
}

fun queuedVideo(id: String): Video = Video(id, JobStatus.QUEUED, JobStage.QUEUED, 0, null, 3, null, null, "2026-12-05T12:00:00Z")

fun Video.running(stage: JobStage, progress: Int): Video = copy(status = JobStatus.RUNNING, stage = stage, progress = progress)

fun Video.done(seconds: Double): Video =
    copy(status = JobStatus.DONE, stage = JobStage.DONE, progress = 100, durationSeconds = seconds, sizeBytes = 1_048_576)

fun Video.failed(error: String?): Video = copy(status = JobStatus.FAILED, error = error)
