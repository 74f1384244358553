package dev.pocdojo.app.core.replay

import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.ReplayAuthor
import dev.pocdojo.app.core.gateway.ReplayFile
import dev.pocdojo.app.core.gateway.ReplayFrame
import dev.pocdojo.app.core.gateway.ReplayTimeline
import dev.pocdojo.app.core.gateway.TimelineMark
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message

/** A part of the shown file's text and the colour of whoever wrote it (null: seeded text, no author). */
data class AuthorSpan(val start: Int, val end: Int, val color: Int?)

data class ReplayState(
    /** The history is loading. */
    val loading: Boolean = true,
    /** The history could not be loaded (with a retry), or the tenant keeps none ([historyOff]). */
    val error: UiMessage? = null,
    val historyOff: Boolean = false,
    val timeline: ReplayTimeline? = null,
    /** The scrubber: milliseconds since the dojo started. */
    val positionMs: Long = 0,
    /** The files at [ReplayFrame.tMs]: the last instant loaded (it may lag [positionMs] while a load runs). */
    val frame: ReplayFrame? = null,
    val frameLoading: Boolean = false,
    /** The files at [positionMs] could not be loaded: the last ones stay shown with this. */
    val frameError: UiMessage? = null,
    val selectedFile: String? = null,
    /** The caret in the shown file (a `String` index). */
    val cursor: Int = 0,
    /** Playing: the scrubber advances by itself. */
    val playing: Boolean = false,
    /** My latest replay video of this dojo. */
    val video: Video? = null,
    val videoRequesting: Boolean = false,
    val thumbnailUrl: String? = null,
    /** A signed URL of the replay's MP4 for the screen's player (consumed with [ReplayEvent.PlayStarted]). */
    val play: String? = null,
    /** The last action failed (video request, play): shown once, then [ReplayEvent.NoticeShown]. */
    val notice: UiMessage? = null,
    val offline: Boolean = false,
    val signedOut: Boolean = false,
) {
    /** Every file the dojo had, in the history's order, then any the frame adds. */
    val files: List<String>
        get() {
            val known = timeline?.files.orEmpty()
            return known + frame?.files.orEmpty().map { it.path }.filter { it !in known }
        }

    /** The selected file at the shown instant; null when it does not exist then (not yet, or removed). */
    val file: ReplayFile? get() = frame?.files?.firstOrNull { it.path == selectedFile }

    val text: String get() = file?.text.orEmpty()

    /** The selected file does not exist at the shown instant: said in words. */
    val fileAbsent: UiMessage? get() = if (frame != null && selectedFile != null && file == null) MessageKey.REPLAY_FILE_ABSENT.message() else null

    /** Each author's part of the shown text, in their colour. */
    val spans: List<AuthorSpan>
        get() = file?.runs.orEmpty().map { AuthorSpan(it.start, it.end, it.userId?.let { id -> author(id)?.color }) }

    /** Who wrote the character under the caret. */
    val authorUnderCursor: ReplayAuthor?
        get() = file?.runAt(cursor)?.userId?.let(::author)

    /** The caret is on text that came from a seed (a POC template), written by nobody of the dojo. */
    val cursorOnSeed: Boolean get() = file?.runAt(cursor)?.let { it.userId == null } ?: false

    /** What the author line says: the name, or that the text was seeded; null when the caret is on no text. */
    val cursorAuthorLine: UiMessage?
        get() = authorUnderCursor?.let { UiMessage.FromServer(it.name) } ?: if (cursorOnSeed) MessageKey.REPLAY_NO_AUTHOR.message() else null

    val durationMs: Long get() = timeline?.durationMs ?: 0

    /** Who drives at [positionMs] (the last rotation before it), when there was a randori. */
    val driver: TimelineMark.Rotation?
        get() = timeline?.marks?.filterIsInstance<TimelineMark.Rotation>()?.lastOrNull { it.tMs <= positionMs }

    /** The last chat message at or before [positionMs]. */
    val lastChat: TimelineMark.Chat?
        get() = timeline?.marks?.filterIsInstance<TimelineMark.Chat>()?.lastOrNull { it.tMs <= positionMs }

    /** A replay video can be asked for: the history is there and none is being made or asked for. */
    val canRequestVideo: Boolean get() = timeline != null && !videoRequesting && video?.status?.active != true

    val videoDone: Boolean get() = video?.status == JobStatus.DONE

    /** Why the video did not finish: the server's sentence, or ours. */
    val videoProblem: UiMessage?
        get() = when (video?.status) {
            JobStatus.FAILED -> video.error?.let { UiMessage.FromServer(it) } ?: MessageKey.VIDEO_FAILED.message()
            JobStatus.CANCELLED -> MessageKey.VIDEO_CANCELLED.message()
            else -> null
        }

    fun author(userId: String): ReplayAuthor? = timeline?.authors?.firstOrNull { it.userId == userId }
}

sealed interface ReplayEvent {
    /** The scrubber moved to [tMs]: the files at that instant load after a short pause (the latest wins). */
    data class Scrub(val tMs: Long) : ReplayEvent

    data class SelectFile(val path: String) : ReplayEvent

    /** The caret moved to [offset] in the shown file. */
    data class MoveCursor(val offset: Int) : ReplayEvent

    /** Play (from the start when at the end) or pause. */
    data object TogglePlay : ReplayEvent

    /** Load again what failed (the history, or the files at the scrubber). */
    data object Retry : ReplayEvent

    /** Ask for the replay video in the app's language. */
    data object RequestVideo : ReplayEvent

    /** Play the done video: a fresh signed URL goes to [ReplayState.play]. */
    data object PlayVideo : ReplayEvent

    data object PlayStarted : ReplayEvent

    data object NoticeShown : ReplayEvent
}
