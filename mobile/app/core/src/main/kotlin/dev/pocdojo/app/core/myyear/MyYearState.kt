package dev.pocdojo.app.core.myyear

import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message

data class MyYearState(
    /** My latest video (null: none yet). */
    val video: Video? = null,
    /** The latest video is loading. */
    val loading: Boolean = false,
    /** It could not be loaded: shown with a retry. */
    val error: UiMessage? = null,
    /** A request for a new video is under way. */
    val requesting: Boolean = false,
    /** The done video's thumbnail (a short-lived signed URL). */
    val thumbnailUrl: String? = null,
    /** A cancel or delete is under way. */
    val deleting: Boolean = false,
    /** The last action failed (request, play, share, delete): shown once, then [MyYearEvent.NoticeShown]. */
    val notice: UiMessage? = null,
    /** A signed URL of the MP4 for the screen's player (consumed with [MyYearEvent.PlayStarted]). */
    val play: String? = null,
    /** A signed URL of the MP4 to share as text (consumed with [MyYearEvent.ShareStarted]); it expires. */
    val share: String? = null,
    val offline: Boolean = false,
    val signedOut: Boolean = false,
) {
    /** A new video can be asked for: none is being made or asked for. */
    val canRequest: Boolean get() = !loading && !requesting && video?.status?.active != true

    /** The video can be played and shared. */
    val done: Boolean get() = video?.status == JobStatus.DONE

    /** Why the video did not finish, in words: the server's sentence, or ours when it gave none or it was cancelled. */
    val problem: UiMessage?
        get() = when (video?.status) {
            JobStatus.FAILED -> video.error?.let { UiMessage.FromServer(it) } ?: MessageKey.VIDEO_FAILED.message()
            JobStatus.CANCELLED -> MessageKey.VIDEO_CANCELLED.message()
            else -> null
        }
}

sealed interface MyYearEvent {
    /** Ask for a video of my last twelve months, in the app's language. */
    data object Request : MyYearEvent

    /** Play the done video: a fresh signed URL goes to [MyYearState.play]. */
    data object Play : MyYearEvent

    /** Share the done video's link: a fresh signed URL goes to [MyYearState.share]. */
    data object Share : MyYearEvent

    /** Cancel the video being made, or delete the done, failed or cancelled one. */
    data object Delete : MyYearEvent

    data object Retry : MyYearEvent

    /** The screen showed [MyYearState.notice]. */
    data object NoticeShown : MyYearEvent

    /** The screen handed [MyYearState.play] to its player. */
    data object PlayStarted : MyYearEvent

    /** The screen handed [MyYearState.share] to the share sheet. */
    data object ShareStarted : MyYearEvent
}
