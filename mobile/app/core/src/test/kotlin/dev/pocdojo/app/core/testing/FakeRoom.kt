package dev.pocdojo.app.core.testing

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.room.ChatLine
import dev.pocdojo.app.core.room.HostAction
import dev.pocdojo.app.core.room.RoomGateway
import dev.pocdojo.app.core.room.RoomInfo
import dev.pocdojo.app.core.room.RoomLink
import dev.pocdojo.app.core.room.RoomParticipant
import dev.pocdojo.app.core.room.RoomEntry
import dev.pocdojo.app.core.room.Rooms
import kotlinx.coroutines.CoroutineScope
import kotlin.coroutines.CoroutineContext
import dev.pocdojo.sdk.realtime.ConnectionState
import dev.pocdojo.sdk.realtime.ReadOnly
import dev.pocdojo.sdk.yjs.Doc
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.serialization.json.JsonElement

/** A [RoomLink] over a local [Doc]: what the provider would send is kept in [sent]; [receive] is the server's update. */
class FakeRoomLink(
    val doc: Doc = Doc(),
) : RoomLink {
    override val clientId: Long get() = doc.clientId
    override val connection = MutableStateFlow<ConnectionState>(ConnectionState.Idle)
    override val readOnly = MutableStateFlow<ReadOnly?>(null)
    override val peers = MutableStateFlow<Map<Long, JsonElement>>(emptyMap())
    val sent = mutableListOf<ByteArray>()
    var published: JsonElement? = null
    var connects = 0
    var closed = false
    private val outgoing = doc.onUpdate { update, origin, _ -> if (origin !== REMOTE) sent += update }

    override fun connect() {
        connects++
        connection.value = ConnectionState.Synced
    }

    override fun setPresence(state: JsonElement) {
        published = state
    }

    override fun <T> edit(block: (Doc) -> T): T = doc.transact { block(doc) }

    override fun onChange(listener: () -> Unit): AutoCloseable = doc.onUpdate { _, _, _ -> listener() }

    fun receive(update: ByteArray) = doc.applyUpdate(update, REMOTE)

    override fun close() {
        closed = true
        outgoing.close()
    }

    private companion object {
        val REMOTE = Any()
    }
}

fun participant(userId: String, role: String = "navigator", host: Boolean = false, online: Boolean = true) =
    RoomParticipant(userId, "Name of $userId", role, host, online, waiting = false, canEdit = role != "observer")

/** The dojo's REST side in memory. */
class FakeRoomGateway(
    var info: RoomInfo,
    val messages: MutableList<ChatLine> = mutableListOf(),
) : RoomGateway {
    var failure: GatewayException? = null
    var infoCalls = 0
    val hostActions = mutableListOf<HostAction>()

    override suspend fun info(dojoId: String): RoomInfo {
        infoCalls++
        failure?.let { throw it }
        return info
    }

    override suspend fun chatHistory(dojoId: String): List<ChatLine> = messages.toList()

    override suspend fun chatSince(dojoId: String, afterId: String): List<ChatLine> =
        messages.dropWhile { it.id != afterId }.drop(1)

    override suspend fun sendChat(dojoId: String, text: String): ChatLine {
        failure?.let { throw it }
        return ChatLine("m${messages.size + 1}", "me", text, messages.size + 1L).also { messages += it }
    }

    /** Role changes and the lock apply to [info]; the others are only recorded. */
    override suspend fun host(dojoId: String, action: HostAction): RoomInfo {
        failure?.let { throw it }
        hostActions += action
        info =
            when (action) {
                is HostAction.SetRole ->
                    info.copy(participants = info.participants.map { if (it.userId == action.userId) it.copy(role = action.role, canEdit = action.role != "observer") else it })
                is HostAction.Kick -> info.copy(participants = info.participants.filter { it.userId != action.userId })
                is HostAction.Lock -> info.copy(locked = action.locked)
                else -> info
            }
        return info
    }
}

/**
 * [Rooms] in memory: every dojo is [info] with a document made by [content] and others' [presence];
 * [links] are the rooms entered, for a test to drive their connection.
 */
class FakeRooms(
    private val me: String,
    private val info: RoomInfo,
    private val messages: List<ChatLine> = emptyList(),
    private val presence: Map<Long, JsonElement> = emptyMap(),
    private val content: (Doc) -> Unit = {},
) : Rooms {
    val links = mutableListOf<FakeRoomLink>()

    override suspend fun enter(dojoId: String, scope: CoroutineScope, docContext: CoroutineContext): RoomEntry {
        val link = FakeRoomLink().also { links += it }
        link.doc.transact { content(link.doc) }
        link.peers.value = presence
        return RoomEntry(me, info.participants.firstOrNull { it.userId == me }?.name ?: me, link, FakeRoomGateway(info, messages.toMutableList()))
    }
}
