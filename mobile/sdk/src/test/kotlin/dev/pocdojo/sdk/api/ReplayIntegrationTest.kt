package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.realtime.ConnectionState
import dev.pocdojo.sdk.realtime.Credentials
import dev.pocdojo.sdk.realtime.YWebsocketProvider
import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.TestTenant
import dev.pocdojo.sdk.testing.waitUntil
import dev.pocdojo.sdk.yjs.Doc
import kotlinx.coroutines.CoroutineExceptionHandler
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.CopyOnWriteArrayList

/**
 * The dojo replay calls against the real backend: two users edit a dojo through the SDK's realtime
 * client, the host ends it, then history, state and blame say what was written, when and by whom.
 */
@ExtendWith(BackendExtension::class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReplayIntegrationTest(backend: Backend) {
    private val tenant: TestTenant = backend.newTenant()
    private val host = tenant.newUser().signedIn()
    private val guest = tenant.newUser().signedIn()
    private val stranger = tenant.newUser().signedIn()
    private val uncaught = CopyOnWriteArrayList<Throwable>()
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Default + CoroutineExceptionHandler { _, e -> uncaught += e })
    private val providers = CopyOnWriteArrayList<YWebsocketProvider>()

    @AfterEach
    fun tearDown() {
        providers.forEach { it.close() }
        scope.cancel()
        assertEquals(emptyList<Throwable>(), uncaught)
    }

    private suspend fun provider(client: PocDojoClient, dojo: String): YWebsocketProvider {
        val first = client.dojos.ticket(dojo)
        val provider = YWebsocketProvider(scope, first.collabUrl, dojo, Doc(), Credentials.Ticket { client.dojos.ticket(dojo).ticket })
        providers += provider
        provider.connect()
        waitUntil("$dojo synced", probe = { provider.state.value }) { it == ConnectionState.Synced }
        return provider
    }

    private suspend fun YWebsocketProvider.text(): String = edit { it.getMap("files").getText(FILE)?.toString().orEmpty() }

    @Test
    fun `two authors edit, the dojo ends, and history, state and blame name who wrote what`() = runBlocking<Unit> {
        val hostId = host.auth.me().id
        val guestId = guest.auth.me().id
        val dojo = host.dojos.create(NewDojo("Replay kata")).id
        val hostDoc = provider(host, dojo)
        hostDoc.edit { it.getMap("files").setText(FILE).insert(0, HOST_TEXT) }
        val guestDoc = provider(guest, dojo)
        waitUntil("the host's text at the guest", probe = { guestDoc.text() }) { it == HOST_TEXT }
        guestDoc.edit { it.getMap("files").getText(FILE)!!.let { t -> t.insert(t.length, GUEST_TEXT) } }
        waitUntil("the guest's text at the host", probe = { hostDoc.text() }) { it == HOST_TEXT + GUEST_TEXT }
        host.dojos.end(dojo)

        val history = host.dojos.history(dojo)
        assertEquals(HistoryMode.ON, history.history)
        assertTrue(history.endedAt != null)
        assertEquals(listOf(FILE), history.files)
        assertEquals(setOf(hostId, guestId), history.authors.map { it.userId }.toSet())
        history.authors.forEach { assertTrue(Regex("#[0-9A-Fa-f]{6}").matches(it.color), it.color) }
        assertNotEquals(history.authors[0].color, history.authors[1].color)
        val hostEdit = history.edits.first { it.userId == hostId }
        val guestEdit = history.edits.first { it.userId == guestId }
        assertTrue(hostEdit.toMs <= guestEdit.fromMs, "the host wrote first")

        val end = host.dojos.state(dojo)
        assertEquals(listOf(FileText(FILE, HOST_TEXT + GUEST_TEXT)), end.files)
        // between the two authors' edits (the guest wrote after the host's text had reached it)
        val middle = HistoryInstant.SinceStart((hostEdit.toMs + guestEdit.fromMs) / 2)
        val between = guest.dojos.state(dojo, middle)
        assertEquals(listOf(FileText(FILE, HOST_TEXT)), between.files, "only the host's text between the two edits")

        val blame = guest.dojos.blame(dojo).files.single()
        val text = HOST_TEXT + GUEST_TEXT
        assertEquals(text.length, blame.length, "UTF-16 units: the emoji counts two")
        assertEquals(listOf(BlameRange(0, HOST_TEXT.length, hostId), BlameRange(HOST_TEXT.length, text.length, guestId)), blame.ranges)
        assertEquals(guestId, blame.rangeAt(text.indexOf("👍") + 1)?.userId)
        assertEquals(hostId, blame.rangeAt(text.indexOf("ç"))?.userId)

        val diff = host.dojos.diff(dojo, middle, HistoryInstant.At(end.at))
        assertEquals(DiffStatus.MODIFIED, diff.files.single().status)
        assertTrue("+$GUEST_TEXT".trimEnd() in diff.files.single().unified, diff.files.single().unified)

        assertThrows<NotFoundException> { runBlocking { stranger.dojos.history(dojo) } }
        assertThrows<NotFoundException> { runBlocking { stranger.dojos.blame(dojo) } }
    }

    private companion object {
        const val FILE = "kata.py"
        const val HOST_TEXT = "def soma(a, b):  # soma à mão, sem exceção\n"
        const val GUEST_TEXT = "    return a + b  # 👍\n"
    }
}
