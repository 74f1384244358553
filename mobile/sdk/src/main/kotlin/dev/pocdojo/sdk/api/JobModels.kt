package dev.pocdojo.sdk.api

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable

/** The language of a media job's texts, dates and numbers (a report's, a video's). */
@Serializable
public enum class MediaLocale(internal val wire: String) {
    @SerialName("en")
    EN("en"),

    @SerialName("pt-BR")
    PT_BR("pt-BR"),
}

/**
 * A media job's status (a report's, a video's): queued → running → [DONE] | [FAILED] | [CANCELLED]; the
 * last three are final.
 */
@Serializable
public enum class JobStatus {
    @SerialName("queued")
    QUEUED,

    @SerialName("running")
    RUNNING,

    @SerialName("done")
    DONE,

    @SerialName("failed")
    FAILED,

    @SerialName("cancelled")
    CANCELLED,
    ;

    /** Queued or running: it will change (a long-poll waits for that). */
    public val active: Boolean get() = this == QUEUED || this == RUNNING
}

/** Where a running media job is: its progress grows through these stages. */
@Serializable
public enum class JobStage {
    @SerialName("queued")
    QUEUED,

    @SerialName("reading")
    READING,

    @SerialName("rendering")
    RENDERING,

    @SerialName("uploading")
    UPLOADING,

    @SerialName("done")
    DONE,
}

