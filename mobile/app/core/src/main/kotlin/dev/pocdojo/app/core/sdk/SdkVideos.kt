package dev.pocdojo.app.core.sdk

import dev.pocdojo.app.core.gateway.JobStage
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.MediaLanguage
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.gateway.VideoGateway
import dev.pocdojo.app.core.gateway.VideoRequest
import dev.pocdojo.app.core.gateway.VideoResolution
import dev.pocdojo.sdk.api.MediaLocale
import dev.pocdojo.sdk.api.NewVideo
import dev.pocdojo.sdk.api.PocDojoClient
import kotlin.time.Duration.Companion.seconds
import dev.pocdojo.sdk.api.Video as SdkVideo
import dev.pocdojo.sdk.api.VideoResolution as SdkVideoResolution

/** The "My year" screen's gateway over the SDK's `client.videos` of the signed-in [client]. */
internal class SdkVideos(private val client: () -> PocDojoClient) : VideoGateway {
    override suspend fun request(request: VideoRequest, idempotencyKey: String): Video {
        val new = NewVideo(
            resolution = if (request.resolution == VideoResolution.FULL_HD_1080P) SdkVideoResolution.FULL_HD else SdkVideoResolution.HD,
            locale = if (request.language == MediaLanguage.PT_BR) MediaLocale.PT_BR else MediaLocale.EN,
        )
        return gatewayCall { client().videos.create(new, idempotencyKey) }.toApp()
    }

    override suspend fun latest(): Video? = gatewayCall { client().videos.list(limit = 1) }.items.firstOrNull()?.toApp()

    override suspend fun get(id: String, waitSeconds: Int): Video = gatewayCall { client().videos.get(id, waitSeconds.seconds) }.toApp()

    override suspend fun playUrl(id: String): String = gatewayCall { client().videos.downloadUrl(id) }

    override suspend fun thumbnailUrl(id: String): String = gatewayCall { client().videos.thumbnailUrl(id) }

    override suspend fun delete(id: String) = gatewayCall { client().videos.delete(id) }
}

/** The SDK's video as the app's. */
internal fun SdkVideo.toApp(): Video =
    Video(
        id = id,
        status = JobStatus.valueOf(status.name),
        stage = JobStage.valueOf(stage.name),
        progress = progress,
        error = error,
        pocCount = pocCount,
        durationSeconds = durationSeconds,
        sizeBytes = sizeBytes,
        createdAt = createdAt.toString(),
        dojoId = dojoId,
    )
