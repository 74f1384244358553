package dev.pocdojo.sdk.api

import kotlinx.serialization.KSerializer
import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import kotlinx.serialization.SerializationException
import kotlinx.serialization.descriptors.SerialDescriptor
import kotlinx.serialization.encoding.Decoder
import kotlinx.serialization.encoding.Encoder
import kotlinx.serialization.json.JsonDecoder
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonEncoder
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.intOrNull
import java.time.Instant

/** The POCs a video covers: the twelve months up to the request, or a calendar year (São Paulo time). */
@Serializable(VideoPeriodSerializer::class)
public sealed interface VideoPeriod {
    /** The twelve months up to the moment of the request (the server's default). */
    public data object LastTwelveMonths : VideoPeriod

    /** January 1st to January 1st of [year], São Paulo time (2000 up to the current year). */
    public data class Year(val year: Int) : VideoPeriod

    public companion object {
        internal const val LAST_TWELVE_MONTHS: String = "last-12-months"
    }
}

/** `"last-12-months"` or a JSON integer, as `/v1/videos` writes the period. */
internal object VideoPeriodSerializer : KSerializer<VideoPeriod> {
    override val descriptor: SerialDescriptor = JsonElement.serializer().descriptor

    override fun serialize(encoder: Encoder, value: VideoPeriod) {
        val json = encoder as? JsonEncoder ?: throw SerializationException("a video period is JSON only")
        json.encodeJsonElement(value.toJson())
    }

    override fun deserialize(decoder: Decoder): VideoPeriod {
        val json = decoder as? JsonDecoder ?: throw SerializationException("a video period is JSON only")
        val element = json.decodeJsonElement()
        val primitive = element as? JsonPrimitive ?: throw SerializationException("not a video period: $element")
        if (primitive.isString && primitive.content == VideoPeriod.LAST_TWELVE_MONTHS) return VideoPeriod.LastTwelveMonths
        val year = primitive.takeUnless { it.isString }?.intOrNull
            ?: throw SerializationException("not a video period: $element")
        return VideoPeriod.Year(year)
    }
}

internal fun VideoPeriod.toJson(): JsonPrimitive = when (this) {
    VideoPeriod.LastTwelveMonths -> JsonPrimitive(VideoPeriod.LAST_TWELVE_MONTHS)
    is VideoPeriod.Year -> JsonPrimitive(year)
}

/** A video's frame size. */
@Serializable
public enum class VideoResolution(internal val wire: String) {
    /** 1280 × 720. */
    @SerialName("720p")
    HD("720p"),

    /** 1920 × 1080. */
    @SerialName("1080p")
    FULL_HD("1080p"),
}

/** What a video shows. */
@Serializable
public enum class VideoKind(internal val wire: String) {
    /** The caller's POCs of a period. */
    @SerialName("year-in-review")
    YEAR_IN_REVIEW("year-in-review"),

    /** A time-lapse of a dojo's files being written. */
    @SerialName("dojo-replay")
    DOJO_REPLAY("dojo-replay"),
}

/**
 * A video and its job (`/v1/videos`): a year in review of the caller's POCs ([period] and its bounds
 * set), or a dojo's replay ([dojoId] and [speed] set).
 */
@Serializable
public data class Video(
    val id: String,
    @SerialName("user_id") val userId: String,
    val kind: VideoKind = VideoKind.YEAR_IN_REVIEW,
    val status: JobStatus,
    val stage: JobStage,
    /** 0-100; while rendering, ffmpeg's own progress. */
    val progress: Int,
    /** Why it failed (or why it is being retried), in the server's words. */
    val error: String? = null,
    val period: VideoPeriod? = null,
    @SerialName("period_start") @Serializable(InstantSerializer::class) val periodStart: Instant? = null,
    @SerialName("period_end") @Serializable(InstantSerializer::class) val periodEnd: Instant? = null,
    /** A replay's dojo. */
    @SerialName("dojo_id") val dojoId: String? = null,
    /** A replay's speed-up: 8 means a minute of the dojo plays in 7.5 s (idle stretches are shortened more). */
    val speed: Double? = null,
    val resolution: VideoResolution,
    val locale: MediaLocale,
    /** The caller's POCs of the period, known once they were frozen. */
    @SerialName("poc_count") val pocCount: Int? = null,
    /** The MP4's length once done (at most 60 s). */
    @SerialName("duration_seconds") val durationSeconds: Double? = null,
    /** The MP4's size once done. */
    @SerialName("size_bytes") val sizeBytes: Long? = null,
    @SerialName("created_at") @Serializable(InstantSerializer::class) val createdAt: Instant,
    @SerialName("started_at") @Serializable(InstantSerializer::class) val startedAt: Instant? = null,
    @SerialName("finished_at") @Serializable(InstantSerializer::class) val finishedAt: Instant? = null,
    /** Set once done: the API path that redirects to the MP4 ([VideosApi.downloadUrl] follows it). */
    @SerialName("download_url") val downloadUrl: String? = null,
    @SerialName("thumbnail_url") val thumbnailUrl: String? = null,
    @SerialName("captions_url") val captionsUrl: String? = null,
)

/** `POST /v1/videos`: a video of the caller's own POCs created in [period]. */
public data class NewVideo(
    val resolution: VideoResolution,
    val locale: MediaLocale,
    val period: VideoPeriod = VideoPeriod.LastTwelveMonths,
)

/** `POST /v1/videos` with `kind: "dojo-replay"`: a time-lapse of [dojoId] played [speed] times faster (1-64). */
public data class NewReplayVideo(
    val dojoId: String,
    val resolution: VideoResolution,
    val locale: MediaLocale,
    val speed: Int = DEFAULT_SPEED,
) {
    init {
        require(speed in SPEEDS) { "speed must be within $SPEEDS, got $speed" }
    }

    public companion object {
        public const val DEFAULT_SPEED: Int = 8
        public val SPEEDS: IntRange = 1..64
    }
}
