package dev.pocdojo.sdk.signaling

import dev.pocdojo.sdk.realtime.Backoff
import dev.pocdojo.sdk.realtime.CloseCodes
import dev.pocdojo.sdk.realtime.Credentials
import dev.pocdojo.sdk.realtime.SocketConnection
import dev.pocdojo.sdk.realtime.SocketEvent
import dev.pocdojo.sdk.realtime.request
import dev.pocdojo.sdk.realtime.requireRoomName
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineName
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.launch
import okhttp3.OkHttpClient
import okhttp3.WebSocket
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** Where a [SignalingClient] is; `Stopped`, `Failed` and `Disconnected` last until [SignalingClient.connect]. */
sealed interface SignalingState {
    data object Idle : SignalingState

    data object Connecting : SignalingState

    /** In the call as [peerId]. */
    data class Joined(
        val peerId: String,
        val userId: String,
    ) : SignalingState

    data class Offline(
        val reason: String,
        val retryIn: Duration,
    ) : SignalingState

    /** Closed with 4400-4499 (not allowed, dojo ended, room full...): reconnecting cannot help. */
    data class Stopped(
        val closeCode: Int,
        val reason: String,
    ) : SignalingState

    /** The server sent a frame this client cannot read; the socket was closed. */
    data class Failed(
        val error: SignalingProtocolException,
    ) : SignalingState

    data object Disconnected : SignalingState
}

data class SignalingOptions(
    val initialBackoff: Duration = 250.milliseconds,
    val maxBackoff: Duration = 10.seconds,
    /** Received messages not yet collected from [SignalingClient.incoming]; reading stops when full. */
    val incomingCapacity: Int = 256,
)

/**
 * The client of `GET /v1/signal/{room}` (docs/signaling.md): joins the room's call, keeps [peers] and
 * the [ice] servers (with TURN credentials) current, relays offers, answers and ICE candidates, and
 * delivers every server message — relays, errors, the dojo's state and chat — on [incoming].
 * Reconnects after 1xxx closes and network errors with backoff and fresh credentials (each
 * connection is a new peer id: the newcomer offers again); stops on 4400-4499.
 *
 * Media is not here: see [MediaEngine] (no implementation in this build).
 */
class SignalingClient(
    private val scope: CoroutineScope,
    /** The signaling endpoint, e.g. `ws://host/v1/signal` (the ticket's `signal_url`). */
    serverUrl: String,
    val room: String,
    private val credentials: Credentials,
    private val httpClient: OkHttpClient = OkHttpClient(),
    private val options: SignalingOptions = SignalingOptions(),
) : AutoCloseable {
    private val baseUrl = serverUrl.trimEnd('/')
    private val backoff = Backoff(options.initialBackoff, options.maxBackoff)
    private val stateFlow = MutableStateFlow<SignalingState>(SignalingState.Idle)
    private val peersFlow = MutableStateFlow<Map<String, Peer>>(emptyMap())
    private val iceFlow = MutableStateFlow<IceConfig?>(null)
    private val incomingChannel = Channel<ServerMessage>(options.incomingCapacity)
    private val lock = Any()
    private var loop: Job? = null

    @Volatile
    private var joinedSocket: WebSocket? = null

    val state: StateFlow<SignalingState> = stateFlow.asStateFlow()

    /** The other peers of the call, by peer id. */
    val peers: StateFlow<Map<String, Peer>> = peersFlow.asStateFlow()

    /** The ICE servers to build connections with; refreshed by [refreshIce]. */
    val ice: StateFlow<IceConfig?> = iceFlow.asStateFlow()

    /**
     * Every server message, in order, for one collector (the call's controller), across reconnections;
     * it never completes. Collect it: while it is full the client stops reading its socket.
     */
    val incoming: Flow<ServerMessage> = incomingChannel.receiveAsFlow()

    init {
        requireRoomName(room)
    }

    fun connect() {
        synchronized(lock) {
            if (loop?.isActive == true) return
            loop = scope.launch(CoroutineName("signaling $room")) { run() }
        }
    }

    /**
     * Sends [message] if joined; false otherwise (nothing is queued across connections: a new
     * connection is a new peer and negotiates again). Invalid messages are answered with an
     * [ServerMessage.Error] on [incoming].
     */
    fun send(message: ClientMessage): Boolean = joinedSocket?.send(SignalingCodec.encode(message)) ?: false

    fun offer(
        to: String,
        sdp: String,
    ) = send(ClientMessage.Offer(to, sdp))

    fun answer(
        to: String,
        sdp: String,
    ) = send(ClientMessage.Answer(to, sdp))

    fun candidate(
        to: String,
        candidate: IceCandidate?,
    ) = send(ClientMessage.Candidate(to, candidate))

    fun setMedia(
        audio: Boolean? = null,
        video: Boolean? = null,
    ) = send(ClientMessage.State(audio, video))

    /** Asks for fresh TURN credentials; [ice] changes when they arrive. */
    fun refreshIce() = send(ClientMessage.RefreshIce())

    /** Leaves the call (the others see `peer-left` with reason `left`) and stops. */
    suspend fun leave() {
        send(ClientMessage.Leave())
        val job = synchronized(lock) { loop.also { loop = null } } ?: return
        job.cancelAndJoin()
    }

    override fun close() {
        send(ClientMessage.Leave())
        synchronized(lock) { loop.also { loop = null } }?.cancel()
    }

    private suspend fun run() {
        var failures = 0
        var refresh = false
        var authRetried = false
        try {
            while (true) {
                stateFlow.value = SignalingState.Connecting
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
                if (session.joined) {
                    failures = 0
                    authRetried = false
                }
                when {
                    end is End.Closed && end.code == CloseCodes.UNAUTHORIZED && !authRetried -> {
                        authRetried = true
                        refresh = true
                        failures++
                        offline("credentials refused (4401 ${end.reason})", failures)
                    }
                    end is End.Closed && CloseCodes.isTerminal(end.code) -> {
                        stateFlow.value = SignalingState.Stopped(end.code, end.reason)
                        return
                    }
                    end is End.Failed -> {
                        stateFlow.value = SignalingState.Failed(end.error)
                        return
                    }
                    end is End.Closed -> {
                        failures++
                        offline("closed by the server (${end.code} ${end.reason})", failures)
                    }
                    end is End.Dropped -> {
                        failures++
                        offline(end.reason, failures)
                    }
                }
            }
        } catch (e: CancellationException) {
            stateFlow.value = SignalingState.Disconnected
            throw e
        }
    }

    private suspend fun offline(
        reason: String,
        failures: Int,
    ) {
        val wait = backoff.delayFor(failures)
        stateFlow.value = SignalingState.Offline(reason, wait)
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
            val error: SignalingProtocolException,
        ) : End
    }

    /** One connection, from the upgrade request to its end. */
    private inner class Session {
        var joined = false

        suspend fun run(request: okhttp3.Request): End {
            val connection = SocketConnection(httpClient, request, options.incomingCapacity)
            var closeCode = CloseCodes.NORMAL
            try {
                for (event in connection.events) {
                    val text =
                        when (event) {
                            SocketEvent.Opened -> continue
                            is SocketEvent.Text -> event.text
                            is SocketEvent.Binary -> event.bytes.decodeToString() // UTF-8 JSON in a binary frame
                            is SocketEvent.Closed -> return End.Closed(event.code, event.reason)
                            is SocketEvent.Failed ->
                                return End.Dropped(
                                    event.httpStatus?.let { "the upgrade was refused with HTTP $it" } ?: "connection failed: ${event.error}",
                                )
                        }
                    val message =
                        try {
                            SignalingCodec.decode(text)
                        } catch (e: SignalingProtocolException) {
                            closeCode = CloseCodes.PROTOCOL_ERROR
                            return End.Failed(e)
                        }
                    track(message, connection.socket)
                    incomingChannel.send(message)
                }
                return End.Dropped("the connection ended")
            } finally {
                joinedSocket = null
                peersFlow.value = emptyMap()
                connection.close(closeCode, null)
            }
        }

        private fun track(
            message: ServerMessage,
            socket: WebSocket,
        ) {
            when (message) {
                is ServerMessage.Welcome -> {
                    joined = true
                    peersFlow.value = message.peers.associateBy { it.peerId }
                    iceFlow.value = message.ice
                    joinedSocket = socket
                    stateFlow.value = SignalingState.Joined(message.peerId, message.userId)
                }
                is ServerMessage.PeerJoined -> peersFlow.value += message.peer.peerId to message.peer
                is ServerMessage.PeerLeft -> peersFlow.value -= message.peerId
                is ServerMessage.PeerState -> peersFlow.value += message.peer.peerId to message.peer
                is ServerMessage.IceServers -> iceFlow.value = message.ice
                else -> Unit
            }
        }
    }
}
