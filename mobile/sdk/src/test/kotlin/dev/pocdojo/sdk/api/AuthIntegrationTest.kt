package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.TestTenant
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.time.Instant
import kotlin.time.Duration.Companion.seconds

/** Sign-in, refresh-token rotation, revocation and the login throttle against the real identity service. */
@ExtendWith(BackendExtension::class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AuthIntegrationTest(private val backend: Backend) {
    private val tenant: TestTenant = backend.newTenant()

    /** A client holding [session]'s tokens with the access token already expired: its next call refreshes. */
    private fun expiredCopy(session: Session, store: SessionStore = InMemorySessionStore()): PocDojoClient {
        store.save(session.copy(accessTokenExpiresAt = Instant.EPOCH))
        return backend.client(store)
    }

    @Test
    fun `sign in, then me`() = runBlocking<Unit> {
        val user = tenant.newUser()
        val client = backend.client()
        assertEquals(AuthState.SignedOut(SignOutReason.NOT_SIGNED_IN), client.authState.value)
        client.auth.signIn(tenant.slug, user.email, user.password)
        assertEquals(AuthState.SignedIn, client.authState.value)
        val me = client.auth.me()
        assertEquals(user.email, me.email)
        assertEquals(tenant.slug, me.tenant)
        assertEquals(listOf("member"), me.roles)
    }

    @Test
    fun `wrong credentials are an InvalidGrantException and leave the client signed out`() = runBlocking<Unit> {
        val user = tenant.newUser()
        val client = backend.client()
        val error = assertThrows<InvalidGrantException> {
            runBlocking { client.auth.signIn(tenant.slug, user.email, "not-the-password") }
        }
        assertEquals(400, error.status)
        assertEquals(AuthState.SignedOut(SignOutReason.NOT_SIGNED_IN), client.authState.value)
    }

    @Test
    fun `a refresh rotates the refresh token and the old one is refused afterwards`() = runBlocking<Unit> {
        val user = tenant.newUser()
        val first = InMemorySessionStore()
        user.signedIn(first)
        val original = first.load()!!

        val store = InMemorySessionStore()
        val client = expiredCopy(original, store)
        assertEquals(user.email, client.auth.me().email)
        val rotated = store.load()!!
        assertNotEquals(original.refreshToken, rotated.refreshToken)
        assertNotEquals(original.accessToken, rotated.accessToken)
        assertTrue(rotated.accessTokenExpiresAt.isAfter(Instant.now()))

        // The rotated-out token is refused, and presenting it revoked the whole sign-in (reuse detection).
        val replay = expiredCopy(original)
        val refused = assertThrows<SignedOutException> { runBlocking { replay.auth.me() } }
        assertEquals(SignOutReason.SESSION_REVOKED, refused.reason)
        assertEquals(SignOutReason.SESSION_REVOKED, (replay.authState.value as AuthState.SignedOut).reason)

        val family = expiredCopy(rotated, store)
        assertThrows<SignedOutException> { runBlocking { family.auth.me() } }
        val state = family.authState.value as AuthState.SignedOut
        assertEquals(SignOutReason.SESSION_REVOKED, state.reason)
        assertTrue(state.detail!!.isNotBlank())
        assertNull(store.load())
    }

    @Test
    fun `after signOut the refresh token is revoked and the state says so`() = runBlocking<Unit> {
        val user = tenant.newUser()
        val store = InMemorySessionStore()
        val client = user.signedIn(store)
        val session = store.load()!!
        client.auth.signOut()
        assertEquals(AuthState.SignedOut(SignOutReason.SIGNED_OUT), client.authState.value)
        assertNull(store.load())
        assertEquals(SignOutReason.SIGNED_OUT, assertThrows<SignedOutException> { runBlocking { client.auth.me() } }.reason)

        val elsewhere = expiredCopy(session)
        assertThrows<SignedOutException> { runBlocking { elsewhere.auth.me() } }
        assertEquals(SignOutReason.SESSION_REVOKED, (elsewhere.authState.value as AuthState.SignedOut).reason)
    }

    @Test
    fun `repeated wrong passwords are throttled with 429 and Retry-After, the right one too`() = runBlocking<Unit> {
        val user = tenant.newUser()
        val client = backend.client()
        var refusals = 0
        val throttled = run {
            repeat(MAX_TRIES) {
                try {
                    client.auth.signIn(tenant.slug, user.email, "wrong-password-$it")
                } catch (e: InvalidGrantException) {
                    refusals++
                } catch (e: RateLimitedException) {
                    return@run e
                }
            }
            null
        }
        requireNotNull(throttled) { "no 429 after $MAX_TRIES wrong passwords" }
        assertTrue(refusals >= 1, "throttled before any wrong password was refused")
        assertTrue(throttled.retryAfter!! >= 1.seconds, "${throttled.retryAfter}")
        assertThrows<RateLimitedException> { runBlocking { client.auth.signIn(tenant.slug, user.email, user.password) } }
        assertEquals(AuthState.SignedOut(SignOutReason.NOT_SIGNED_IN), client.authState.value)
    }

    @Test
    fun `registration answers the same for an unknown tenant and refuses a weak password with field errors`() =
        runBlocking<Unit> {
            val client = backend.client()
            val accepted = client.auth.register(Registration("no-such-tenant", "someone@example.com", "a long enough password"))
            assertEquals("accepted", accepted.status)
            val error = assertThrows<ValidationException> {
                runBlocking { client.auth.register(Registration(tenant.slug, "someone@example.com", "short")) }
            }
            assertEquals(listOf("password"), error.fieldErrors.map { it.field }.distinct())
        }

    @Test
    fun `a wrong operator token is an UnauthorizedException`() = runBlocking<Unit> {
        val error = assertThrows<UnauthorizedException> {
            runBlocking { backend.client().tenants.create("not-the-operator-token", NewTenant("x-tenant", "X", "a@x.test", "pw")) }
        }
        assertEquals(401, error.status)
        assertEquals("unauthorized", error.problem.slug)
    }

    private companion object {
        const val MAX_TRIES = 12
    }
}
