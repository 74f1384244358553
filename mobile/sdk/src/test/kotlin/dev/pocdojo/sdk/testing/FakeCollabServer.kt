package dev.pocdojo.sdk.testing

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.trySendBlocking
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
