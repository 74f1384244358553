package dev.pocdojo.sdk.realtime

import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ReceiveChannel
import kotlinx.coroutines.channels.trySendBlocking
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.Response
import okhttp3.WebSocket
import okhttp3.WebSocketListener
import okio.ByteString

/** What an OkHttp websocket reports, as values a coroutine reads in order. */
internal sealed interface SocketEvent {
    data object Opened : SocketEvent

    class Binary(
        val bytes: ByteArray,
    ) : SocketEvent

    class Text(
        val text: String,
    ) : SocketEvent

    /** The server closed (or started closing) with [code]. */
    data class Closed(
        val code: Int,
        val reason: String,
    ) : SocketEvent

    /** The connection failed: network error, refused upgrade ([httpStatus]), or cut mid-way. */
    class Failed(
        val error: Throwable,
        val httpStatus: Int?,
    ) : SocketEvent
}

/**
 * One websocket connection whose events go to a bounded channel. The reader thread blocks while the
 * channel is full, so a slow consumer slows the socket (TCP backpressure) instead of growing a queue.
 * Events after [events] was cancelled are dropped: nobody reads that connection any more.
 */
internal class SocketConnection(
    client: OkHttpClient,
    request: Request,
    capacity: Int,
) {
    private val channel = Channel<SocketEvent>(capacity)
    val events: ReceiveChannel<SocketEvent> get() = channel
    val socket: WebSocket =
        client.newWebSocket(
            request,
            object : WebSocketListener() {
                override fun onOpen(
                    webSocket: WebSocket,
                    response: Response,
                ) {
                    channel.trySendBlocking(SocketEvent.Opened)
                }

                override fun onMessage(
                    webSocket: WebSocket,
                    bytes: ByteString,
                ) {
                    channel.trySendBlocking(SocketEvent.Binary(bytes.toByteArray()))
                }

                override fun onMessage(
                    webSocket: WebSocket,
                    text: String,
                ) {
                    channel.trySendBlocking(SocketEvent.Text(text))
                }

                override fun onClosing(
                    webSocket: WebSocket,
                    code: Int,
                    reason: String,
                ) {
                    webSocket.close(CloseCodes.NORMAL, null) // completes the closing handshake
                    channel.trySendBlocking(SocketEvent.Closed(code, reason))
                    channel.close()
                }

                override fun onFailure(
                    webSocket: WebSocket,
                    t: Throwable,
                    response: Response?,
                ) {
                    channel.trySendBlocking(SocketEvent.Failed(t, response?.code))
                    channel.close()
                }
            },
        )

    /** Stops reading this connection (pending events are dropped) and closes it with [code]. */
    fun close(
        code: Int,
        reason: String?,
    ) {
        channel.cancel()
        socket.close(code, reason)
    }
}
