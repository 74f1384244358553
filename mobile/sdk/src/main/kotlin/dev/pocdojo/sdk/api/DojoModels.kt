package dev.pocdojo.sdk.api

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import java.time.Instant

@Serializable
public enum class DojoStatus {
    @SerialName("active")
    ACTIVE,

    @SerialName("ended")
    ENDED,
}

/** A participant's editing role: drivers and navigators may edit, observers only watch. */
@Serializable
public enum class DojoRole {
    @SerialName("driver")
    DRIVER,

    @SerialName("navigator")
    NAVIGATOR,

    @SerialName("observer")
    OBSERVER,
}

/** Admitted, or waiting in the lobby for the host. */
@Serializable
public enum class ParticipantStatus {
    @SerialName("admitted")
    ADMITTED,

    @SerialName("waiting")
    WAITING,
}

/** A dojo: a live coding session of the tenant. [participants] and [snapshot] come with `get`. */
@Serializable
public data class Dojo(
    val id: String,
    val title: String,
    @SerialName("poc_id") val pocId: String? = null,
    val language: String? = null,
    @SerialName("host_id") val hostId: String,
    val status: DojoStatus,
    val settings: DojoSettings,
    val randori: Randori,
    val version: Long,
    @SerialName("started_at") @Serializable(InstantSerializer::class) val startedAt: Instant,
    @SerialName("ended_at") @Serializable(InstantSerializer::class) val endedAt: Instant? = null,
    val participants: List<Participant> = emptyList(),
    /** Once ended: every file's final text, path to content. */
    val snapshot: DojoSnapshot? = null,
)

@Serializable
public data class DojoSettings(val locked: Boolean, val lobby: Boolean)

/** The rotation of the driver role; [enabled] false means no randori. */
@Serializable
public data class Randori(
    val enabled: Boolean,
    @SerialName("interval_seconds") val intervalSeconds: Int? = null,
    @SerialName("driver_id") val driverId: String? = null,
    @SerialName("next_rotation_at") @Serializable(InstantSerializer::class) val nextRotationAt: Instant? = null,
    val round: Int? = null,
)

@Serializable
public data class Participant(
    @SerialName("user_id") val userId: String,
    val role: DojoRole,
    val host: Boolean,
    val status: ParticipantStatus,
    @SerialName("joined_at") @Serializable(InstantSerializer::class) val joinedAt: Instant,
    val online: Boolean? = null,
    @SerialName("display_name") val displayName: String? = null,
)

@Serializable
public data class DojoSnapshot(val files: Map<String, String> = emptyMap())

/** `POST /v1/dojos`. [randoriSeconds] starts a randori at once (null: none). */
public data class NewDojo(
    val title: String,
    val pocId: String? = null,
    val language: String? = null,
    val locked: Boolean = false,
    val lobby: Boolean = false,
    val randoriSeconds: Int? = null,
)

/** `PATCH /v1/dojos/{id}/settings` (host): null fields stay as they are. */
public data class DojoSettingsChange(
    val locked: Boolean? = null,
    val lobby: Boolean? = null,
    val randori: RandoriChange? = null,
)

public sealed interface RandoriChange {
    public data object Off : RandoriChange

    public data class Every(val seconds: Int) : RandoriChange
}

/**
 * A short-lived ticket that opens the dojo's websockets: the collab one at `"$collabUrl/$room?ticket=…"`
 * (a y-websocket server URL) and the signaling one at `"$signalUrl/$room?ticket=…"`.
 */
@Serializable
public data class DojoTicket(
    val ticket: String,
    @SerialName("expires_in") val expiresIn: Int,
    val room: String,
    @SerialName("collab_url") val collabUrl: String,
    @SerialName("signal_url") val signalUrl: String,
    val role: DojoRole,
    @SerialName("can_edit") val canEdit: Boolean,
) {
    override fun toString(): String = "DojoTicket(room=$room, role=$role, canEdit=$canEdit, expiresIn=$expiresIn)"
}

/** A chat message of a dojo; ids grow with time. */
@Serializable
public data class ChatMessage(
    val id: String,
    @SerialName("dojo_id") val dojoId: String,
    @SerialName("user_id") val userId: String,
    val text: String,
    @SerialName("sent_at") @Serializable(InstantSerializer::class) val sentAt: Instant,
    @SerialName("display_name") val displayName: String? = null,
)
