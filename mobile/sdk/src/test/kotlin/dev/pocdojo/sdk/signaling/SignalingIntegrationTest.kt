package dev.pocdojo.sdk.signaling

import dev.pocdojo.sdk.realtime.Credentials
import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.User
import dev.pocdojo.sdk.testing.waitUntil
import kotlinx.coroutines.CoroutineExceptionHandler
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.seconds

/** Two Kotlin signaling clients in one dojo call relay an offer, an answer and ICE through the server. */
@ExtendWith(BackendExtension::class)
class SignalingIntegrationTest(
    private val backend: Backend,
) {
    private val api = backend.api
    private val uncaught = CopyOnWriteArrayList<Throwable>()
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineExceptionHandler { _, e -> uncaught += e })

    @AfterEach
    fun tearDown() {
        scope.cancel()
        assertEquals(emptyList<Throwable>(), uncaught)
    }

    private class Joined(
        val client: SignalingClient,
        val inbox: Channel<ServerMessage>,
    ) {
        val peerId: String get() = (client.state.value as SignalingState.Joined).peerId

        /** The next message of type [T], skipping others (dojo state, chat...). */
        suspend inline fun <reified T : ServerMessage> next(): T =
            withTimeout(20.seconds) {
                var m = inbox.receive()
                while (m !is T) m = inbox.receive()
                m
            }
    }

    private suspend fun join(
        user: User,
        dojo: String,
    ): Joined {
        val t = api.ticket(user, dojo)
        val client = SignalingClient(scope, t.signalUrl, dojo, Credentials.Ticket { withContext(Dispatchers.IO) { api.ticket(user, dojo).ticket } })
        val inbox = Channel<ServerMessage>(Channel.UNLIMITED)
        scope.launch { client.incoming.collect { inbox.send(it) } }
        client.connect()
        waitUntil("joined", probe = { client.state.value }) { it is SignalingState.Joined }
        return Joined(client, inbox)
    }

    @Test
    fun `two clients join a dojo call and relay offer, answer and ICE`() =
        runBlocking<Unit> {
            val host = api.login(backend.demo)
            val dojo = api.createDojo(host)
            val a = join(host, dojo)
            val b = join(api.newMember(host, backend.demo.tenant), dojo)
            assertTrue(a.peerId in b.client.peers.value, "the newcomer's welcome lists the peer already there")
            waitUntil("a sees b", probe = { a.client.peers.value }) { b.peerId in it }

            assertTrue(b.client.offer(a.peerId, "v=0\r\noffer"))
            assertEquals(ServerMessage.Offer(b.peerId, "v=0\r\noffer"), a.next<ServerMessage.Offer>())
            assertTrue(a.client.answer(b.peerId, "v=0\r\nanswer"))
            assertEquals(ServerMessage.Answer(a.peerId, "v=0\r\nanswer"), b.next<ServerMessage.Answer>())
            val candidate = IceCandidate("candidate:1 1 udp 2130706431 192.0.2.2 41562 typ host", "0", 0)
            b.client.candidate(a.peerId, candidate)
            assertEquals(ServerMessage.Candidate(b.peerId, candidate), a.next<ServerMessage.Candidate>())
            b.client.candidate(a.peerId, null)
            assertEquals(ServerMessage.Candidate(b.peerId, null), a.next<ServerMessage.Candidate>())

            b.client.setMedia(audio = true)
            waitUntil("b's microphone on at a", probe = { a.client.peers.value[b.peerId]?.audio }) { it == true }
            b.client.refreshIce()
            b.next<ServerMessage.IceServers>()
            b.client.offer("nobody", "v=0")
            assertEquals("unknown_peer", b.next<ServerMessage.Error>().code)

            b.client.leave()
            assertEquals(SignalingState.Disconnected, b.client.state.value)
            assertEquals("left", a.next<ServerMessage.PeerLeft>().reason)
            a.client.close()
        }
}
