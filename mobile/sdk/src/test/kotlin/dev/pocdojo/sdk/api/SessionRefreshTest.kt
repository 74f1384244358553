package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.api.MockApi.POC_JSON
import dev.pocdojo.sdk.api.MockApi.json
import dev.pocdojo.sdk.api.MockApi.problem
import dev.pocdojo.sdk.api.MockApi.tokens
import dev.pocdojo.sdk.http.RetryPolicy
import dev.pocdojo.sdk.testing.waitUntil
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import mockwebserver3.Dispatcher
import mockwebserver3.MockResponse
import mockwebserver3.MockWebServer
import mockwebserver3.RecordedRequest
import okhttp3.OkHttpClient
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.time.Instant
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds

/** The session's refresh rules against a scripted server: once, single-flight, never in a loop. */
class SessionRefreshTest {
    private val server = MockWebServer()
    private val refreshes = AtomicInteger()
    private val authorizations = CopyOnWriteArrayList<String>()

    /** The token endpoint's answer to the n-th refresh (1-based); the API accepts only [validAccess]. */
    @Volatile
    private var refreshAnswer: (Int) -> MockResponse = { tokens("access-$it", "refresh-$it") }

    @Volatile
    private var validAccess: Set<String> = setOf("access-1")

    @BeforeEach
    fun start() {
        server.dispatcher = object : Dispatcher() {
            override fun dispatch(request: RecordedRequest): MockResponse {
                if (request.url.encodedPath == "/v1/auth/token") {
                    val n = refreshes.incrementAndGet()
                    Thread.sleep(50) // a slow refresh, so that concurrent callers pile up behind it
                    return refreshAnswer(n)
                }
                val auth = request.headers["Authorization"].orEmpty()
                authorizations += auth
                return if (auth.removePrefix("Bearer ") in validAccess) {
                    json(POC_JSON)
                } else {
                    problem(401, "unauthorized", "The access token has expired.")
                }
            }
        }
        server.start()
    }

    @AfterEach
    fun stop() {
        server.close()
    }

    private fun client(store: SessionStore, clock: () -> Instant = Instant::now): PocDojoClient =
        PocDojoClient(
            server.url("/").toString(),
            store,
            OkHttpClient.Builder().readTimeout(5, TimeUnit.SECONDS).build(),
            RetryPolicy.NONE,
            refreshBefore = 30.seconds,
            clock = clock,
        )

    private fun session(access: String, expiresIn: Long) =
        Session(access, "refresh-0", Instant.now().plusSeconds(expiresIn))

    @Test
    fun `concurrent calls with an expiring token share one refresh, and the rotated refresh token is stored`() =
        runBlocking<Unit> {
            val store = InMemorySessionStore(session("access-0", expiresIn = 10)) // within refreshBefore
            val client = client(store)
            val pocs = List(12) { async(Dispatchers.Default) { client.pocs.get("p1") } }.awaitAll()
            assertEquals(12, pocs.size)
            assertEquals(1, refreshes.get())
            assertEquals(List(12) { "Bearer access-1" }, authorizations.toList())
            assertEquals("refresh-1", store.load()?.refreshToken)
            assertEquals(AuthState.SignedIn, client.authState.value)
        }

    @Test
    fun `concurrent 401s share one refresh and each call is retried once`() = runBlocking<Unit> {
        val store = InMemorySessionStore(session("access-0", expiresIn = 600)) // looks valid, server disagrees
        val client = client(store)
        List(8) { async(Dispatchers.Default) { client.pocs.get("p1") } }.awaitAll()
        assertEquals(1, refreshes.get())
        assertEquals(8, authorizations.count { it == "Bearer access-0" })
        assertEquals(8, authorizations.count { it == "Bearer access-1" })
    }

    @Test
    fun `a 401 after a refresh is raised, not answered with another refresh`() = runBlocking<Unit> {
        validAccess = emptySet()
        val client = client(InMemorySessionStore(session("access-0", expiresIn = 600)))
        assertThrows<UnauthorizedException> { runBlocking { client.pocs.get("p1") } }
        assertEquals(1, refreshes.get())
        assertEquals(listOf("Bearer access-0", "Bearer access-1"), authorizations.toList())
        assertEquals(AuthState.SignedIn, client.authState.value)
    }

    @Test
    fun `a refused refresh signs out with the reason, clears the store and stops calling the server`() = runBlocking<Unit> {
        refreshAnswer = {
            problem(
                400,
                "invalid-grant",
                "The refresh token was already used; every session of this sign-in was revoked.",
                ""","error":"invalid_grant"""",
            )
        }
        val store = InMemorySessionStore(session("access-0", expiresIn = 5))
        val client = client(store)
        val calls = List(5) { async(Dispatchers.Default) { runCatching { client.pocs.get("p1") } } }.awaitAll()
        calls.forEach { assertTrue(it.exceptionOrNull() is SignedOutException, "$it") }
        assertEquals(1, refreshes.get())
        val state = client.authState.value as AuthState.SignedOut
        assertEquals(SignOutReason.SESSION_REVOKED, state.reason)
        assertTrue(state.detail!!.contains("already used"), state.detail)
        assertNull(store.load())

        val later = assertThrows<SignedOutException> { runBlocking { client.pocs.get("p1") } }
        assertEquals(SignOutReason.SESSION_REVOKED, later.reason)
        assertEquals(1, refreshes.get())
        assertTrue(authorizations.isEmpty(), "$authorizations")
    }

    @Test
    fun `a refresh that fails on the network keeps the session for a later try`() = runBlocking<Unit> {
        refreshAnswer = { n -> if (n == 1) problem(503, "unavailable", "x") else tokens("access-1", "refresh-1") }
        val store = InMemorySessionStore(session("access-0", expiresIn = 5))
        val client = client(store)
        assertThrows<ServerErrorException> { runBlocking { client.pocs.get("p1") } }
        assertEquals(AuthState.SignedIn, client.authState.value)
        assertEquals("refresh-0", store.load()?.refreshToken)
        client.pocs.get("p1")
        assertEquals(2, refreshes.get())
        assertEquals("refresh-1", store.load()?.refreshToken)
    }

    @Test
    fun `without a session calls fail at once with NOT_SIGNED_IN`() = runBlocking<Unit> {
        val client = client(InMemorySessionStore())
        assertEquals(AuthState.SignedOut(SignOutReason.NOT_SIGNED_IN), client.authState.value)
        val error = assertThrows<SignedOutException> { runBlocking { client.pocs.search() } }
        assertEquals(SignOutReason.NOT_SIGNED_IN, error.reason)
        assertEquals(0, server.requestCount)
    }

    @Test
    fun `cancelling the coroutine cancels the HTTP call`() = runBlocking<Unit> {
        val entered = CountDownLatch(1)
        val release = CountDownLatch(1)
        server.dispatcher = object : Dispatcher() {
            override fun dispatch(request: RecordedRequest): MockResponse {
                entered.countDown()
                release.await(10, TimeUnit.SECONDS)
                return json(POC_JSON)
            }
        }
        val http = OkHttpClient.Builder().readTimeout(30, TimeUnit.SECONDS).build()
        val client = PocDojoClient(
            server.url("/").toString(),
            InMemorySessionStore(session("access-1", 600)),
            http,
            RetryPolicy.NONE,
        )
        val call = async(Dispatchers.Default) { client.pocs.get("p1") }
        assertTrue(entered.await(5, TimeUnit.SECONDS))
        assertEquals(1, http.dispatcher.runningCallsCount())
        withTimeout(5.seconds) {
            call.cancel()
            call.join()
        }
        assertTrue(call.isCancelled)
        waitUntil("the cancelled call is no longer running") { http.dispatcher.runningCallsCount() == 0 }
        release.countDown()
    }
}
