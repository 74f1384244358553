package dev.pocdojo.sdk.signaling

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.longOrNull
import kotlinx.serialization.json.put

/** A participant of the call (docs/signaling.md): microphone ([audio]) and camera ([video]) on or off. */
data class Peer(
    val peerId: String,
    val userId: String,
    val audio: Boolean,
    val video: Boolean,
)

/** One entry of `RTCConfiguration.iceServers`; TURN entries carry short-lived REST credentials. */
data class IceServer(
    val urls: List<String>,
    val username: String? = null,
    val credential: String? = null,
)

/** ICE servers and when their TURN credential expires (unix seconds; null: no TURN configured). */
data class IceConfig(
    val servers: List<IceServer>,
    val expiresAt: Long?,
)

/** An `RTCIceCandidateInit`. */
data class IceCandidate(
    val candidate: String,
    val sdpMid: String? = null,
    val sdpMLineIndex: Int? = null,
    val usernameFragment: String? = null,
)

/** The server's limits for this connection. */
data class SignalingLimits(
    val maxPeers: Int,
    val maxMessageBytes: Int,
    val messagesPerSecond: Double,
    val messageBurst: Int,
)

/** Server → client messages (docs/signaling.md, "Server → client messages"). */
sealed interface ServerMessage {
    data class Welcome(
        val peerId: String,
        val userId: String,
        val peers: List<Peer>,
        val ice: IceConfig,
        val limits: SignalingLimits,
    ) : ServerMessage

    data class PeerJoined(
        val peer: Peer,
    ) : ServerMessage

    /** [reason]: `left`, `disconnected`, `node-lost` or `gone`. */
    data class PeerLeft(
        val peerId: String,
        val userId: String,
        val reason: String,
    ) : ServerMessage

    data class PeerState(
        val peer: Peer,
    ) : ServerMessage

    data class Offer(
        val from: String,
        val sdp: String,
    ) : ServerMessage

    data class Answer(
        val from: String,
        val sdp: String,
    ) : ServerMessage

    /** [candidate] null: the peer has no more candidates. */
    data class Candidate(
        val from: String,
        val candidate: IceCandidate?,
    ) : ServerMessage

    data class IceServers(
        val ice: IceConfig,
    ) : ServerMessage

    data class Pong(
        val ref: JsonPrimitive?,
    ) : ServerMessage

    /** The server refused one of this client's messages ([ref] = its `id`); the connection stays open. */
    data class Error(
        val code: String,
        val detail: String,
        val path: String?,
        val ref: JsonPrimitive?,
    ) : ServerMessage

    /** The dojo's live state (`reason`: joined, role, kick, settings, randori, ended...); body as sent. */
    data class Dojo(
        val reason: String?,
        val dojo: JsonObject,
    ) : ServerMessage

    /** A chat message of the dojo (`{id, dojo_id, user_id, text, sent_at}`). */
    data class Chat(
        val message: JsonObject,
    ) : ServerMessage

    /** A message type this client does not know yet (the server may add types); kept as sent. */
    data class Unknown(
        val type: String,
        val json: JsonObject,
    ) : ServerMessage
}

/** Client → server messages; each may carry an [id] echoed as `ref` by the answer or error it causes. */
sealed interface ClientMessage {
    val id: String?

    data class Offer(
        val to: String,
        val sdp: String,
        override val id: String? = null,
    ) : ClientMessage

    data class Answer(
        val to: String,
        val sdp: String,
        override val id: String? = null,
    ) : ClientMessage

    /** [candidate] null: end of candidates. */
    data class Candidate(
        val to: String,
        val candidate: IceCandidate?,
        override val id: String? = null,
    ) : ClientMessage

    /** Microphone and/or camera on or off (at least one of them). */
    data class State(
        val audio: Boolean? = null,
        val video: Boolean? = null,
        override val id: String? = null,
    ) : ClientMessage {
        init {
            require(audio != null || video != null) { "a state message sets audio, video or both" }
        }
    }

    /** Asks for fresh TURN credentials (calls longer than their TTL). */
    data class RefreshIce(
        override val id: String? = null,
    ) : ClientMessage

    data class Ping(
        override val id: String? = null,
    ) : ClientMessage

    /** Leaves the call; the server closes with 1000. */
    data class Leave(
        override val id: String? = null,
    ) : ClientMessage
}

/** A server frame this client cannot read (not JSON, or a known type without its fields). */
class SignalingProtocolException(
    message: String,
    cause: Throwable? = null,
) : RuntimeException(message, cause)

internal object SignalingCodec {
    fun encode(message: ClientMessage): String =
        buildJsonObject {
            when (message) {
                is ClientMessage.Offer -> {
                    put("type", "offer")
                    put("to", message.to)
                    put("sdp", message.sdp)
                }
                is ClientMessage.Answer -> {
                    put("type", "answer")
                    put("to", message.to)
                    put("sdp", message.sdp)
                }
                is ClientMessage.Candidate -> {
                    put("type", "candidate")
                    put("to", message.to)
                    put("candidate", message.candidate?.let(::candidateJson) ?: JsonNull)
                }
                is ClientMessage.State -> {
                    put("type", "state")
                    message.audio?.let { put("audio", it) }
                    message.video?.let { put("video", it) }
                }
                is ClientMessage.RefreshIce -> put("type", "refresh-ice")
                is ClientMessage.Ping -> put("type", "ping")
                is ClientMessage.Leave -> put("type", "leave")
            }
            message.id?.let { put("id", it) }
        }.toString()

    private fun candidateJson(c: IceCandidate): JsonObject =
        buildJsonObject {
            put("candidate", c.candidate)
            c.sdpMid?.let { put("sdpMid", it) }
            c.sdpMLineIndex?.let { put("sdpMLineIndex", it) }
            c.usernameFragment?.let { put("usernameFragment", it) }
        }

    fun decode(text: String): ServerMessage {
        val json =
            try {
                Json.parseToJsonElement(text)
            } catch (e: kotlinx.serialization.SerializationException) {
                throw SignalingProtocolException("the server sent a frame that is not JSON: ${e.message}", e)
            }
        val obj = json as? JsonObject ?: throw SignalingProtocolException("the server sent a JSON value that is not an object")
        val r = Reader(obj)
        return when (val type = r.string("type")) {
            "welcome" ->
                ServerMessage.Welcome(
                    r.string("peer_id"),
                    r.string("user_id"),
                    r.array("peers").map { peer(Reader(it.asObject("peers[]"))) },
                    IceConfig(iceServers(r.array("ice_servers")), r.longOrNull("ice_expires_at")),
                    Reader(r.obj("limits")).let {
                        SignalingLimits(it.int("max_peers"), it.int("max_message_bytes"), it.double("messages_per_second"), it.int("message_burst"))
                    },
                )
            "peer-joined" -> ServerMessage.PeerJoined(peer(Reader(r.obj("peer"))))
            "peer-left" -> ServerMessage.PeerLeft(r.string("peer_id"), r.string("user_id"), r.string("reason"))
            "peer-state" -> ServerMessage.PeerState(peer(r))
            "offer" -> ServerMessage.Offer(r.string("from"), r.string("sdp"))
            "answer" -> ServerMessage.Answer(r.string("from"), r.string("sdp"))
            "candidate" ->
                ServerMessage.Candidate(
                    r.string("from"),
                    (obj["candidate"] as? JsonObject)?.let { Reader(it) }?.let {
                        IceCandidate(it.string("candidate"), it.stringOrNull("sdpMid"), it.intOrNull("sdpMLineIndex"), it.stringOrNull("usernameFragment"))
                    },
                )
            "ice-servers" -> ServerMessage.IceServers(IceConfig(iceServers(r.array("ice_servers")), r.longOrNull("ice_expires_at")))
            "pong" -> ServerMessage.Pong(obj["ref"] as? JsonPrimitive)
            "error" -> ServerMessage.Error(r.string("code"), r.string("detail"), r.stringOrNull("path"), obj["ref"] as? JsonPrimitive)
            "dojo" -> ServerMessage.Dojo(r.stringOrNull("reason"), r.obj("dojo"))
            "chat" -> ServerMessage.Chat(r.obj("message"))
            else -> ServerMessage.Unknown(type, obj)
        }
    }

    private fun peer(r: Reader) = Peer(r.string("peer_id"), r.string("user_id"), r.boolean("audio"), r.boolean("video"))

    private fun iceServers(array: JsonArray): List<IceServer> =
        array.map { element ->
            val r = Reader(element.asObject("ice_servers[]"))
            IceServer(r.array("urls").map { (it as? JsonPrimitive)?.takeIf { p -> p.isString }?.content ?: throw bad("urls[]", "a string") }, r.stringOrNull("username"), r.stringOrNull("credential"))
        }

    private fun JsonElement.asObject(what: String): JsonObject = this as? JsonObject ?: throw bad(what, "an object")

    private fun bad(
        field: String,
        expected: String,
    ) = SignalingProtocolException("the server's message has no valid '$field' ($expected expected)")

    private class Reader(
        val obj: JsonObject,
    ) {
        private fun primitive(key: String): JsonPrimitive? = obj[key] as? JsonPrimitive

        fun string(key: String): String = primitive(key)?.takeIf { it.isString }?.content ?: throw bad(key, "a string")

        fun stringOrNull(key: String): String? = primitive(key)?.takeIf { it.isString }?.content

        fun boolean(key: String): Boolean = primitive(key)?.takeIf { !it.isString }?.booleanOrNull ?: throw bad(key, "a boolean")

        fun int(key: String): Int = primitive(key)?.takeIf { !it.isString }?.intOrNull ?: throw bad(key, "an integer")

        fun intOrNull(key: String): Int? = primitive(key)?.takeIf { !it.isString }?.intOrNull

        fun longOrNull(key: String): Long? = primitive(key)?.takeIf { !it.isString }?.longOrNull

        fun double(key: String): Double = primitive(key)?.takeIf { !it.isString }?.doubleOrNull ?: throw bad(key, "a number")

        fun array(key: String): JsonArray = obj[key] as? JsonArray ?: throw bad(key, "an array")

        fun obj(key: String): JsonObject = obj[key] as? JsonObject ?: throw bad(key, "an object")
    }
}
