package dev.pocdojo.sdk.realtime

import dev.pocdojo.sdk.yjs.Doc
import dev.pocdojo.sdk.yjs.YjsException
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.Job
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeoutOrNull
import okhttp3.OkHttpClient
import okhttp3.WebSocket
import okio.ByteString.Companion.toByteString
import kotlin.coroutines.CoroutineContext

/**
 * Keeps a [Doc] in sync with a room of the y-websocket server (`GET /v1/collab/{room}`), like
 * y-websocket 3.x's `WebsocketProvider`: on open it sends sync step 1 and its awareness, answers the
 * server's step 1 with step 2, is [ConnectionState.Synced] on the server's step 2, sends every change of
 * the document that did not come from the server, applies the server's updates (origin: this provider,
 * so they are not sent back), and reconnects after drops with capped, jittered exponential backoff and
 * fresh [credentials] each time. Edits made while offline stay in the document and reach the server on
 * reconnect (the server's step 1 asks for exactly what it lacks).
 *
 * Close codes 4400-4499 stop it ([ConnectionState.Stopped]); a first 4401 gets new credentials
 * (`refresh = true`) and one more try. A frame it cannot use — not a y-websocket message, or an update
 * the Yjs core cannot decode — closes the socket and stops it with [ConnectionState.Failed]: the
 * document never silently diverges from the server's.
 *
 * Threading: the document is not thread-safe. Every access to [doc] — the application's edits and this
 * provider's — must run in [docContext] (e.g. Android's main dispatcher); [edit] is a shortcut. The
 * connection runs in [scope]; cancelling the scope stops it.
 */
class YWebsocketProvider(
    private val scope: CoroutineScope,
    /** The collab endpoint, e.g. `ws://host/v1/collab` (the ticket's `collab_url`). */
    serverUrl: String,
    /** The room: for a dojo, its id. */
    val room: String,
    val doc: Doc,
    private val credentials: Credentials,
    @OptIn(ExperimentalCoroutinesApi::class)
    private val docContext: CoroutineContext = Dispatchers.Default.limitedParallelism(1),
    private val httpClient: OkHttpClient = OkHttpClient(),
    private val options: ProviderOptions = ProviderOptions(),
) : AutoCloseable {
    private val baseUrl = serverUrl.trimEnd('/')
    private val backoff = Backoff(options.initialBackoff, options.maxBackoff)
    private val stateFlow = MutableStateFlow<ConnectionState>(ConnectionState.Idle)
    private val readOnlyFlow = MutableStateFlow<ReadOnly?>(null)
    private val lock = Any()
    private var loop: Job? = null
    private var closed = false

    /** The socket frames may be sent on: set once the socket is open, in [docContext]. */
    @Volatile
    private var openSocket: WebSocket? = null

    /** Presence of this client (id = the document's client id) and of the others in the room. */
    val awareness = Awareness(doc.clientId)

    val state: StateFlow<ConnectionState> = stateFlow.asStateFlow()

    /**
     * Non-null while the server refuses this client's edits (permission-denied: an observer, not the
     * driver...): the editor should turn read-only. Cleared on each new connection (the server says it
     * again if it still applies) and by [markWritable].
     */
    val readOnly: StateFlow<ReadOnly?> = readOnlyFlow.asStateFlow()

    private val updateSubscription =
        doc.onUpdate { update, origin, _ ->
            if (origin !== this) send(SyncProtocol.update(update))
        }
    private val awarenessSubscription =
        awareness.onLocalChange { send(SyncProtocol.awareness(awareness.encode())) }

    init {
        requireRoomName(room)
    }

    /** True while the connection loop runs (connecting, connected or waiting to reconnect). */
    internal val isRunning: Boolean get() = synchronized(lock) { loop?.isActive == true }

    /** Runs [block] on the document in [docContext] (one transaction, sent as one update). */
    suspend fun <T> edit(block: (Doc) -> T): T = withContext(docContext) { doc.transact { block(doc) } }

    /** Starts connecting (again, after `Stopped`, `Failed` or `Disconnected`); no-op while running. */
    fun connect() {
        synchronized(lock) {
            check(!closed) { "the provider is closed" }
            if (loop?.isActive == true) return
            loop = scope.launch(CoroutineName("y-websocket $room")) { run() }
        }
    }

    /** Tells the room this client left (awareness `null`), closes the socket and stops reconnecting. */
    suspend fun disconnect() {
        val job = synchronized(lock) { loop.also { loop = null } } ?: return
        // the server also announces it when the socket closes; this reaches the others first
        send(SyncProtocol.awareness(awareness.encodeLeaving()))
        job.cancelAndJoin()
    }

    /** The application learned it may edit again (e.g. its dojo role changed back to an editing one). */
    fun markWritable() {
        readOnlyFlow.value = null
    }

    /** Leaves (local awareness `null`, sent at once), stops the connection and detaches from the document. */
    override fun close() {
        val job =
            synchronized(lock) {
                if (closed) return
                closed = true
                loop.also { loop = null }
            }
        awareness.setLocalState(null)
        awarenessSubscription.close()
        updateSubscription.close()
        job?.cancel()
    }

    private fun send(frame: ByteArray) {
        openSocket?.send(frame.toByteString())
    }

    private suspend fun run() {
        var failures = 0
        var refresh = false
        var authRetried = false
        try {
            coroutineScope {
                val ticker =
                    launch {
                        while (true) {
                            delay(options.awarenessCheckInterval)
                            awareness.tick(options.awarenessRenewal.inWholeMilliseconds, options.awarenessTimeout.inWholeMilliseconds)
                        }
                    }
                while (true) {
                    stateFlow.value = ConnectionState.Connecting
                    val request =
                        try {
                            credentials.request(baseUrl, room, refresh)
                        } catch (e: CancellationException) {
                            throw e
                        } catch (e: Exception) {
                            failures++
                            offline("could not get credentials: $e", failures)
                            continue
                        }
                    refresh = false
                    val session = Session()
                    val end = session.run(request)
                    if (session.synced) {
                        failures = 0
                        authRetried = false
                    }
                    when (end) {
                        is End.Failed -> {
                            stateFlow.value = ConnectionState.Failed(end.error)
                            break
                        }
                        is End.Closed ->
                            if (end.code == CloseCodes.UNAUTHORIZED && !authRetried) {
                                authRetried = true
                                refresh = true
                                failures++
                                offline("credentials refused (4401 ${end.reason}); retrying with new ones", failures)
                            } else if (CloseCodes.isTerminal(end.code)) {
                                stateFlow.value = ConnectionState.Stopped(end.code, end.reason)
                                break
                            } else {
                                failures++
                                offline("closed by the server (${end.code} ${end.reason})", failures)
                            }
                        is End.Dropped -> {
                            failures++
                            offline(end.reason, failures)
                        }
                    }
                }
                ticker.cancel()
            }
        } catch (e: CancellationException) {
            stateFlow.value = ConnectionState.Disconnected
            throw e
        }
    }

    private suspend fun offline(
        reason: String,
        failures: Int,
    ) {
        val wait = backoff.delayFor(failures)
        stateFlow.value = ConnectionState.Offline(reason, wait)
        delay(wait)
    }

    private sealed interface End {
        data class Closed(
            val code: Int,
            val reason: String,
        ) : End

        data class Dropped(
            val reason: String,
        ) : End

        data class Failed(
            val error: RealtimeException,
        ) : End
    }

    /** One connection, from the upgrade request to its end. */
    private inner class Session {
        var synced = false

        suspend fun run(request: okhttp3.Request): End {
            val connection = SocketConnection(httpClient, request, options.inboundQueue)
            var closeCode = CloseCodes.NORMAL
            try {
                while (true) {
                    val event =
                        withTimeoutOrNull(options.silenceTimeout) { connection.events.receiveCatching() }
                            ?: return End.Dropped("nothing heard for ${options.silenceTimeout}")
                    when (val e = event.getOrNull() ?: return End.Dropped("the connection ended")) {
                        SocketEvent.Opened -> withContext(docContext) { opened(connection.socket) }
                        is SocketEvent.Binary -> {
                            val error = withContext(docContext) { handle(e.bytes) }
                            if (error != null) {
                                closeCode = if (error is UndecodableUpdateException) CloseCodes.INVALID_DATA else CloseCodes.PROTOCOL_ERROR
                                return End.Failed(error)
                            }
                        }
                        is SocketEvent.Text -> {
                            closeCode = CloseCodes.PROTOCOL_ERROR
                            return End.Failed(ProtocolViolationException("the server sent a text frame; the protocol is binary"))
                        }
                        is SocketEvent.Closed -> return End.Closed(e.code, e.reason)
                        is SocketEvent.Failed ->
                            return End.Dropped(
                                e.httpStatus?.let { "the upgrade was refused with HTTP $it" } ?: "connection failed: ${e.error}",
                            )
                    }
                }
            } finally {
                openSocket = null
                connection.close(closeCode, null)
                awareness.removePeers()
            }
        }

        private fun opened(socket: WebSocket) {
            readOnlyFlow.value = null
            stateFlow.value = ConnectionState.Syncing
            openSocket = socket
            send(SyncProtocol.syncStep1(doc.encodeStateVector()))
            // re-announced with a new clock: peers that saw us leave ignore a state with the old one
            awareness.localState.value?.let { awareness.setLocalState(it) }
        }

        /** Handles one frame in [docContext]; a non-null result ends the connection. */
        private fun handle(frame: ByteArray): RealtimeException? {
            try {
                when (val message = SyncProtocol.decode(frame)) {
                    is SyncProtocol.Message.SyncStep1 -> {
                        val diff =
                            try {
                                doc.encodeStateAsUpdate(message.stateVector)
                            } catch (e: YjsException) {
                                throw ProtocolViolationException("a malformed state vector: ${e.message}", e)
                            }
                        send(SyncProtocol.syncStep2(diff))
                    }
                    is SyncProtocol.Message.SyncStep2 -> {
                        apply(message.update)
                        synced = true
                        stateFlow.value = ConnectionState.Synced
                    }
                    is SyncProtocol.Message.Update -> apply(message.update)
                    is SyncProtocol.Message.Awareness -> awareness.applyUpdate(message.payload)
                    is SyncProtocol.Message.PermissionDenied -> readOnlyFlow.value = ReadOnly(message.reason)
                    SyncProtocol.Message.QueryAwareness -> send(SyncProtocol.awareness(awareness.encode(awareness.knownClients())))
                }
            } catch (e: RealtimeException) {
                return e
            }
            return null
        }

        private fun apply(update: ByteArray) {
            try {
                doc.applyUpdate(update, this@YWebsocketProvider)
            } catch (e: YjsException) {
                throw UndecodableUpdateException(e)
            }
        }
    }
}
