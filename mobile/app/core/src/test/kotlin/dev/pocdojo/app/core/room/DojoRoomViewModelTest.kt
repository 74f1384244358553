package dev.pocdojo.app.core.room

import dev.pocdojo.app.core.testing.FakeRoomGateway
import dev.pocdojo.app.core.testing.FakeRoomLink
import dev.pocdojo.app.core.testing.participant
import dev.pocdojo.sdk.realtime.ConnectionState
import dev.pocdojo.sdk.realtime.ReadOnly
import dev.pocdojo.sdk.yjs.Doc
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.currentTime
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.Json
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import kotlin.time.Duration.Companion.seconds

@OptIn(ExperimentalCoroutinesApi::class)
class DojoRoomViewModelTest {
    /** The other participant's document: what the server relays between the two. */
    private val peer = Doc()
    private val link = FakeRoomLink()
    private val gateway =
        FakeRoomGateway(
            RoomInfo("Kata", "host", listOf(participant("host", host = true), participant("me"), participant("watcher", "observer")), false, false, false),
            mutableListOf(ChatLine("m1", "host", "welcome", 1)),
        )

    init {
        peer.transact { peer.getMap("files").setText("main.py").insert(0, "print(1)\n") }
        link.receive(peer.encodeStateAsUpdate())
    }

    private fun TestScope.room(me: String = "me"): DojoRoomViewModel {
        val viewModel = DojoRoomViewModel("dojo-1", me, "Name of $me", link, gateway, backgroundScope, clock = { currentTime })
        runCurrent()
        return viewModel
    }

    private fun relayToPeer() {
        link.sent.forEach { peer.applyUpdate(it) }
        link.sent.clear()
    }

    @Test
    fun `opens the first file and edits become Y-Text changes the peer receives`() =
        runTest {
            val viewModel = room()
            assertEquals(listOf("main.py"), viewModel.state.value.files)
            assertEquals("print(1)\n", viewModel.state.value.text)
            assertEquals(RoomConnection.Synced, viewModel.state.value.connection)
            viewModel.onEvent(RoomEvent.Edit(6, 7, "42")) // replace "1"
            viewModel.onEvent(RoomEvent.Edit(0, 0, "# hi\n"))
            assertEquals("# hi\nprint(42)\n", viewModel.state.value.text)
            assertEquals(Selection(5, 5), viewModel.state.value.selection)
            relayToPeer()
            assertEquals("# hi\nprint(42)\n", peer.getMap("files").getText("main.py").toString())
        }

    @Test
    fun `remote changes update the text and keep the local cursor on its character`() =
        runTest {
            val viewModel = room()
            viewModel.onEvent(RoomEvent.MoveCursor(6, 7)) // "1" selected
            val before = peer.encodeStateVector()
            peer.transact { peer.getMap("files").getText("main.py")!!.insert(0, "import os\n") }
            peer.transact { peer.getMap("files").setText("util.py").insert(0, "x = 1") }
            link.receive(peer.encodeStateAsUpdate(before))
            val state = viewModel.state.value
            assertEquals("import os\nprint(1)\n", state.text)
            assertEquals(Selection(16, 17), state.selection)
            assertEquals(listOf("main.py", "util.py"), state.files)
            viewModel.onEvent(RoomEvent.OpenFile("util.py"))
            assertEquals("x = 1", viewModel.state.value.text)
        }

    @Test
    fun `an observer's edits are refused with the reason and change nothing`() =
        runTest {
            val viewModel = room(me = "watcher")
            assertEquals(ReadOnlyReason.Observer, viewModel.state.value.readOnly)
            viewModel.onEvent(RoomEvent.Edit(0, 0, "x"))
            assertEquals(ReadOnlyReason.Observer, viewModel.state.value.refused)
            assertEquals("print(1)\n", viewModel.state.value.text)
            assertTrue(link.sent.isEmpty())
            viewModel.onEvent(RoomEvent.Dismiss)
            assertNull(viewModel.state.value.refused)
        }

    @Test
    fun `the server's permission-denied makes the editor read-only`() =
        runTest {
            val viewModel = room()
            assertTrue(viewModel.state.value.canEdit)
            link.readOnly.value = ReadOnly("not the driver")
            runCurrent()
            assertEquals(ReadOnlyReason.Server("not the driver"), viewModel.state.value.readOnly)
            viewModel.onEvent(RoomEvent.Edit(0, 0, "x"))
            assertEquals("print(1)\n", link.doc.getMap("files").getText("main.py").toString())
        }

    @Test
    fun `offline edits stay in the document and the state says offline`() =
        runTest {
            val viewModel = room()
            link.connection.value = ConnectionState.Offline("network down", 4.seconds)
            runCurrent()
            assertEquals(RoomConnection.Offline(4_000), viewModel.state.value.connection)
            assertTrue(viewModel.state.value.offline)
            viewModel.onEvent(RoomEvent.Edit(0, 0, "# offline\n"))
            assertEquals("# offline\nprint(1)\n", link.doc.getMap("files").getText("main.py").toString())
            link.connection.value = ConnectionState.Synced
            runCurrent()
            assertFalse(viewModel.state.value.offline)
        }

    @Test
    fun `kicked or ended stops the room with the reason`() =
        runTest {
            val viewModel = room()
            link.connection.value = ConnectionState.Stopped(4403, "removed by the host")
            runCurrent()
            assertEquals(RoomConnection.Stopped(StopReason.KICKED, 4403, "removed by the host"), viewModel.state.value.connection)
            assertEquals(ReadOnlyReason.Closed, viewModel.state.value.readOnly)
            link.connection.value = ConnectionState.Stopped(4404, "ended")
            runCurrent()
            assertEquals(StopReason.ENDED, (viewModel.state.value.connection as RoomConnection.Stopped).reason)
        }

    @Test
    fun `remote cursors in the open file are listed with their colours, and mine is published`() =
        runTest {
            val viewModel = room()
            link.peers.value =
                mapOf(
                    link.clientId to Json.parseToJsonElement("""{"user":{"id":"me"},"cursor":{"file":"main.py","anchor":0,"head":0}}"""),
                    7L to Json.parseToJsonElement("""{"user":{"id":"host","name":"Ana","color":"#112233"},"cursor":{"file":"main.py","anchor":2,"head":5}}"""),
                    8L to Json.parseToJsonElement("""{"user":{"id":"x","name":"Bo"},"cursor":{"file":"other.py","anchor":1,"head":1}}"""),
                    9L to Json.parseToJsonElement("""{"user":{"name":"no cursor"}}"""),
                )
            runCurrent()
            assertEquals(listOf(RemoteCursor(7, "host", "Ana", "#112233", Selection(2, 5))), viewModel.state.value.remoteCursors)
            viewModel.onEvent(RoomEvent.MoveCursor(3, 4))
            val cursor = (link.published as JsonObject)["cursor"]!!.jsonObject
            assertEquals("main.py", cursor["file"]!!.jsonPrimitive.content)
            assertEquals("4", cursor["head"]!!.jsonPrimitive.content)
        }

    @Test
    fun `randori shows the driver and the countdown, and only the driver edits`() =
        runTest {
            gateway.info = gateway.info.copy(randoriDriverId = "host", nextRotationAtMillis = 10_000)
            val viewModel = room()
            assertEquals(Randori("host", "Name of host", 10), viewModel.state.value.randori)
            assertEquals(ReadOnlyReason.NotDriver("Name of host"), viewModel.state.value.readOnly)
            advanceTimeBy(3_001)
            assertEquals(7L, viewModel.state.value.randori?.secondsLeft)
            gateway.info = gateway.info.copy(randoriDriverId = "me", nextRotationAtMillis = 20_000)
            advanceTimeBy(5_000)
            assertNull(viewModel.state.value.readOnly)
        }

    @Test
    fun `chat shows the history, new messages and what I send`() =
        runTest {
            val viewModel = room()
            assertEquals(listOf("welcome"), viewModel.state.value.chat.map { it.text })
            gateway.messages += ChatLine("m2", "host", "second", 2)
            viewModel.onEvent(RoomEvent.SendChat("  hello  "))
            runCurrent()
            advanceTimeBy(5_001)
            assertEquals(listOf("welcome", "second", "hello"), viewModel.state.value.chat.map { it.text })
        }

    @Test
    fun `the host's controls change the dojo and a refusal is shown`() =
        runTest {
            val host = room(me = "host")
            host.onEvent(RoomEvent.Host(HostAction.SetRole("me", "observer")))
            host.onEvent(RoomEvent.Host(HostAction.Lock(true)))
            runCurrent()
            assertEquals("observer", host.state.value.participants.first { it.userId == "me" }.role)
            assertTrue(host.state.value.locked)

            gateway.failure = dev.pocdojo.app.core.gateway.GatewayException.Forbidden("not the host", "dojo-host-only")
            host.onEvent(RoomEvent.Host(HostAction.Kick("watcher")))
            runCurrent()
            assertTrue(host.state.value.error != null)
        }

    @Test
    fun `a participant who is not the host sends no host action`() =
        runTest {
            val viewModel = room()
            viewModel.onEvent(RoomEvent.Host(HostAction.Kick("host")))
            runCurrent()
            assertTrue(gateway.hostActions.isEmpty())
        }
}
