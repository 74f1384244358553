package dev.pocdojo.app.core.myyear

import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.MediaLanguage
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.gateway.VideoGateway
import dev.pocdojo.app.core.gateway.VideoRequest
import dev.pocdojo.app.core.gateway.VideoResolution
import dev.pocdojo.app.core.jobs.RequestKeys
import dev.pocdojo.app.core.jobs.followJob
import dev.pocdojo.app.core.text.toUiMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import java.util.UUID

/**
 * How one long-poll asks the server to wait (at most 25 s); the pause before following the video again
 * after a failed poll; the frame size asked for (720p: a phone's screen, a quicker render).
 */
data class MyYearSettings(
    val waitSeconds: Int = 25,
    val retryDelayMillis: Long = 5_000,
    val resolution: VideoResolution = VideoResolution.HD_720P,
)

/**
 * The "My year" screen: my latest year-in-review video; ask for a new one (my last twelve months, in the
 * app's [language]), follow it while it is made with long-polls in [scope] (they stop when the screen's
 * owner cancels it), then show its thumbnail and hand the screen a signed URL to play or to share; cancel
 * or delete it. A request keeps its idempotency key until the server answers it ([RequestKeys]).
 */
class MyYearViewModel(
    private val videos: VideoGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    private val language: MediaLanguage,
    private val settings: MyYearSettings = MyYearSettings(),
    newKey: () -> String = { UUID.randomUUID().toString() },
) {
    private val mutableState = MutableStateFlow(MyYearState(loading = true))
    val state: StateFlow<MyYearState> = mutableState.asStateFlow()

    private val keys = RequestKeys<VideoRequest>(newKey)
    private var load: Job? = null
    private var follower: Job? = null

    init {
        scope.launch {
            connectivity.online.collect { online ->
                val wasOffline = mutableState.value.offline
                mutableState.update { it.copy(offline = !online) }
                if (online && wasOffline && mutableState.value.error != null) loadLatest()
            }
        }
        loadLatest()
    }

    fun onEvent(event: MyYearEvent) {
        when (event) {
            MyYearEvent.Request -> request()
            MyYearEvent.Play -> signedLink { url -> copy(play = url) }
            MyYearEvent.Share -> signedLink { url -> copy(share = url) }
            MyYearEvent.Delete -> delete()
            MyYearEvent.Retry -> loadLatest()
            MyYearEvent.NoticeShown -> mutableState.update { it.copy(notice = null) }
            MyYearEvent.PlayStarted -> mutableState.update { it.copy(play = null) }
            MyYearEvent.ShareStarted -> mutableState.update { it.copy(share = null) }
        }
    }

    private fun loadLatest() {
        load?.cancel()
        mutableState.update { it.copy(loading = true, error = null) }
        load = scope.launch {
            try {
                val latest = videos.latest()
                mutableState.update { it.copy(loading = false) }
                show(latest)
            } catch (failure: GatewayException) {
                mutableState.update {
                    it.copy(loading = false, error = failure.toUiMessage(), signedOut = it.signedOut || failure is GatewayException.SignedOut)
                }
            }
        }
    }

    private fun request() {
        if (!mutableState.value.canRequest) return
        val request = VideoRequest(language, settings.resolution)
        val key = keys.keyFor(request)
        mutableState.update { it.copy(requesting = true, notice = null) }
        scope.launch {
            try {
                val video = videos.request(request, key)
                keys.ended()
                show(video)
            } catch (failure: GatewayException) {
                keys.ended(failure)
                notify(failure)
            } finally {
                mutableState.update { it.copy(requesting = false) }
            }
        }
    }

    /** Shows [video] (null: none), follows it while it is made, fetches its thumbnail once done. */
    private suspend fun show(video: Video?) {
        follower?.cancel()
        mutableState.update { it.copy(video = video, thumbnailUrl = null) }
        if (video == null) return
        if (video.status.active) {
            follower = scope.launch { follow(video) }
        } else if (video.status == JobStatus.DONE) {
            thumbnail(video)
        }
    }

    private suspend fun follow(video: Video) {
        try {
            val finished = followJob(video, { it.status.active }, settings.retryDelayMillis, { videos.get(it.id, settings.waitSeconds) }) { next ->
                mutableState.update { it.copy(video = next) }
            }
            if (finished.status == JobStatus.DONE) thumbnail(finished)
        } catch (failure: GatewayException.NotFound) {
            mutableState.update { it.copy(video = null, thumbnailUrl = null) }
        } catch (failure: GatewayException.SignedOut) {
            mutableState.update { it.copy(signedOut = true) }
        }
    }

    private suspend fun thumbnail(video: Video) {
        try {
            val url = videos.thumbnailUrl(video.id)
            mutableState.update { if (it.video?.id == video.id) it.copy(thumbnailUrl = url) else it }
        } catch (failure: GatewayException) {
            // the video plays without its picture; say why once
            notify(failure)
        }
    }

    /** A fresh signed URL of the done video's MP4 (each link expires), put in the state by [into]. */
    private fun signedLink(into: MyYearState.(String) -> MyYearState) {
        val video = mutableState.value.video?.takeIf { it.status == JobStatus.DONE } ?: return
        scope.launch {
            try {
                val url = videos.playUrl(video.id)
                mutableState.update { it.into(url) }
            } catch (failure: GatewayException) {
                if (failure is GatewayException.NotFound) loadLatest()
                notify(failure)
            }
        }
    }

    private fun delete() {
        val current = mutableState.value
        val video = current.video ?: return
        if (current.deleting) return
        mutableState.update { it.copy(deleting = true) }
        scope.launch {
            try {
                videos.delete(video.id)
                if (video.status.active) {
                    // cancelled: it stays on the screen as such (unless it had just finished and was deleted)
                    follower?.cancel()
                    show(videos.get(video.id, waitSeconds = 0))
                } else {
                    loadLatest()
                }
            } catch (failure: GatewayException) {
                if (failure is GatewayException.NotFound) loadLatest() else notify(failure)
            } finally {
                mutableState.update { it.copy(deleting = false) }
            }
        }
    }

    private fun notify(failure: GatewayException) {
        mutableState.update {
            it.copy(notice = failure.toUiMessage(), signedOut = it.signedOut || failure is GatewayException.SignedOut)
        }
    }
}
