package dev.pocdojo.app.core.room

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.testing.FakeRoomGateway
import dev.pocdojo.app.core.testing.participant
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.message
import dev.pocdojo.sdk.realtime.Credentials
import dev.pocdojo.sdk.realtime.ProviderOptions
import dev.pocdojo.sdk.realtime.YWebsocketProvider
import dev.pocdojo.sdk.testing.CuttingProxy
import dev.pocdojo.sdk.testing.FakeCollabServer
import dev.pocdojo.sdk.testing.waitUntil
import dev.pocdojo.sdk.yjs.Doc
import dev.pocdojo.sdk.yjs.Lib0Decoder
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineExceptionHandler
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import okhttp3.OkHttpClient
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.net.URI
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.milliseconds

/**
 * Bad input reaches the room's screen as a message, never as a crash or a lost edit: the view-model over
 * the SDK's provider and a scripted collab server (the SDK's [FakeCollabServer]: garbage frames and close
 * codes a real server does not send on demand), the REST side in memory. The provider's own handling of
 * these cases is `YWebsocketProviderTest`; this is what the person sees.
 */
class DojoRoomBadInputTest {
    private val server = FakeCollabServer()

    // the document's thread, as Android's main thread would be
    private val executor = Executors.newSingleThreadExecutor()
    private val thread = executor.asCoroutineDispatcher()
    private val uncaught = CopyOnWriteArrayList<Throwable>()
    private val scope = CoroutineScope(SupervisorJob() + thread + CoroutineExceptionHandler { _, e -> uncaught += e })
    private val gateway =
        FakeRoomGateway(RoomInfo("Kata", "me", listOf(participant("me", "driver", host = true)), false, false, false))
    private val tickets = AtomicInteger()

    /** While set, fetching the ticket of that number waits for it: the network stays away meanwhile. */
    private val gates = mutableMapOf<Int, CompletableDeferred<Unit>>()

    @AfterEach
    fun tearDown() {
        scope.cancel()
        executor.shutdownNow()
        server.close()
        assertEquals(emptyList<Throwable>(), uncaught, "no exception escapes the room")
    }

    private suspend fun enter(collabUrl: String = server.collabUrl): DojoRoomViewModel {
        val credentials =
            Credentials.Ticket {
                val n = tickets.incrementAndGet()
                gates[n]?.await()
                "t$n"
            }
        val options = ProviderOptions(initialBackoff = 200.milliseconds, maxBackoff = 400.milliseconds)
        val provider = YWebsocketProvider(scope, collabUrl, "dojo-1", Doc(), credentials, thread, OkHttpClient(), options)
        return withContext(thread) {
            DojoRoomViewModel("dojo-1", "me", "Me", ProviderLink(provider), gateway, scope, refreshEveryMillis = 100)
        }
    }

    /** The room connected and synced with an empty server, with `main.py` holding [text] typed here. */
    private suspend fun enterAndType(
        text: String,
        collabUrl: String = server.collabUrl,
    ): Pair<DojoRoomViewModel, FakeCollabServer.Connection> {
        val room = enter(collabUrl)
        val connection = server.connections.receive()
        connection.syncEmpty()
        waitUntil("synced", probe = { room.state.value.connection }) { it == RoomConnection.Synced }
        room.on(RoomEvent.NewFile("main.py"), RoomEvent.Edit(0, 0, text))
        assertEquals(text, room.state.value.text)
        return room to connection
    }

    private suspend fun DojoRoomViewModel.on(vararg events: RoomEvent) = withContext(thread) { events.forEach(::onEvent) }

    /** The connection states the room showed, in order. */
    private fun DojoRoomViewModel.history(): List<RoomConnection> {
        val seen = CopyOnWriteArrayList<RoomConnection>()
        scope.launch { state.map { it.connection }.distinctUntilChanged().collect { seen += it } }
        return seen
    }

    private fun mainPy(update: ByteArray): String = Doc().apply { applyUpdate(update) }.getMap("files").getText("main.py").toString()

    @Test
    fun `a garbage frame from the server fails the room with a message, keeps the edit, and Reconnect sends it`() =
        runBlocking<Unit> {
            val (room, first) = enterAndType("kept")
            first.send(byteArrayOf(0, 2, 4, 0x7f, 0x7f, 0x7f, 0x7f)) // an update frame holding garbage

            val failed = waitUntil("failed", probe = { room.state.value.connection }) { it is RoomConnection.Failed } as RoomConnection.Failed
            assertTrue(failed.detail.isNotBlank(), "the failure says what went wrong")
            assertEquals(ReadOnlyReason.Closed, room.state.value.readOnly)
            assertEquals("kept", room.state.value.text)

            room.on(RoomEvent.Reconnect)
            val second = server.connections.receive()
            assertEquals("kept", mainPy(second.syncEmpty()), "the local edit reaches the server after Reconnect")
            waitUntil("synced again", probe = { room.state.value.connection }) { it == RoomConnection.Synced }
            assertNull(room.state.value.readOnly)
            withContext(thread) { room.close() }
        }

    @Test
    fun `an expired ticket (4401) gets a fresh one, reconnects, and the edits made meanwhile arrive`() =
        runBlocking<Unit> {
            gates[2] = CompletableDeferred()
            val (room, first) = enterAndType("before ")
            val shown = room.history()
            first.socket.close(4401, "ticket expired")
            waitUntil("reconnecting", probe = { room.state.value.connection }) { it == RoomConnection.Connecting }
            room.on(RoomEvent.Edit(7, 7, "after"))
            gates.getValue(2).complete(Unit)

            val second = server.connections.receive()
            assertEquals("t2", second.request.url.queryParameter("ticket"), "a fresh ticket")
            assertEquals("before after", mainPy(second.syncEmpty()))
            waitUntil("synced again", probe = { room.state.value.connection }) { it == RoomConnection.Synced }
            assertTrue(shown.none { it is RoomConnection.Stopped || it is RoomConnection.Failed }, "never shown as stopped: $shown")
            assertEquals("before after", room.state.value.text)
            withContext(thread) { room.close() }
        }

    @Test
    fun `a dropped socket shows the offline banner, then syncs the edits made offline`() =
        runBlocking<Unit> {
            val collab = URI(server.collabUrl)
            CuttingProxy(collab.port).use { network ->
                val (room, _) = enterAndType("online ", "ws://127.0.0.1:${network.port}${collab.path}")
                network.cut() // the connection goes away with no close frame, and new ones are refused
                waitUntil("the offline banner", probe = { room.state.value.connection }) { it is RoomConnection.Offline }
                room.on(RoomEvent.Edit(7, 7, "offline"))
                assertEquals("online offline", room.state.value.text)
                network.restore()

                val second = server.connections.receive()
                assertEquals("online offline", mainPy(second.syncEmpty()))
                waitUntil("synced again", probe = { room.state.value.connection }) { it == RoomConnection.Synced }
                withContext(thread) { room.close() }
            }
        }

    @Test
    fun `a 5xx from the state poll is shown and the room keeps working`() =
        runBlocking<Unit> {
            gateway.failure = GatewayException.ServerFailure(503, "Service Unavailable")
            val (room, connection) = enterAndType("x")
            waitUntil("the poll's failure shown", probe = { room.state.value.refreshError }) { it == MessageKey.SERVER_FAILURE.message(503) }
            assertEquals(RoomConnection.Synced, room.state.value.connection)

            room.on(RoomEvent.Edit(1, 1, "y"))
            val received = Doc()
            waitUntil("the edit on the server", probe = {
                received.applyUpdate(updateIn(connection.nextSyncFrame()))
                received.getMap("files").getText("main.py")?.toString()
            }) { it == "xy" }
            assertNull(room.state.value.readOnly, "still editable")

            gateway.failure = null
            waitUntil("the message gone once the poll succeeds", probe = { room.state.value.refreshError }) { it == null }
            assertEquals("Kata", room.state.value.title)
            withContext(thread) { room.close() }
        }

    /** The update a y-websocket sync frame carries (sync step 2 or update: message 0, kind 1 or 2). */
    private fun updateIn(frame: ByteArray): ByteArray {
        val decoder = Lib0Decoder(frame)
        check(decoder.readVarUint() == 0L) { "not a sync message" }
        check(decoder.readVarUint() in 1L..2L) { "not an update" }
        return decoder.readVarUint8Array()
    }
}
