package dev.pocdojo.sdk.testing

import dev.pocdojo.sdk.realtime.SyncProtocol
import dev.pocdojo.sdk.yjs.Doc
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.trySendBlocking
import kotlinx.coroutines.withTimeout
import mockwebserver3.Dispatcher
import mockwebserver3.MockResponse
import mockwebserver3.MockWebServer
import mockwebserver3.RecordedRequest
import okhttp3.Response
import okhttp3.WebSocket
import okhttp3.WebSocketListener
import okio.ByteString
import okio.ByteString.Companion.toByteString
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.seconds

/**
 * A scripted websocket server (OkHttp's MockWebServer) standing in for the collab endpoint, for the
 * cases a real server never produces: garbage frames, chosen close codes at chosen moments.
 * Every upgrade is accepted; each connection arrives on [connections].
 */
class FakeCollabServer : AutoCloseable {
    class Connection(
        val socket: WebSocket,
        val request: RecordedRequest,
    ) {
        /** Binary frames the client sent, in order. */
        val frames = Channel<ByteArray>(Channel.UNLIMITED)

        /** The close code the client sent. */
        val clientClose = CompletableDeferred<Int>()

        fun send(bytes: ByteArray) {
            check(socket.send(bytes.toByteString())) { "the fake server could not send: the socket is closed" }
        }

        /**
         * The server's side of a sync for an empty document: reads the client's step1, sends its own step1
         * and, after the client's step2, its step2. Returns the client's step2 (everything it had).
         */
        suspend fun syncEmpty(): ByteArray {
            val step1 = SyncProtocol.decode(nextSyncFrame())
            check(step1 is SyncProtocol.Message.SyncStep1) { "the client's first sync message is step1, not $step1" }
            send(SyncProtocol.syncStep1(Doc().encodeStateVector()))
            val answer = SyncProtocol.decode(nextSyncFrame())
            check(answer is SyncProtocol.Message.SyncStep2) { "the client answers step1 with step2, not $answer" }
            send(SyncProtocol.syncStep2(Doc().encodeStateAsUpdate()))
            return answer.update
        }

        /** The next frame the client sent that is not awareness. */
        suspend fun nextSyncFrame(): ByteArray {
            while (true) {
                val frame = withTimeout(10.seconds) { frames.receive() }
                if (frame[0].toInt() != SyncProtocol.MESSAGE_AWARENESS) return frame
            }
        }
    }

    private val server = MockWebServer()
    val connections = Channel<Connection>(Channel.UNLIMITED)
    val requests: MutableList<RecordedRequest> = CopyOnWriteArrayList()

    init {
        server.dispatcher =
            object : Dispatcher() {
                override fun dispatch(request: RecordedRequest): MockResponse {
                    requests += request
                    return MockResponse.Builder().webSocketUpgrade(listener(request)).build()
                }
            }
        server.start()
    }

    /** ws://… base URL of the collab endpoint (the room is appended by the client). */
    val collabUrl: String get() = server.url("/v1/collab").toString().replaceFirst("http", "ws")

    private fun listener(request: RecordedRequest) =
        object : WebSocketListener() {
            private var connection: Connection? = null

            override fun onOpen(
                webSocket: WebSocket,
                response: Response,
            ) {
                connection = Connection(webSocket, request).also { connections.trySendBlocking(it) }
            }

            override fun onMessage(
                webSocket: WebSocket,
                bytes: ByteString,
            ) {
                connection!!.frames.trySendBlocking(bytes.toByteArray())
            }

            override fun onClosing(
                webSocket: WebSocket,
                code: Int,
                reason: String,
            ) {
                connection!!.clientClose.complete(code)
                webSocket.close(1000, null)
            }

            override fun onFailure(
                webSocket: WebSocket,
                t: Throwable,
                response: Response?,
            ) {
                connection?.clientClose?.completeExceptionally(t)
            }
        }

    override fun close() {
        server.close()
    }
}
