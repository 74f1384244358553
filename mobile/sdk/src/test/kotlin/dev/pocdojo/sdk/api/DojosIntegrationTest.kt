package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.TestTenant
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith

/** Dojos, tickets, moderation and chat through the SDK against the real dojo service. */
@ExtendWith(BackendExtension::class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DojosIntegrationTest(private val backend: Backend) {
    private val tenant: TestTenant = backend.newTenant()
    private val host = tenant.newUser().signedIn()
    private val guest = tenant.newUser().signedIn()

    @Test
    fun `create, list, get and join with a ticket`() = runBlocking<Unit> {
        val poc = host.pocs.create(NewPoc("Kata", "https://github.com/acme/kata", "Python"))
        val dojo = host.dojos.create(NewDojo("Kata: bowling", pocId = poc.id, language = "Python"))
        val hostId = host.auth.me().id
        assertEquals(DojoStatus.ACTIVE, dojo.status)
        assertEquals(hostId, dojo.hostId)
        assertEquals(poc.id, dojo.pocId)
        assertFalse(dojo.randori.enabled)
        assertEquals(listOf(Triple(hostId, DojoRole.DRIVER, true)), dojo.participants.map { Triple(it.userId, it.role, it.host) })

        assertTrue(guest.dojos.list(DojoStatus.ACTIVE).items.any { it.id == dojo.id })
        val ticket = guest.dojos.ticket(dojo.id)
        assertEquals(dojo.id, ticket.room)
        assertEquals(DojoRole.NAVIGATOR, ticket.role)
        assertTrue(ticket.canEdit)
        assertEquals(backend.baseUrl.replace("http://", "ws://") + "/v1/collab", ticket.collabUrl)
        assertEquals(backend.baseUrl.replace("http://", "ws://") + "/v1/signal", ticket.signalUrl)
        assertTrue(ticket.expiresIn > 0)
        assertEquals(2, host.dojos.participants(dojo.id).size)
    }

    @Test
    fun `lobby, admit, roles, kick and end`() = runBlocking<Unit> {
        val dojo = host.dojos.create(NewDojo("Moderated", lobby = true))
        val guestId = guest.auth.me().id
        val waiting = assertThrows<ForbiddenException> { runBlocking { guest.dojos.ticket(dojo.id) } }
        assertEquals("dojo-lobby", waiting.problem.slug)
        assertEquals(ParticipantStatus.WAITING, host.dojos.participants(dojo.id).single { it.userId == guestId }.status)

        assertThrows<ForbiddenException> { runBlocking { guest.dojos.admit(dojo.id, guestId) } }
        host.dojos.admit(dojo.id, guestId)
        host.dojos.setRole(dojo.id, guestId, DojoRole.OBSERVER)
        val observer = guest.dojos.ticket(dojo.id)
        assertEquals(DojoRole.OBSERVER, observer.role)
        assertFalse(observer.canEdit)

        val locked = host.dojos.configure(dojo.id, DojoSettingsChange(locked = true, randori = RandoriChange.Every(60)))
        assertTrue(locked.settings.locked)
        assertTrue(locked.randori.enabled)
        assertEquals(60, locked.randori.intervalSeconds)
        val unlocked = host.dojos.configure(dojo.id, DojoSettingsChange(locked = false, randori = RandoriChange.Off))
        assertFalse(unlocked.randori.enabled)
        val bad = assertThrows<ValidationException> {
            runBlocking { host.dojos.configure(dojo.id, DojoSettingsChange(randori = RandoriChange.Every(1))) }
        }
        assertEquals("randori_seconds", bad.fieldErrors.single().field)
        assertThrows<ForbiddenException> { runBlocking { guest.dojos.configure(dojo.id, DojoSettingsChange(lobby = false)) } }

        host.dojos.kick(dojo.id, guestId)
        assertThrows<ForbiddenException> { runBlocking { guest.dojos.ticket(dojo.id) } }

        val ended = host.dojos.end(dojo.id)
        assertEquals(DojoStatus.ENDED, ended.status)
        assertTrue(ended.endedAt != null)
        assertEquals(emptyMap<String, String>(), ended.snapshot?.files)
        assertTrue(host.dojos.list(DojoStatus.ENDED).items.any { it.id == dojo.id })
    }

    @Test
    fun `unknown dojos are NotFoundExceptions`() = runBlocking<Unit> {
        val missing = "00000000-0000-4000-8000-000000000000"
        assertThrows<NotFoundException> { runBlocking { host.dojos.get(missing) } }
        val elsewhere = host.dojos.create(NewDojo("Private"))
        val stranger = backend.newTenant().admin.signedIn()
        assertThrows<NotFoundException> { runBlocking { stranger.dojos.ticket(elsewhere.id) } }
        assertThrows<NotFoundException> { runBlocking { stranger.chat.history(elsewhere.id) } }
    }

    @Test
    fun `chat messages are sent, paged newest first and caught up oldest first`() = runBlocking<Unit> {
        val dojo = host.dojos.create(NewDojo("Chatty"))
        guest.dojos.ticket(dojo.id)
        val sent = (1..5).map { (if (it % 2 == 0) guest else host).chat.send(dojo.id, "message $it") }
        assertEquals(guest.auth.me().id, sent[1].userId)
        assertEquals(dojo.id, sent[0].dojoId)

        val first = guest.chat.history(dojo.id, limit = 2)
        assertEquals(listOf("message 5", "message 4"), first.items.map { it.text })
        val rest = guest.chat.history(dojo.id, limit = 10, cursor = first.nextCursor)
        assertEquals(listOf("message 3", "message 2", "message 1"), rest.items.map { it.text })
        assertNull(rest.nextCursor)
        assertEquals(listOf("message 4", "message 5"), host.chat.since(dojo.id, sent[2].id).map { it.text })

        val blank = assertThrows<ValidationException> { runBlocking { host.chat.send(dojo.id, "   ") } }
        assertEquals("blank", blank.fieldErrors.single().code)
        val long = assertThrows<ValidationException> { runBlocking { host.chat.send(dojo.id, "x".repeat(2001)) } }
        assertEquals("too_long", long.fieldErrors.single().code)
    }

    @Test
    fun `the chat rate limit is a RateLimitedException with Retry-After`() = runBlocking<Unit> {
        val dojo = host.dojos.create(NewDojo("Flood"))
        val limited = run {
            repeat(MAX_MESSAGES) {
                try {
                    host.chat.send(dojo.id, "flood $it")
                } catch (e: RateLimitedException) {
                    return@run e to it
                }
            }
            null
        }
        val (error, sentBefore) = requireNotNull(limited) { "no 429 after $MAX_MESSAGES messages" }
        assertEquals(30, sentBefore)
        assertTrue(error.retryAfter?.isPositive() == true, "${error.retryAfter}")
        assertEquals(30, host.chat.history(dojo.id, limit = 100).items.size)
    }

    private companion object {
        const val MAX_MESSAGES = 40
    }
}
