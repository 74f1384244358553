package dev.pocdojo.sdk.realtime

import dev.pocdojo.sdk.testing.FakeCollabServer
import dev.pocdojo.sdk.testing.waitUntil
import dev.pocdojo.sdk.yjs.Doc
import dev.pocdojo.sdk.yjs.Lib0Encoder
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineExceptionHandler
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** The provider against a scripted server: sync, reconnects, close codes, and frames it cannot use. */
class YWebsocketProviderTest {
    private val server = FakeCollabServer()
    private val uncaught = CopyOnWriteArrayList<Throwable>()
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineExceptionHandler { _, e -> uncaught += e })
    private val tickets = AtomicInteger()
    private val fastRetries = ProviderOptions(initialBackoff = 20.milliseconds, maxBackoff = 100.milliseconds)

    @AfterEach
    fun tearDown() {
        scope.cancel()
        server.close()
        assertEquals(emptyList<Throwable>(), uncaught, "no exception escapes the provider")
    }

    private fun provider(
        doc: Doc = Doc(),
        credentials: Credentials = Credentials.Ticket { "t${tickets.incrementAndGet()}" },
    ) = YWebsocketProvider(scope, server.collabUrl, "room-1", doc, credentials, httpClient = okhttp3.OkHttpClient(), options = fastRetries)

    private fun textOf(update: ByteArray): String = Doc().apply { applyUpdate(update) }.getText("text").toString()

    @Test
    fun `syncs, sends local edits, applies remote ones without echoing them`() =
        runBlocking<Unit> {
            val p = provider()
            p.connect()
            val connection = server.connections.receive()
            assertEquals("t1", connection.request.url.queryParameter("ticket"))
            connection.syncEmpty()
            waitUntil("synced", probe = { p.state.value }) { it == ConnectionState.Synced }

            val remote = Doc()
            var remoteUpdate = ByteArray(0)
            remote.onUpdate { u, _, _ -> remoteUpdate = u }
            remote.getText("text").insert(0, "remote ")
            connection.send(SyncProtocol.update(remoteUpdate))
            waitUntil("the remote edit applied", probe = { p.edit { it.getText("text").toString() } }) { it == "remote " }

            p.edit { it.getText("text").insert(7, "local") }
            val sent = SyncProtocol.decode(connection.nextSyncFrame()) as SyncProtocol.Message.Update
            val check = Doc().apply { applyUpdate(remoteUpdate) }
            check.applyUpdate(sent.update)
            assertEquals("remote local", check.getText("text").toString(), "the first frame after the remote edit is the local edit, not an echo")
            p.close()
        }

    @Test
    fun `an update the core cannot decode fails the provider clearly, keeps local edits, and a reconnect sends them`() =
        runBlocking<Unit> {
            val doc = Doc()
            val p = provider(doc)
            p.connect()
            val first = server.connections.receive()
            first.syncEmpty()
            waitUntil("synced", probe = { p.state.value }) { it == ConnectionState.Synced }
            p.edit { it.getText("text").insert(0, "kept") }
            first.nextSyncFrame()

            first.send(byteArrayOf(0, 2, 4, 0x7f, 0x7f, 0x7f, 0x7f)) // an update frame holding garbage
            val failed = waitUntil("failed", probe = { p.state.value }) { it is ConnectionState.Failed } as ConnectionState.Failed
            assertInstanceOf(UndecodableUpdateException::class.java, failed.error)
            assertEquals(CloseCodes.INVALID_DATA, withTimeout(10.seconds) { first.clientClose.await() })
            waitUntil("the loop stops", probe = { p.isRunning }) { !it }
            assertEquals("kept", p.edit { it.getText("text").toString() })

            p.connect() // the application retries (e.g. a "reconnect" button)
            val second = server.connections.receive()
            assertEquals("kept", textOf(second.syncEmpty()), "the local edit reaches the server on the next sync")
            p.close()
        }

    @Test
    fun `a frame that is not a y-websocket message is a protocol violation`() =
        runBlocking<Unit> {
            for (garbage in listOf(byteArrayOf(7), byteArrayOf(0, 9, 0), byteArrayOf(0, 0), byteArrayOf(3, 1))) {
                val p = provider()
                p.connect()
                val connection = server.connections.receive()
                connection.send(garbage)
                val failed = waitUntil("failed", probe = { p.state.value }) { it is ConnectionState.Failed } as ConnectionState.Failed
                assertInstanceOf(ProtocolViolationException::class.java, failed.error)
                assertEquals(CloseCodes.PROTOCOL_ERROR, withTimeout(10.seconds) { connection.clientClose.await() })
                p.close()
            }
        }

    @Test
    fun `permission denied turns the provider read-only and keeps the connection`() =
        runBlocking<Unit> {
            val p = provider()
            p.connect()
            val connection = server.connections.receive()
            connection.syncEmpty()
            assertNull(p.readOnly.value)
            connection.send(
                Lib0Encoder()
                    .apply {
                        writeVarUint(2)
                        writeVarUint(0)
                        writeVarString("observers watch")
                    }.toByteArray(),
            )
            waitUntil("read-only", probe = { p.readOnly.value }) { it == ReadOnly("observers watch") }
            assertEquals(ConnectionState.Synced, p.state.value)
            p.markWritable()
            assertNull(p.readOnly.value)
            p.close()
        }

    @Test
    fun `a 4404 close stops the provider without reconnecting`() =
        runBlocking<Unit> {
            val p = provider()
            p.connect()
            val connection = server.connections.receive()
            connection.socket.close(4404, "the dojo has ended")
            waitUntil("stopped", probe = { p.state.value }) { it == ConnectionState.Stopped(4404, "the dojo has ended") }
            waitUntil("the loop stops", probe = { p.isRunning }) { !it }
            assertEquals(1, server.requests.size)
            p.close()
        }

    @Test
    fun `a 1xxx close reconnects with a fresh ticket and sends the edits made offline`() =
        runBlocking<Unit> {
            val offline = CompletableDeferred<Unit>()
            val p =
                provider(
                    credentials =
                        Credentials.Ticket {
                            val n = tickets.incrementAndGet()
                            if (n == 2) offline.await() // the network stays away until the test has edited
                            "t$n"
                        },
                )
            p.connect()
            val first = server.connections.receive()
            first.syncEmpty()
            waitUntil("synced", probe = { p.state.value }) { it == ConnectionState.Synced }
            first.socket.close(1011, "internal error")
            waitUntil("reconnecting", probe = { p.state.value }) { it == ConnectionState.Connecting }
            p.edit { it.getText("text").insert(0, "offline edit") }
            offline.complete(Unit)
            val second = server.connections.receive()
            assertEquals("t2", second.request.url.queryParameter("ticket"))
            assertEquals("offline edit", textOf(second.syncEmpty()))
            waitUntil("synced again", probe = { p.state.value }) { it == ConnectionState.Synced }
            p.close()
        }

    @Test
    fun `a 4401 close gets refreshed credentials once, then stops`() =
        runBlocking<Unit> {
            val refreshes = CopyOnWriteArrayList<Boolean>()
            val p = provider(credentials = Credentials.Bearer { refresh -> refreshes += refresh; "token-${refreshes.size}" })
            p.connect()
            server.connections.receive().socket.close(4401, "token expired")
            val second = server.connections.receive()
            assertEquals("Bearer token-2", second.request.headers["Authorization"])
            second.socket.close(4401, "token expired")
            waitUntil("stopped", probe = { p.state.value }) { it == ConnectionState.Stopped(4401, "token expired") }
            assertEquals(listOf(false, true), refreshes)
            p.close()
        }

    @Test
    fun `an empty document's step1 is the reference bytes`() {
        assertArrayEquals(byteArrayOf(0, 0, 1, 0), SyncProtocol.syncStep1(Doc().encodeStateVector()))
        assertFalse(SyncProtocol.update(byteArrayOf(0, 0)).isEmpty())
        assertTrue(SyncProtocol.decode(byteArrayOf(3)) == SyncProtocol.Message.QueryAwareness)
    }
}
