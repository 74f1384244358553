package dev.pocdojo.sdk.realtime

import dev.pocdojo.sdk.yjs.Lib0Decoder
import dev.pocdojo.sdk.yjs.Lib0Encoder
import dev.pocdojo.sdk.yjs.YjsException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import java.util.concurrent.CopyOnWriteArrayList

/**
 * y-protocols' awareness: each client's presence (user, file, cursor...) as a JSON state with a clock.
 * A client only ever writes its own state ([setLocalState]); a state with a higher clock replaces an
 * older one; `null` means the client left; states not renewed for the timeout are dropped.
 *
 * Sans-IO: the provider feeds it received payloads and sends what it asks for. Thread-safe.
 */
class Awareness(
    /** The document's client id: yjs uses the same number for awareness. */
    val clientId: Long,
    private val clock: () -> Long = System::currentTimeMillis,
) {
    private class Meta(
        val clock: Long,
        val lastUpdated: Long,
    )

    private val lock = Any()
    private val meta = HashMap<Long, Meta>()
    private val states = HashMap<Long, JsonElement>()
    private val localListeners = CopyOnWriteArrayList<() -> Unit>()
    private val peersFlow = MutableStateFlow<Map<Long, JsonElement>>(emptyMap())
    private val localFlow = MutableStateFlow<JsonElement?>(null)

    /** The other clients' states by client id (cursor and selection of everyone else). */
    val peers: StateFlow<Map<Long, JsonElement>> = peersFlow.asStateFlow()

    /** This client's own state; null once it left. */
    val localState: StateFlow<JsonElement?> = localFlow.asStateFlow()

    init {
        setLocalState(JsonObject(emptyMap())) // as yjs: present, with an empty state, from the start
    }

    /** Sets this client's state (`null`: it left); the provider sends it at once. */
    fun setLocalState(state: JsonElement?) {
        val value = if (state is JsonNull) null else state
        synchronized(lock) {
            val next = (meta[clientId]?.clock ?: -1) + 1
            meta[clientId] = Meta(next, clock())
            if (value == null) states.remove(clientId) else states[clientId] = value
        }
        localFlow.value = value
        localListeners.forEach { it() }
    }

    /** Calls [listener] after every change of the local state (renewals included). */
    internal fun onLocalChange(listener: () -> Unit): AutoCloseable {
        localListeners.add(listener)
        return AutoCloseable { localListeners.remove(listener) }
    }

    /** The payload announcing [clients]' states and clocks (`null` for a client without a state). */
    internal fun encode(clients: Collection<Long> = listOf(clientId)): ByteArray =
        synchronized(lock) {
            val encoder = Lib0Encoder()
            val known = clients.filter { meta.containsKey(it) }
            encoder.writeVarUint(known.size)
            for (client in known) {
                encoder.writeVarUint(client)
                encoder.writeVarUint(meta.getValue(client).clock)
                encoder.writeVarString(states[client]?.toString() ?: "null")
            }
            encoder.toByteArray()
        }

    /** The payload saying this client left, without giving up its local state (kept for a reconnect). */
    internal fun encodeLeaving(): ByteArray =
        synchronized(lock) {
            val encoder = Lib0Encoder()
            encoder.writeVarUint(1)
            encoder.writeVarUint(clientId)
            encoder.writeVarUint(meta[clientId]?.clock ?: 0)
            encoder.writeVarString("null")
            encoder.toByteArray()
        }

    /** Every client with a state, for an answer to query-awareness. */
    internal fun knownClients(): List<Long> = synchronized(lock) { states.keys.toList() }

    /**
     * Applies a received payload as y-protocols does. A removal of this client's own state (by
     * someone else) is answered by re-announcing it with a higher clock; a state for this client's id
     * from elsewhere is ignored. Bad bytes or JSON raise [ProtocolViolationException], nothing applied.
     */
    internal fun applyUpdate(payload: ByteArray) {
        val entries = decode(payload)
        var reannounce = false
        synchronized(lock) {
            val now = clock()
            for ((client, entryClock, state) in entries) {
                val current = meta[client]?.clock ?: 0
                val removal = state == null
                if (client == clientId) {
                    if (removal && entryClock >= current && states.containsKey(clientId)) {
                        meta[clientId] = Meta(entryClock + 1, now)
                        reannounce = true
                    }
                    continue
                }
                if (current < entryClock || (current == entryClock && removal && states.containsKey(client))) {
                    if (removal) states.remove(client) else states[client] = state
                    meta[client] = Meta(entryClock, now)
                }
            }
            publishPeers()
        }
        if (reannounce) localListeners.forEach { it() }
    }

    /**
     * Renews the local state when [renewAfterMillis] passed since it was last set (others drop states
     * older than their timeout) and drops peers not renewed for [timeoutMillis].
     */
    internal fun tick(
        renewAfterMillis: Long,
        timeoutMillis: Long,
    ) {
        val now = clock()
        val renew: JsonElement?
        synchronized(lock) {
            val outdated = states.keys.filter { it != clientId && now - meta.getValue(it).lastUpdated >= timeoutMillis }
            outdated.forEach { states.remove(it) }
            if (outdated.isNotEmpty()) publishPeers()
            val local = meta[clientId]
            renew = states[clientId]?.takeIf { local != null && now - local.lastUpdated >= renewAfterMillis }
        }
        renew?.let { setLocalState(it) }
    }

    /** Forgets every other client (the connection is gone: y-websocket does the same). */
    internal fun removePeers() {
        synchronized(lock) {
            states.keys.retainAll(setOf(clientId))
            publishPeers()
        }
    }

    private fun publishPeers() {
        peersFlow.value = states.filterKeys { it != clientId }
    }

    private data class Entry(
        val client: Long,
        val clock: Long,
        val state: JsonElement?,
    )

    private fun decode(payload: ByteArray): List<Entry> =
        try {
            val decoder = Lib0Decoder(payload)
            val n = decoder.readVarUintAsInt("awareness entry count")
            if (n > decoder.remaining) throw ProtocolViolationException("$n awareness entries in ${decoder.remaining} bytes")
            val entries =
                List(n) {
                    val client = decoder.readVarUint()
                    val entryClock = decoder.readVarUint()
                    val state = Json.parseToJsonElement(decoder.readVarString())
                    Entry(client, entryClock, if (state is JsonNull) null else state)
                }
            if (decoder.hasContent()) throw ProtocolViolationException("${decoder.remaining} trailing bytes in an awareness payload")
            entries
        } catch (e: YjsException) {
            throw ProtocolViolationException("a malformed awareness payload: ${e.message}", e)
        } catch (e: SerializationException) {
            throw ProtocolViolationException("an awareness state that is not JSON: ${e.message}", e)
        }
}
