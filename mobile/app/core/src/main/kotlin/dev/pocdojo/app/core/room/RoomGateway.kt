package dev.pocdojo.app.core.room

/** A participant as the room shows it; [canEdit] follows the role and the randori's driver. */
data class RoomParticipant(
    val userId: String,
    val name: String,
    val role: String,
    val host: Boolean,
    val online: Boolean,
    val waiting: Boolean,
    val canEdit: Boolean,
)

/** The dojo's state from `GET /v1/dojos/{id}`. [nextRotationAtMillis]: epoch milliseconds of the next rotation. */
data class RoomInfo(
    val title: String,
    val hostId: String,
    val participants: List<RoomParticipant>,
    val locked: Boolean,
    val lobby: Boolean,
    val ended: Boolean,
    val randoriDriverId: String? = null,
    val nextRotationAtMillis: Long? = null,
)

data class ChatLine(val id: String, val authorId: String, val text: String, val sentAtMillis: Long)

/** What the host may do (`/v1/dojos/{id}/...`). */
sealed interface HostAction {
    data class SetRole(val userId: String, val role: String) : HostAction

    data class Admit(val userId: String) : HostAction

    data class Kick(val userId: String) : HostAction

    data class Lock(val locked: Boolean) : HostAction

    data class Lobby(val on: Boolean) : HostAction

    /** Start a randori rotating every [seconds], or stop it (null). */
    data class Randori(val seconds: Int?) : HostAction
}

/** The REST side of the room. Failures are `GatewayException`s. */
interface RoomGateway {
    suspend fun info(dojoId: String): RoomInfo

    /** The latest messages, oldest first. */
    suspend fun chatHistory(dojoId: String): List<ChatLine>

    /** Messages after [afterId], oldest first. */
    suspend fun chatSince(dojoId: String, afterId: String): List<ChatLine>

    suspend fun sendChat(dojoId: String, text: String): ChatLine

    /** Does [action] as the host and returns the dojo's new state. */
    suspend fun host(dojoId: String, action: HostAction): RoomInfo
}
