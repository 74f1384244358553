package dev.pocdojo.app.core.replay

import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.MediaLanguage
import dev.pocdojo.app.core.gateway.ReplayFrame
import dev.pocdojo.app.core.gateway.ReplayGateway
import dev.pocdojo.app.core.gateway.ReplayTimeline
import dev.pocdojo.app.core.gateway.ReplayVideoRequest
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.gateway.VideoGateway
import dev.pocdojo.app.core.gateway.VideoResolution
import dev.pocdojo.app.core.jobs.RequestKeys
import dev.pocdojo.app.core.jobs.followJob
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import dev.pocdojo.app.core.text.toUiMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import java.util.UUID

/**
 * The pause after the scrubber's last move before the files load ([debounceMillis]); playback's step
 * ([playTickMillis] of real time moves [playSpeed] times as much dojo time; idle stretches are jumped);
 * the replay video's speed and frame size; the long-poll's wait and the pause after a failed poll.
 */
data class ReplaySettings(
    val debounceMillis: Long = 150,
    val playTickMillis: Long = 250,
    val playSpeed: Int = 8,
    val videoSpeed: Int = 8,
    val resolution: VideoResolution = VideoResolution.HD_720P,
    val waitSeconds: Int = 25,
    val retryDelayMillis: Long = 5_000,
)

/**
 * The replay screen of an ended (or running) dojo: its history; a scrubber whose position loads every
 * file's text and authors at that instant (after [ReplaySettings.debounceMillis]; a newer position
 * cancels the load of an older one, so a late answer never replaces a newer one); the file shown and the
 * author of the text under the caret; play/pause; and the replay video (request, follow, play) as the
 * "My year" screen does it ([followJob], [RequestKeys]). All work runs in [scope], which the screen's
 * owner cancels.
 */
class ReplayViewModel(
    private val dojoId: String,
    private val replays: ReplayGateway,
    private val videos: VideoGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    private val language: MediaLanguage,
    private val settings: ReplaySettings = ReplaySettings(),
    newKey: () -> String = { UUID.randomUUID().toString() },
) {
    private val mutableState = MutableStateFlow(ReplayState())
    val state: StateFlow<ReplayState> = mutableState.asStateFlow()

    private val keys = RequestKeys<ReplayVideoRequest>(newKey)
    private var historyLoad: Job? = null
    private var frameLoad: Job? = null
    private var player: Job? = null
    private var follower: Job? = null

    init {
        scope.launch {
            connectivity.online.collect { online ->
                val wasOffline = mutableState.value.offline
                mutableState.update { it.copy(offline = !online) }
                if (online && wasOffline) retry()
            }
        }
        loadHistory()
    }

    fun onEvent(event: ReplayEvent) {
        when (event) {
            is ReplayEvent.Scrub -> {
                pause()
                scrub(event.tMs)
            }
            is ReplayEvent.SelectFile -> mutableState.update { it.copy(selectedFile = event.path, cursor = 0) }
            is ReplayEvent.MoveCursor -> mutableState.update { it.copy(cursor = event.offset.coerceIn(0, it.text.length)) }
            ReplayEvent.TogglePlay -> if (mutableState.value.playing) pause() else play()
            ReplayEvent.Retry -> retry()
            ReplayEvent.RequestVideo -> requestVideo()
            ReplayEvent.PlayVideo -> playVideo()
            ReplayEvent.PlayStarted -> mutableState.update { it.copy(play = null) }
            ReplayEvent.NoticeShown -> mutableState.update { it.copy(notice = null) }
        }
    }

    private fun retry() {
        val current = mutableState.value
        when {
            current.timeline == null && !current.historyOff -> loadHistory()
            current.frameError != null -> loadFrame(current.positionMs, debounce = false)
        }
    }

    private fun loadHistory() {
        historyLoad?.cancel()
        mutableState.update { it.copy(loading = true, error = null) }
        historyLoad = scope.launch {
            val timeline = try {
                replays.history(dojoId)
            } catch (failure: GatewayException) {
                val off = failure is GatewayException.Conflict && failure.reason == ReplayGateway.HISTORY_OFF
                mutableState.update {
                    it.copy(
                        loading = false,
                        historyOff = off,
                        error = if (off) MessageKey.REPLAY_HISTORY_OFF.message() else failure.toUiMessage(),
                        signedOut = it.signedOut || failure is GatewayException.SignedOut,
                    )
                }
                return@launch
            }
            // An ended dojo opens on its end: the code as it was left.
            mutableState.update {
                it.copy(loading = false, timeline = timeline, positionMs = timeline.durationMs, selectedFile = it.selectedFile ?: timeline.files.firstOrNull())
            }
            loadFrame(timeline.durationMs, debounce = false)
            loadVideo()
        }
    }

    private fun scrub(tMs: Long) {
        val timeline = mutableState.value.timeline ?: return
        val position = tMs.coerceIn(0, timeline.durationMs)
        mutableState.update { it.copy(positionMs = position) }
        loadFrame(position, debounce = true)
    }

    /** Loads the files at [tMs]; a newer load cancels this one (latest wins). */
    private fun loadFrame(tMs: Long, debounce: Boolean) {
        frameLoad?.cancel()
        frameLoad = scope.launch {
            if (debounce) delay(settings.debounceMillis)
            mutableState.update { it.copy(frameLoading = true) }
            try {
                show(replays.frame(dojoId, tMs))
            } catch (failure: GatewayException) {
                mutableState.update { it.copy(frameLoading = false, frameError = failure.toUiMessage(), signedOut = it.signedOut || failure is GatewayException.SignedOut) }
            }
        }
    }

    private fun show(frame: ReplayFrame) {
        mutableState.update {
            val selected = it.selectedFile ?: frame.files.firstOrNull()?.path
            val text = frame.files.firstOrNull { file -> file.path == selected }?.text.orEmpty()
            it.copy(frame = frame, frameLoading = false, frameError = null, selectedFile = selected, cursor = it.cursor.coerceIn(0, text.length))
        }
    }

    private fun play() {
        val current = mutableState.value
        val timeline = current.timeline ?: return
        if (timeline.durationMs <= 0) return
        frameLoad?.cancel()
        if (current.positionMs >= timeline.durationMs) mutableState.update { it.copy(positionMs = 0) }
        mutableState.update { it.copy(playing = true) }
        player = scope.launch {
            while (true) {
                delay(settings.playTickMillis)
                val next = advance(timeline, mutableState.value.positionMs)
                mutableState.update { it.copy(positionMs = next, frameLoading = true) }
                try {
                    show(replays.frame(dojoId, next))
                } catch (failure: GatewayException) {
                    mutableState.update { it.copy(playing = false, frameLoading = false, frameError = failure.toUiMessage()) }
                    return@launch
                }
                if (next >= timeline.durationMs) break
            }
            mutableState.update { it.copy(playing = false) }
        }
    }

    /** One tick further, past any idle stretch it lands in, at most to the end. */
    private fun advance(timeline: ReplayTimeline, from: Long): Long {
        var next = from + settings.playTickMillis * settings.playSpeed
        timeline.idle.firstOrNull { next >= it.fromMs && next < it.toMs }?.let { next = it.toMs }
        return next.coerceAtMost(timeline.durationMs)
    }

    private fun pause() {
        player?.cancel()
        player = null
        mutableState.update { it.copy(playing = false) }
    }

    private suspend fun loadVideo() {
        try {
            showVideo(replays.latestVideo(dojoId))
        } catch (failure: GatewayException) {
            notify(failure)
        }
    }

    private fun requestVideo() {
        if (!mutableState.value.canRequestVideo) return
        val request = ReplayVideoRequest(dojoId, language, settings.resolution, settings.videoSpeed)
        val key = keys.keyFor(request)
        mutableState.update { it.copy(videoRequesting = true, notice = null) }
        scope.launch {
            try {
                val video = replays.requestVideo(request, key)
                keys.ended()
                showVideo(video)
            } catch (failure: GatewayException) {
                keys.ended(failure)
                notify(failure)
            } finally {
                mutableState.update { it.copy(videoRequesting = false) }
            }
        }
    }

    /** Shows [video], follows it while it is made (long-polls), fetches its thumbnail once done. */
    private suspend fun showVideo(video: Video?) {
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

    private fun playVideo() {
        val video = mutableState.value.video?.takeIf { it.status == JobStatus.DONE } ?: return
        scope.launch {
            try {
                val url = videos.playUrl(video.id)
                mutableState.update { it.copy(play = url) }
            } catch (failure: GatewayException) {
                notify(failure)
            }
        }
    }

    private fun notify(failure: GatewayException) {
        val message: UiMessage = failure.toUiMessage()
        mutableState.update { it.copy(notice = message, signedOut = it.signedOut || failure is GatewayException.SignedOut) }
    }
}
