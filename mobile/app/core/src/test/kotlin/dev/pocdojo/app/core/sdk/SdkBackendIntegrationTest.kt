package dev.pocdojo.app.core.sdk

import dev.pocdojo.app.core.gateway.Credentials
import dev.pocdojo.app.core.gateway.DojoDraft
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.PocChanges
import dev.pocdojo.app.core.gateway.PocDraft
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.ServerUrl
import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.TestTenant
import dev.pocdojo.sdk.testing.TestUser
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.net.ServerSocket
import java.util.concurrent.ConcurrentHashMap

/** The gateways bound to the SDK, against the real backend (the SDK's harness: one `pocdojo dev` per run). */
@ExtendWith(BackendExtension::class)
class SdkBackendIntegrationTest(private val backend: Backend) {
    private val tenant: TestTenant = backend.newTenant()

    private fun credentials(user: TestUser, password: String = user.password) =
        Credentials(ServerUrl(backend.baseUrl), user.tenant, user.email, password)

    private fun signedIn(user: TestUser, device: MapStore = MapStore()): SdkBackend =
        SdkBackend(StoredSession(device)).also { runBlocking { it.signIn(credentials(user)) } }

    @Test
    fun `sign-in is kept on the device and a restarted app is still signed in`() = runBlocking<Unit> {
        val user = tenant.newUser()
        val device = MapStore()
        val first = SdkBackend(StoredSession(device))
        assertFalse(first.signedIn)
        assertThrows<GatewayException.SignedOut> { runBlocking { first.search(PocQuery(), null, 10) } }
        assertThrows<GatewayException.Rejected> { runBlocking { first.signIn(credentials(user, "not-the-password")) } }
        assertTrue(device.values.isEmpty(), "a refused sign-in stores nothing: ${device.values.keys}")

        val account = first.signIn(credentials(user))
        assertEquals(user.email, account.email)
        assertEquals(tenant.slug, account.tenant)
        assertTrue(first.signedIn)
        assertEquals(backend.baseUrl, device.values["session.server"])

        val restarted = SdkBackend(StoredSession(MapStore(device.values)))
        assertTrue(restarted.signedIn)
        restarted.create(PocDraft("Kept", "https://github.com/acme/kept", "go", emptyList(), ""))
        assertEquals(listOf("Kept"), restarted.search(PocQuery(), null, 10).items.map { it.name })
    }

    @Test
    fun `sign-out revokes the sign-in on the server and forgets it on the device`() = runBlocking<Unit> {
        val device = MapStore()
        val app = signedIn(tenant.newUser(), device)
        val before = device.values.toMap()
        assertNotNull(before["session.refresh_token"])

        app.signOut()
        assertFalse(app.signedIn)
        assertNull(device.values["session.refresh_token"], "the device forgot the session: ${device.values.keys}")
        assertNull(device.values["session.access_token"])
        assertFalse(SdkBackend(StoredSession(MapStore(device.values))).signedIn, "a restarted app opens on sign-in")
        assertThrows<GatewayException.SignedOut> { runBlocking { app.search(PocQuery(), null, 10) } }

        // the old tokens, kept elsewhere, with the access token expired: the server refuses their refresh
        val copy = MapStore(before + ("session.access_expires_at_ms" to "0"))
        val stale = SdkBackend(StoredSession(copy))
        assertThrows<GatewayException.SignedOut> { runBlocking { stale.search(PocQuery(), null, 10) } }
        assertFalse(stale.signedIn)
        assertNull(copy.values["session.refresh_token"])
    }

    @Test
    fun `POC create, edit, delete map the server's refusals to the app's failures`() = runBlocking<Unit> {
        val owner = signedIn(tenant.newUser())
        val invalid = assertThrows<GatewayException.Invalid> {
            runBlocking { owner.create(PocDraft("Ok", "https://gitlab.com/acme/x", "Klingon", emptyList(), "")) }
        }
        assertEquals(setOf("github_url", "language"), invalid.fieldErrors.map { it.field }.toSet())

        val poc = owner.create(PocDraft("Checkout", "https://github.com/acme/checkout", "Kotlin", listOf("Pix"), "first"))
        assertEquals("Kotlin", poc.language)
        val conflict = assertThrows<GatewayException.Conflict> {
            runBlocking { owner.create(PocDraft("Again", "https://github.com/acme/checkout", "go", emptyList(), "")) }
        }
        assertEquals(poc.id, conflict.existingPocId)

        val edited = owner.update(poc.id, PocChanges(name = "Checkout v2", description = ""))
        assertEquals("Checkout v2", edited.name)
        assertEquals("", edited.description)
        assertEquals(edited, owner.get(poc.id))
        assertEquals(listOf(poc.id), owner.search(PocQuery(text = "checkout", tags = setOf("pix")), null, 10).items.map { it.id })

        val colleague = signedIn(tenant.newUser())
        assertThrows<GatewayException.Forbidden> { runBlocking { colleague.delete(poc.id) } }
        owner.delete(poc.id)
        assertThrows<GatewayException.NotFound> { runBlocking { owner.get(poc.id) } }
    }

    @Test
    fun `throttled sign-ins are RateLimited with the wait`() = runBlocking<Unit> {
        val user = tenant.newUser()
        val app = SdkBackend(StoredSession(MapStore()))
        val throttled = run {
            repeat(MAX_TRIES) {
                try {
                    app.signIn(credentials(user, "wrong-password-$it"))
                } catch (refused: GatewayException.Rejected) {
                    assertNotNull(refused.message)
                } catch (limited: GatewayException.RateLimited) {
                    return@run limited
                }
            }
            null
        }
        assertNotNull(throttled, "no RateLimited after $MAX_TRIES wrong passwords")
        assertTrue(throttled!!.retryAfterSeconds!! >= 1, "${throttled.retryAfterSeconds}")
    }

    @Test
    fun `a server that does not answer is Unreachable and a malformed address is a server field error`() =
        runBlocking<Unit> {
            val user = tenant.newUser()
            val closedPort = ServerSocket(0).use { it.localPort }
            val app = SdkBackend(StoredSession(MapStore()))
            assertThrows<GatewayException.Unreachable> {
                runBlocking { app.signIn(Credentials(ServerUrl("http://127.0.0.1:$closedPort"), user.tenant, user.email, user.password)) }
            }
            val invalid = assertThrows<GatewayException.Invalid> {
                runBlocking { app.signIn(Credentials(ServerUrl("not a url"), user.tenant, user.email, user.password)) }
            }
            assertEquals("server", invalid.fieldErrors.single().field)
        }

    @Test
    fun `dojos are created, listed while active and joined with their participants`() = runBlocking<Unit> {
        val host = signedIn(tenant.newUser())
        val poc = host.create(PocDraft("Kata", "https://github.com/acme/kata", "python", emptyList(), ""))
        val dojo = host.create(DojoDraft("Friday kata", poc.id))
        assertEquals(poc.id, dojo.pocId)
        assertTrue(dojo.active)
        assertEquals(listOf(dojo.id), host.recent(null, 20).items.map { it.id })

        val guest = tenant.newUser()
        val joined = signedIn(guest).join(dojo.id)
        assertEquals("Friday kata", joined.dojo.title)
        assertTrue(joined.room.isNotEmpty())
        assertEquals(2, joined.dojo.participants.size, "${joined.dojo.participants}")
        assertEquals(1, joined.dojo.participants.count { it.host })
        assertNull(joined.dojo.participants.firstOrNull { it.waiting })
        assertThrows<GatewayException.NotFound> { runBlocking { host.join("00000000-0000-0000-0000-000000000000") } }
    }

    /** The device's preferences, in memory. */
    class MapStore(initial: Map<String, String> = emptyMap()) : KeyValueStore {
        val values: MutableMap<String, String> = ConcurrentHashMap(initial)

        override fun get(key: String): String? = values[key]

        override fun put(entries: Map<String, String?>) {
            entries.forEach { (key, value) -> if (value == null) values.remove(key) else values[key] = value }
        }
    }

    private companion object {
        const val MAX_TRIES = 12
    }
}
