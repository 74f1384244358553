package dev.pocdojo.sdk.realtime

import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.CuttingProxy
import dev.pocdojo.sdk.testing.NodeClient
import dev.pocdojo.sdk.testing.User
import dev.pocdojo.sdk.testing.waitUntil
import dev.pocdojo.sdk.signaling.SignalingClient
import dev.pocdojo.sdk.signaling.SignalingState
import dev.pocdojo.sdk.yjs.Doc
import dev.pocdojo.sdk.yjs.SequentialTrace
import kotlinx.coroutines.CoroutineExceptionHandler
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.put
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.time.Duration.Companion.milliseconds

/**
 * The provider against the real backend (`pocdojo dev`) beside real y-websocket clients (Node): a dojo
 * edited concurrently converges everywhere and on the server; observers' edits reach no one; a kick
 * stops the client's sockets; edits made while the network is cut merge on reconnect.
 */
@ExtendWith(BackendExtension::class)
class CollabIntegrationTest(
    private val backend: Backend,
) {
    private val api = backend.api
    private val uncaught = CopyOnWriteArrayList<Throwable>()
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineExceptionHandler { _, e -> uncaught += e })
    private val closeables = CopyOnWriteArrayList<AutoCloseable>()
    private val host: User = api.login(backend.demo)
    private val options = ProviderOptions(initialBackoff = 50.milliseconds, maxBackoff = 500.milliseconds)

    @AfterEach
    fun tearDown() {
        closeables.reversed().forEach { it.close() }
        scope.cancel()
        assertEquals(emptyList<Throwable>(), uncaught)
    }

    private fun <T : AutoCloseable> T.closing(): T = also { closeables += it }

    private fun provider(
        user: User,
        dojo: String,
        collabUrl: String = api.ticket(user, dojo).collabUrl,
    ): YWebsocketProvider =
        YWebsocketProvider(
            scope,
            collabUrl,
            dojo,
            Doc(),
            Credentials.Ticket { withContext(Dispatchers.IO) { api.ticket(user, dojo).ticket } },
            options = options,
        ).closing()

    private fun node(
        user: User,
        dojo: String,
    ): NodeClient {
        val t = api.ticket(user, dojo)
        return NodeClient.start(t.collabUrl, t.room, t.ticket).closing()
    }

    private suspend fun YWebsocketProvider.text(): String = edit { it.getMap("files").getText(FILE)?.toString() ?: "" }

    private suspend fun YWebsocketProvider.synced() = waitUntil("$room synced", probe = { state.value }) { it == ConnectionState.Synced }

    private suspend fun YWebsocketProvider.append(text: String) =
        edit {
            val t = it.getMap("files").getText(FILE)!!
            t.insert(t.length, text)
        }

    private suspend fun startDojo(): Pair<String, YWebsocketProvider> {
        val dojo = api.createDojo(host)
        val hostProvider = provider(host, dojo)
        hostProvider.connect()
        hostProvider.synced()
        hostProvider.edit { it.getMap("files").setText(FILE).insert(0, "def score(rolls):\n") }
        return dojo to hostProvider
    }

    @Test
    fun `a Kotlin client and two y-websocket clients edit one file at once and converge, on the server too`() =
        runBlocking<Unit> {
            val (dojo, ktClient) = startDojo()
            val nodes = List(2) { node(api.newMember(host, backend.demo.tenant), dojo) }
            nodes.forEach {
                it.waitSynced()
                it.waitText(FILE, "def score(rolls):\n")
            }
            coroutineScope {
                // at token boundaries (the start, or the end of a local view) so that every token stays whole
                launch {
                    repeat(25) { i ->
                        ktClient.edit { d -> d.getMap("files").getText(FILE)!!.let { t -> t.insert(if (i % 2 == 0) 0 else t.length, "k$i;") } }
                    }
                }
                nodes.forEachIndexed { n, node -> launch { repeat(25) { i -> node.insert(FILE, 0, "n$n-$i;") } } }
            }
            val converged =
                waitUntil("identical texts", probe = { listOf(ktClient.text()) + nodes.map { it.text(FILE) } }) { texts ->
                    texts.distinct().size == 1 && texts[0].split(";").size == 76
                }[0]
            for (token in (0 until 25).flatMap { listOf("k$it;", "n0-$it;", "n1-$it;") }) assertTrue(token in converged, token)
            waitUntil("the server's document", probe = { api.files(host, dojo)[FILE] }) { it == converged }

            // presence both ways: the Kotlin awareness reaches y-websocket, and y-websocket's reaches Kotlin
            val cursor = buildJsonObject {
                put("user", host.id)
                put("file", FILE)
                put("anchor", 3)
                put("head", 7)
            }
            ktClient.awareness.setLocalState(cursor)
            waitUntil("the Kotlin cursor in Node", probe = { nodes[0].command("awareness").getValue("states").jsonObject }) {
                it[ktClient.doc.clientId.toString()] == cursor
            }
            val nodeId = nodes[1].command("awareness").getValue("clientId").toString().toLong()
            nodes[1].command("setAwareness", buildJsonObject { put("state", buildJsonObject { put("user", "node") }) })
            val nodeState = buildJsonObject { put("user", "node") }
            val peers: suspend () -> Map<Long, JsonElement> = { ktClient.awareness.peers.value }
            waitUntil("the Node state ($nodeId) in Kotlin", probe = peers) { it[nodeId] == nodeState }
        }

    @Test
    fun `an editing trace replayed by the Kotlin client ends with its endContent, on the server too`() =
        runBlocking<Unit> {
            val trace = SequentialTrace.load("sveltecomponent.json.gz")
            val (dojo, client) = startDojo()
            val file = "Component.svelte"
            client.edit { it.getMap("files").setText(file).insert(0, trace.startContent) }
            // 100 of the trace's transactions per local transaction: one update each on the socket
            for (chunk in trace.txns.chunked(100)) {
                client.edit { doc ->
                    val text = doc.getMap("files").getText(file)!!
                    chunk.forEach { txn -> txn.forEach { it.applyTo(text) } }
                }
            }
            assertEquals(trace.endContent, client.edit { it.getMap("files").getText(file).toString() })
            val stored = waitUntil("the server's document", probe = { api.files(host, dojo)[file] }) { it == trace.endContent }
            assertEquals(trace.endContent, stored)
        }

    @Test
    fun `an observer's edits reach no one and are not stored`() =
        runBlocking<Unit> {
            val (dojo, hostProvider) = startDojo()
            val observerUser = api.newMember(host, backend.demo.tenant)
            api.ticket(observerUser, dojo) // joins
            api.setRole(host, dojo, observerUser, "observer")
            val observer = provider(observerUser, dojo)
            observer.connect()
            observer.synced()
            val watcher = node(api.newMember(host, backend.demo.tenant), dojo)
            watcher.waitSynced()

            observer.edit { it.getMap("files").getText(FILE)!!.insert(0, "OBSERVER;") }
            // a later frame on the same connection: once it arrived, the server has handled the edit
            observer.awareness.setLocalState(buildJsonObject { put("mark", "after the edit") })
            waitUntil("the observer's awareness at the host", probe = { hostProvider.awareness.peers.value[observer.doc.clientId] }) {
                it == buildJsonObject { put("mark", "after the edit") }
            }
            hostProvider.append("host;")
            val expected = "def score(rolls):\nhost;"
            watcher.waitText(FILE, expected)
            waitUntil("the observer receives the host's edit", probe = { observer.text() }) { "host;" in it }
            assertEquals(expected, hostProvider.text())
            assertEquals(expected, api.files(host, dojo)[FILE])
            assertTrue("OBSERVER;" in observer.text(), "the observer's own document keeps its local edit")
        }

    @Test
    fun `a kick closes the Kotlin client's sockets with 4403 and it stops reconnecting`() =
        runBlocking<Unit> {
            val (dojo, _) = startDojo()
            val member = api.newMember(host, backend.demo.tenant)
            val t = api.ticket(member, dojo)
            val provider = provider(member, dojo)
            provider.connect()
            provider.synced()
            val signaling =
                SignalingClient(scope, t.signalUrl, dojo, Credentials.Ticket { withContext(Dispatchers.IO) { api.ticket(member, dojo).ticket } })
                    .closing()
            scope.launch { signaling.incoming.collect { } }
            signaling.connect()
            waitUntil("joined the call", probe = { signaling.state.value }) { it is SignalingState.Joined }

            api.kick(host, dojo, member)
            val stopped = waitUntil("collab stopped", probe = { provider.state.value }) { it is ConnectionState.Stopped }
            assertEquals(CloseCodes.FORBIDDEN, (stopped as ConnectionState.Stopped).closeCode)
            waitUntil("the collab loop ends", probe = { provider.isRunning }) { !it }
            val signalStopped = waitUntil("signaling stopped", probe = { signaling.state.value }) { it is SignalingState.Stopped }
            assertEquals(CloseCodes.FORBIDDEN, (signalStopped as SignalingState.Stopped).closeCode)
            assertTrue(provider.state.value is ConnectionState.Stopped)
        }

    @Test
    fun `edits made while the network is cut merge on reconnect`() =
        runBlocking<Unit> {
            val (dojo, _) = startDojo()
            val member = api.newMember(host, backend.demo.tenant)
            val proxy = CuttingProxy(backend.port).closing()
            val direct = api.ticket(member, dojo).collabUrl
            val ktClient = provider(member, dojo, collabUrl = direct.replace(":${backend.port}/", ":${proxy.port}/"))
            ktClient.connect()
            ktClient.synced()
            val online = node(api.newMember(host, backend.demo.tenant), dojo)
            online.waitSynced()
            online.waitText(FILE, "def score(rolls):\n")

            proxy.cut()
            waitUntil("offline", probe = { ktClient.state.value }) { it is ConnectionState.Offline }
            ktClient.append("offline-kotlin;")
            online.insert(FILE, 0, "online-node;")
            assertFalse("online-node;" in ktClient.text())
            proxy.restore()

            val merged =
                waitUntil("merged", probe = { listOf(ktClient.text(), online.text(FILE)) }) {
                    it[0] == it[1] && "offline-kotlin;" in it[0] && "online-node;" in it[0]
                }[0]
            assertEquals("online-node;def score(rolls):\noffline-kotlin;", merged)
            waitUntil("the server's document", probe = { api.files(host, dojo)[FILE] }) { it == merged }
            assertEquals(ConnectionState.Synced, ktClient.state.value)
        }

    private companion object {
        const val FILE = "kata.py"
    }
}

