package dev.pocdojo.app.core.room

import dev.pocdojo.sdk.realtime.ConnectionState
import dev.pocdojo.sdk.realtime.ReadOnly
import dev.pocdojo.sdk.realtime.YWebsocketProvider
import dev.pocdojo.sdk.yjs.Doc
import kotlinx.coroutines.flow.StateFlow
import kotlinx.serialization.json.JsonElement

/**
 * The room's shared document and presence: the realtime provider ([ProviderLink]), or a fake in tests.
 * The document is not thread-safe: [edit] and the [onChange] listeners run on the document's thread
 * (on Android the main thread, which is also where the view-model runs).
 */
interface RoomLink : AutoCloseable {
    val clientId: Long
    val connection: StateFlow<ConnectionState>

    /** Non-null while the server refuses this client's edits. */
    val readOnly: StateFlow<ReadOnly?>

    /** The others' awareness states by client id (this client's own may be included). */
    val peers: StateFlow<Map<Long, JsonElement>>

    fun connect()

    fun setPresence(state: JsonElement)

    /** Runs [block] on the document in one transaction; call it on the document's thread. */
    fun <T> edit(block: (Doc) -> T): T

    /** [listener] runs on the document's thread after each change of the document, local or remote. */
    fun onChange(listener: () -> Unit): AutoCloseable
}

/** [RoomLink] over the SDK's y-websocket provider, whose `docContext` must be the view-model's thread. */
class ProviderLink(
    private val provider: YWebsocketProvider,
) : RoomLink {
    override val clientId: Long get() = provider.doc.clientId
    override val connection: StateFlow<ConnectionState> = provider.state
    override val readOnly: StateFlow<ReadOnly?> = provider.readOnly
    override val peers: StateFlow<Map<Long, JsonElement>> = provider.awareness.peers

    override fun connect() = provider.connect()

    override fun setPresence(state: JsonElement) = provider.awareness.setLocalState(state)

    override fun <T> edit(block: (Doc) -> T): T = provider.doc.transact { block(provider.doc) }

    override fun onChange(listener: () -> Unit): AutoCloseable = provider.doc.onUpdate { _, _, _ -> listener() }

    override fun close() = provider.close()
}
