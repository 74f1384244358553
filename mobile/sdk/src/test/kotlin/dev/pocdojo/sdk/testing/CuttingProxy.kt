package dev.pocdojo.sdk.testing

import java.io.IOException
import java.net.InetAddress
import java.net.ServerSocket
import java.net.Socket
import java.util.concurrent.CopyOnWriteArrayList

/**
 * A TCP proxy in front of the backend that can cut every connection and refuse new ones (asyncpg's
 * adversity tests do the same): the network going away under a client, with no close frame.
 */
class CuttingProxy(
    private val targetPort: Int,
) : AutoCloseable {
    private val server = ServerSocket(0, 50, InetAddress.getLoopbackAddress())
    private val sockets = CopyOnWriteArrayList<Socket>()

    @Volatile
    private var refusing = false
    val port: Int get() = server.localPort

    init {
        Thread({ acceptLoop() }, "cutting-proxy").apply { isDaemon = true }.start()
    }

    private fun acceptLoop() {
        while (!server.isClosed) {
            val client =
                try {
                    server.accept()
                } catch (_: IOException) {
                    return // the proxy was closed
                }
            if (refusing) {
                client.close()
                continue
            }
            val upstream = Socket(InetAddress.getLoopbackAddress(), targetPort)
            sockets += client
            sockets += upstream
            pipe(client, upstream)
            pipe(upstream, client)
        }
    }

    private fun pipe(
        from: Socket,
        to: Socket,
    ) {
        Thread {
            try {
                from.getInputStream().copyTo(to.getOutputStream())
            } catch (_: IOException) {
                // one side was cut: cut the other too (below)
            } finally {
                from.close()
                to.close()
            }
        }.apply { isDaemon = true }.start()
    }

    /** Cuts every open connection and refuses new ones until [restore]. */
    fun cut() {
        refusing = true
        sockets.forEach { it.close() }
        sockets.clear()
    }

    fun restore() {
        refusing = false
    }

    override fun close() {
        cut()
        server.close()
    }
}
