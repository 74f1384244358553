package dev.pocdojo.app.core.gateway

/** The language of a media job's texts, dates and numbers (a report's, a video's): the app's. */
enum class MediaLanguage { EN, PT_BR }

/** A media job's status (a report's, a video's): queued → running → done | failed | cancelled. */
enum class JobStatus {
    QUEUED,
    RUNNING,
    DONE,
    FAILED,
    CANCELLED,
    ;

    /** It will still change: the screen follows it. */
    val active: Boolean get() = this == QUEUED || this == RUNNING
}

/** Where a running media job is. */
enum class JobStage { QUEUED, READING, RENDERING, UPLOADING, DONE }
