package dev.pocdojo.app.core.room

import dev.pocdojo.app.core.gateway.Credentials
import dev.pocdojo.app.core.gateway.DojoDraft
import dev.pocdojo.app.core.gateway.ServerUrl
import dev.pocdojo.app.core.sdk.SdkBackend
import dev.pocdojo.app.core.sdk.SdkBackendIntegrationTest.MapStore
import dev.pocdojo.app.core.sdk.StoredSession
import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.Login
import dev.pocdojo.sdk.testing.NodeClient
import dev.pocdojo.sdk.testing.waitUntil
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.Executors

/** The room's view-model over the SDK's provider and a y-websocket client in Node, through the real backend. */
@ExtendWith(BackendExtension::class)
class DojoRoomIntegrationTest(private val backend: Backend) {
    @Test
    fun `the view-model and a y-websocket client edit the same file and converge`() = runBlocking<Unit> {
        val tenant = backend.newTenant()
        val hostUser = tenant.newUser()
        val host = SdkBackend(StoredSession(MapStore()))
        host.signIn(Credentials(ServerUrl(backend.baseUrl), hostUser.tenant, hostUser.email, hostUser.password))
        val dojo = host.create(DojoDraft("Room"))
        val member = tenant.newUser()
        val memberTicket = backend.api.ticket(backend.api.login(Login(member.tenant, member.email, member.password)), dojo.id)

        // the document's thread, as Android's main thread would be
        val executor = Executors.newSingleThreadExecutor()
        val thread = executor.asCoroutineDispatcher()
        val scope = CoroutineScope(SupervisorJob() + thread)
        val node = NodeClient.start(memberTicket.collabUrl, memberTicket.room, memberTicket.ticket)
        try {
            val entry = host.enter(dojo.id, scope, thread)
            val room = withContext(thread) { DojoRoomViewModel(dojo.id, entry.me, entry.myName, entry.link, entry.gateway, scope) }
            waitUntil("synced", probe = { room.state.value.connection }) { it == RoomConnection.Synced }
            withContext(thread) {
                room.onEvent(RoomEvent.NewFile("main.py"))
                room.onEvent(RoomEvent.Edit(0, 0, "print(1)\n"))
                room.onEvent(RoomEvent.Edit(6, 7, "42"))
            }
            node.waitSynced()
            node.waitText("main.py", "print(42)\n")
            node.insert("main.py", 0, "# node\n")
            waitUntil("the Node edit in the view-model", probe = { room.state.value.text }) { it == "# node\nprint(42)\n" }
            assertEquals(listOf("main.py"), room.state.value.files)
            // the local caret (after "42") stays on its character when text arrives before it
            assertEquals(Selection(15, 15), room.state.value.selection)
            val participants = waitUntil("the participants", probe = { room.state.value.participants }) { people -> people.any { it.userId == entry.me } }
            assertEquals(true, participants.first { it.userId == entry.me }.host)
            withContext(thread) { room.close() }
        } finally {
            node.close()
            scope.cancel()
            executor.shutdownNow()
        }
    }
}
