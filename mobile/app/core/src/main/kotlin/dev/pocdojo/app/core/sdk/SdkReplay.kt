package dev.pocdojo.app.core.sdk

import dev.pocdojo.app.core.gateway.AuthorRun
import dev.pocdojo.app.core.gateway.IdleStretch
import dev.pocdojo.app.core.gateway.MediaLanguage
import dev.pocdojo.app.core.gateway.ReplayAuthor
import dev.pocdojo.app.core.gateway.ReplayFile
import dev.pocdojo.app.core.gateway.ReplayFrame
import dev.pocdojo.app.core.gateway.ReplayGateway
import dev.pocdojo.app.core.gateway.ReplayTimeline
import dev.pocdojo.app.core.gateway.ReplayVideoRequest
import dev.pocdojo.app.core.gateway.TimelineMark
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.gateway.VideoResolution
import dev.pocdojo.sdk.api.DojoHistory
import dev.pocdojo.sdk.api.HistoryInstant
import dev.pocdojo.sdk.api.MediaLocale
import dev.pocdojo.sdk.api.NewReplayVideo
import dev.pocdojo.sdk.api.PocDojoClient
import dev.pocdojo.sdk.api.VideoKind
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import dev.pocdojo.sdk.api.VideoResolution as SdkVideoResolution

/** The replay screen's gateway over the SDK's `client.dojos` history calls and `client.videos`. */
internal class SdkReplay(private val client: () -> PocDojoClient) : ReplayGateway {
    override suspend fun history(dojoId: String): ReplayTimeline = gatewayCall { client().dojos.history(dojoId) }.toApp()

    /** State and blame of one instant, asked for together. */
    override suspend fun frame(dojoId: String, tMs: Long): ReplayFrame {
        val at = HistoryInstant.SinceStart(tMs)
        val api = client().dojos
        val (state, blame) = coroutineScope {
            val state = async { gatewayCall { api.state(dojoId, at) } }
            val blame = async { gatewayCall { api.blame(dojoId, at) } }
            state.await() to blame.await()
        }
        val runs = blame.files.associate { file -> file.path to file.ranges.map { AuthorRun(it.start, it.end, it.userId) } }
        return ReplayFrame(state.tMs, state.files.map { ReplayFile(it.path, it.text, runs[it.path].orEmpty()) })
    }

    override suspend fun requestVideo(request: ReplayVideoRequest, idempotencyKey: String): Video {
        val new = NewReplayVideo(
            dojoId = request.dojoId,
            resolution = if (request.resolution == VideoResolution.FULL_HD_1080P) SdkVideoResolution.FULL_HD else SdkVideoResolution.HD,
            locale = if (request.language == MediaLanguage.PT_BR) MediaLocale.PT_BR else MediaLocale.EN,
            speed = request.speed,
        )
        return gatewayCall { client().videos.create(new, idempotencyKey) }.toApp()
    }

    /** Among my newest videos (one page), the newest replay of [dojoId]. */
    override suspend fun latestVideo(dojoId: String): Video? =
        gatewayCall { client().videos.list(limit = LATEST_PAGE) }.items
            .firstOrNull { it.kind == VideoKind.DOJO_REPLAY && it.dojoId == dojoId }
            ?.toApp()

    private fun DojoHistory.toApp(): ReplayTimeline {
        val authors = authors.map { ReplayAuthor(it.userId, it.displayName ?: it.userId, parseColor(it.color)) }
        val names = authors.associate { it.userId to it.name }
        val marks = rotations.map { TimelineMark.Rotation(it.tMs, it.driverId, it.driverId?.let(names::get)) } +
            chat.map { TimelineMark.Chat(it.tMs, it.userId?.let(names::get), it.text) }
        return ReplayTimeline(
            dojoId = dojoId,
            durationMs = durationMs,
            ended = endedAt != null,
            files = files,
            authors = authors,
            marks = marks.sortedBy { it.tMs },
            idle = idle.map { IdleStretch(it.fromMs, it.toMs) },
        )
    }

    private companion object {
        const val LATEST_PAGE = 50

        /** `#RRGGBB` → `0xRRGGBB`; a colour the app cannot read is drawn grey rather than failing the screen. */
        fun parseColor(color: String): Int =
            color.removePrefix("#").takeIf { it.length == 6 }?.toIntOrNull(16) ?: GREY

        const val GREY = 0x808080
    }
}
