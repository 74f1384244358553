package dev.pocdojo.sdk.api

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import java.time.Instant

/**
 * An instant of a dojo's history, as `state`, `diff` and `blame` take it: a time ([At]) or milliseconds
 * since the dojo started ([SinceStart], sent as `+90500`).
 */
public sealed interface HistoryInstant {
    /** The query parameter's value. */
    public val wire: String

    public data class At(val at: Instant) : HistoryInstant {
        override val wire: String get() = at.toString()
    }

    public data class SinceStart(val millis: Long) : HistoryInstant {
        init {
            require(millis >= 0) { "millis must be >= 0, got $millis" }
        }

        override val wire: String get() = "+$millis"
    }
}

/** Whether the tenant keeps dojo history. */
@Serializable
public enum class HistoryMode {
    @SerialName("on")
    ON,

    @SerialName("off")
    OFF,
}

/** `GET /v1/dojos/{id}/history`: the timeline of a dojo (ended, or so far while it runs). */
@Serializable
public data class DojoHistory(
    @SerialName("dojo_id") val dojoId: String,
    @SerialName("started_at") @Serializable(InstantSerializer::class) val startedAt: Instant,
    @SerialName("ended_at") @Serializable(InstantSerializer::class) val endedAt: Instant? = null,
    @SerialName("duration_ms") val durationMs: Long,
    val history: HistoryMode,
    val files: List<String> = emptyList(),
    val authors: List<HistoryAuthor> = emptyList(),
    val checkpoints: List<HistoryCheckpoint> = emptyList(),
    val edits: List<HistoryEdit> = emptyList(),
    val rotations: List<HistoryRotation> = emptyList(),
    val chat: List<HistoryChat> = emptyList(),
    val idle: List<IdleStretch> = emptyList(),
)

/**
 * Someone who wrote in the dojo; [color] (`#RRGGBB`) is theirs for the whole dojo. [displayName] is null
 * when the server could not reach the member directory.
 */
@Serializable
public data class HistoryAuthor(
    @SerialName("user_id") val userId: String,
    @SerialName("display_name") val displayName: String? = null,
    val color: String,
)

@Serializable
public data class HistoryCheckpoint(
    val seq: Long,
    @Serializable(InstantSerializer::class) val at: Instant,
    @SerialName("t_ms") val tMs: Long,
)

/** A burst: one author's consecutive edits in one [file] (gaps under 2 s), coalesced. */
@Serializable
public data class HistoryEdit(
    @Serializable(InstantSerializer::class) val from: Instant,
    @Serializable(InstantSerializer::class) val to: Instant,
    @SerialName("from_ms") val fromMs: Long,
    @SerialName("to_ms") val toMs: Long,
    @SerialName("user_id") val userId: String? = null,
    val file: String,
    /** UTF-16 code units inserted and deleted. */
    val inserted: Int,
    val deleted: Int,
)

/** A randori rotation: who drives (and navigates) from [at]. */
@Serializable
public data class HistoryRotation(
    @Serializable(InstantSerializer::class) val at: Instant,
    @SerialName("t_ms") val tMs: Long,
    @SerialName("driver_id") val driverId: String? = null,
    @SerialName("navigator_id") val navigatorId: String? = null,
)

@Serializable
public data class HistoryChat(
    val id: String,
    @Serializable(InstantSerializer::class) val at: Instant,
    @SerialName("t_ms") val tMs: Long,
    @SerialName("user_id") val userId: String? = null,
    val text: String,
)

/** A stretch without edits of 10 s or more. */
@Serializable
public data class IdleStretch(
    @SerialName("from_ms") val fromMs: Long,
    @SerialName("to_ms") val toMs: Long,
)

/** `GET /v1/dojos/{id}/state`: every file's text at [at]. */
@Serializable
public data class DojoState(
    @Serializable(InstantSerializer::class) val at: Instant,
    @SerialName("t_ms") val tMs: Long,
    val seq: Long,
    val files: List<FileText> = emptyList(),
)

@Serializable
public data class FileText(val path: String, val text: String)

@Serializable
public enum class DiffStatus {
    @SerialName("added")
    ADDED,

    @SerialName("removed")
    REMOVED,

    @SerialName("modified")
    MODIFIED,
}

/** `GET /v1/dojos/{id}/diff`: the files that changed between [from] and [to]. */
@Serializable
public data class DojoDiff(
    @Serializable(InstantSerializer::class) val from: Instant,
    @Serializable(InstantSerializer::class) val to: Instant,
    val files: List<FileDiff> = emptyList(),
)

@Serializable
public data class FileDiff(
    val path: String,
    val status: DiffStatus,
    /** A unified diff with 3 lines of context. */
    val unified: String,
    @SerialName("inserted_lines") val insertedLines: Int,
    @SerialName("deleted_lines") val deletedLines: Int,
)

/** `GET /v1/dojos/{id}/blame`: who wrote each part of every file at [at]. */
@Serializable
public data class DojoBlame(
    @Serializable(InstantSerializer::class) val at: Instant,
    @SerialName("t_ms") val tMs: Long,
    val files: List<FileBlame> = emptyList(),
)

/**
 * One file's authors: [ranges] cover its text (of [length] UTF-16 code units: Kotlin `String` indexes)
 * exactly, contiguous and sorted.
 */
@Serializable
public data class FileBlame(
    val path: String,
    val length: Int,
    val ranges: List<BlameRange> = emptyList(),
) {
    /**
     * The range holding the character at [offset] (a caret at the end of the text: the last range), or
     * null for an empty text or an offset outside it.
     */
    public fun rangeAt(offset: Int): BlameRange? {
        if (offset !in 0..length || ranges.isEmpty()) return null
        val probe = if (offset == length) offset - 1 else offset
        var low = 0
        var high = ranges.lastIndex
        while (low <= high) {
            val mid = (low + high) ushr 1
            val range = ranges[mid]
            when {
                probe < range.start -> high = mid - 1
                probe >= range.end -> low = mid + 1
                else -> return range
            }
        }
        return null
    }
}

/** `[start, end)` in UTF-16 code units, typed by [userId] (null: seeded text without an author). */
@Serializable
public data class BlameRange(
    val start: Int,
    val end: Int,
    @SerialName("user_id") val userId: String? = null,
)
