package dev.pocdojo.app.core.gateway

/** A person in a dojo; [name] is the display name, or the user id when the person has none. */
data class DojoParticipant(val userId: String, val name: String, val role: String, val host: Boolean, val waiting: Boolean)

/**
 * An active (or ended) dojo of the tenant; [participants] is filled by [DojoGateway.get] and [DojoGateway.join];
 * [lobby]: the host admits each newcomer.
 */
data class Dojo(
    val id: String,
    val title: String,
    val pocId: String?,
    val hostId: String,
    val active: Boolean,
    val startedAt: String,
    val participants: List<DojoParticipant> = emptyList(),
    val lobby: Boolean = false,
)

data class DojoPage(val items: List<Dojo>, val nextCursor: String?)

/** `POST /v1/dojos`: a title and, optionally, the POC it works on. */
data class DojoDraft(val title: String, val pocId: String? = null)

/**
 * The caller is in the dojo: its state with the participants, and what the room's sockets need (the
 * ticket itself is asked again by the room on each connection; it lives seconds).
 */
data class JoinedDojo(val dojo: Dojo, val room: String, val role: String, val canEdit: Boolean)

/** Dojo calls the screens need. Failures are [GatewayException]s. */
interface DojoGateway {
    /** One page of the tenant's dojos, running and ended, newest first. */
    suspend fun recent(cursor: String?, limit: Int): DojoPage

    /** Starts a dojo hosted by the caller. */
    suspend fun create(draft: DojoDraft): Dojo

    /**
     * Joins the dojo (a ticket for its sockets, `POST /v1/dojos/{id}/tickets`) and reads it with its
     * participants. Waiting in the host's lobby is [GatewayException.Forbidden] with reason `dojo-lobby`.
     */
    suspend fun join(id: String): JoinedDojo
}
