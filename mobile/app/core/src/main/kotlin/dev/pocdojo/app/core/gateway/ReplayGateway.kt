package dev.pocdojo.app.core.gateway

/** Someone who wrote in the dojo ([name]: the user id when the server knew no name); [color] is theirs for the whole dojo (`0xRRGGBB`). */
data class ReplayAuthor(val userId: String, val name: String, val color: Int)

/** Something that happened at [tMs] (milliseconds since the dojo started), marked on the scrubber. */
sealed interface TimelineMark {
    val tMs: Long

    /** A randori rotation: [driverName] drives from here (null: a name the history does not know). */
    data class Rotation(override val tMs: Long, val driverId: String?, val driverName: String?) : TimelineMark

    /** A chat message, in its author's words. */
    data class Chat(override val tMs: Long, val authorName: String?, val text: String) : TimelineMark
}

/** A stretch of [fromMs, toMs) without edits (10 s or more): playback jumps over it. */
data class IdleStretch(val fromMs: Long, val toMs: Long)

/** A dojo's history as the replay screen needs it (`GET /v1/dojos/{id}/history`). */
data class ReplayTimeline(
    val dojoId: String,
    val durationMs: Long,
    /** False while the dojo still runs (the history so far). */
    val ended: Boolean,
    val files: List<String>,
    val authors: List<ReplayAuthor>,
    /** Rotations and chat, in time order. */
    val marks: List<TimelineMark>,
    val idle: List<IdleStretch> = emptyList(),
)

/** `[start, end)` of a file's text (UTF-16 units: `String` indexes) typed by [userId] (null: seeded text). */
data class AuthorRun(val start: Int, val end: Int, val userId: String?)

/** A file at an instant: its text and who wrote each part of it ([runs] cover [text] exactly, in order). */
data class ReplayFile(val path: String, val text: String, val runs: List<AuthorRun>) {
    /** The run holding the character at [offset]; a caret at the end of the text: the last character's. */
    fun runAt(offset: Int): AuthorRun? {
        if (offset !in 0..text.length || text.isEmpty()) return null
        val probe = if (offset == text.length) offset - 1 else offset
        return runs.firstOrNull { probe >= it.start && probe < it.end }
    }
}

/** Every file of the dojo at [tMs]. */
data class ReplayFrame(val tMs: Long, val files: List<ReplayFile>)

/** `POST /v1/videos {kind: "dojo-replay"}`: a time-lapse of [dojoId] played [speed] times faster. */
data class ReplayVideoRequest(val dojoId: String, val language: MediaLanguage, val resolution: VideoResolution, val speed: Int)

/**
 * The replay screen's calls. Failures are [GatewayException]s: a tenant with history off is
 * [GatewayException.Conflict] with reason [HISTORY_OFF]; a dojo I may not read, [GatewayException.NotFound].
 * The replay video is followed, played and deleted through the [VideoGateway].
 */
interface ReplayGateway {
    suspend fun history(dojoId: String): ReplayTimeline

    /** The files' texts and their authors at [tMs] (state and blame of one instant). */
    suspend fun frame(dojoId: String, tMs: Long): ReplayFrame

    suspend fun requestVideo(request: ReplayVideoRequest, idempotencyKey: String): Video

    /** My newest replay video of [dojoId], or null. */
    suspend fun latestVideo(dojoId: String): Video?

    companion object {
        /** The problem slug of a 409 when the tenant keeps no dojo history. */
        const val HISTORY_OFF: String = "history-off"
    }
}
