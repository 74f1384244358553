package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.api.MockApi.json
import dev.pocdojo.sdk.api.MockApi.problem
import dev.pocdojo.sdk.http.RetryPolicy
import kotlinx.coroutines.runBlocking
import mockwebserver3.MockResponse
import mockwebserver3.MockWebServer
import mockwebserver3.SocketEffect
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.time.Instant
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/** Which requests are retried, when, and how long the client waits (recorded instead of slept). */
class TransportRetryTest {
    private val server = MockWebServer()
    private val waits = mutableListOf<Duration>()
    private lateinit var transport: Transport

    @BeforeEach
    fun start() {
        server.start()
        transport = MockApi.transport(server, waits)
    }

    @AfterEach
    fun stop() {
        server.close()
    }

    private fun get(): Request = Request.Builder().url(server.url("/v1/pocs")).build()

    private fun post(idempotencyKey: String? = null): Request =
        Request.Builder().url(server.url("/v1/pocs")).post("{}".toRequestBody("application/json".toMediaType())).apply {
            idempotencyKey?.let { header("Idempotency-Key", it) }
        }.build()

    private fun dropped(): MockResponse = MockResponse.Builder().onResponseStart(SocketEffect.CloseSocket()).build()

    @Test
    fun `a GET is retried after 502, 503 and 504 with growing backoff`() = runBlocking<Unit> {
        server.enqueue(problem(502, "bad-gateway", "x"))
        server.enqueue(problem(503, "unavailable", "x"))
        server.enqueue(json("{}"))
        assertEquals(200, transport.send(get()).status)
        assertEquals(3, server.requestCount)
        assertEquals(2, waits.size)
        assertTrue(waits[1] >= waits[0] || waits[1] * 2 >= MockApi.fastPolicy().initialDelay * 2, "$waits")
    }

    @Test
    fun `a GET is retried after the connection dropped`() = runBlocking<Unit> {
        server.enqueue(dropped())
        server.enqueue(json("{}"))
        assertEquals(200, transport.send(get()).status)
        assertEquals(2, server.requestCount)
        assertEquals(1, waits.size)
    }

    @Test
    fun `retries stop after maxAttempts and the last error is raised`() = runBlocking<Unit> {
        repeat(3) { server.enqueue(problem(503, "unavailable", "down for maintenance")) }
        server.enqueue(json("{}"))
        val error = assertThrows<ServerErrorException> { runBlocking { transport.send(get()) } }
        assertEquals(503, error.status)
        assertEquals("down for maintenance", error.problem.detail)
        assertEquals(3, server.requestCount)
    }

    @Test
    fun `a POST is never retried, not after 503 nor after a dropped connection`() = runBlocking<Unit> {
        server.enqueue(problem(503, "unavailable", "x"))
        assertThrows<ServerErrorException> { runBlocking { transport.send(post()) } }
        assertEquals(1, server.requestCount)

        server.enqueue(dropped())
        server.enqueue(json("{}"))
        assertThrows<NetworkException> { runBlocking { transport.send(post()) } }
        assertEquals(2, server.requestCount)
        assertTrue(waits.isEmpty(), "$waits")
    }

    @Test
    fun `a POST with an idempotency key is retried`() = runBlocking<Unit> {
        server.enqueue(dropped())
        server.enqueue(json("{}"))
        assertEquals(200, transport.send(post(idempotencyKey = "k-1")).status)
        assertEquals(2, server.requestCount)
    }

    @Test
    fun `429 waits exactly Retry-After before retrying an idempotent request`() = runBlocking<Unit> {
        server.enqueue(MockResponse.Builder().code(429).addHeader("Retry-After", "2").build())
        server.enqueue(json("{}"))
        assertEquals(200, transport.send(get()).status)
        assertEquals(listOf(2.seconds), waits)
    }

    @Test
    fun `Retry-After as an HTTP date is the time left until then`() = runBlocking<Unit> {
        val now = Instant.parse("2026-03-01T12:00:00Z")
        val dated = MockApi.transport(server, waits, clock = { now })
        server.enqueue(MockResponse.Builder().code(503).addHeader("Retry-After", "Sun, 01 Mar 2026 12:00:03 GMT").build())
        server.enqueue(json("{}"))
        assertEquals(200, dated.send(get()).status)
        assertEquals(listOf(3.seconds), waits)
    }

    @Test
    fun `429 asking for more than maxRetryAfter is raised with the wait, not retried`() = runBlocking<Unit> {
        server.enqueue(
            MockResponse.Builder().code(429).addHeader("Retry-After", "120")
                .addHeader("Content-Type", "application/problem+json")
                .body("""{"title":"Too many requests","status":429,"detail":"slow down","retry_after":120}""").build(),
        )
        val error = assertThrows<RateLimitedException> { runBlocking { transport.send(get()) } }
        assertEquals(120.seconds, error.retryAfter)
        assertEquals(1, server.requestCount)
        assertTrue(waits.isEmpty())
    }

    @Test
    fun `429 on a POST is raised with Retry-After`() = runBlocking<Unit> {
        server.enqueue(MockResponse.Builder().code(429).addHeader("Retry-After", "30").build())
        val error = assertThrows<RateLimitedException> { runBlocking { transport.send(post()) } }
        assertEquals(30.seconds, error.retryAfter)
        assertEquals(1, server.requestCount)
    }

    @Test
    fun `client errors are not retried and map to their exceptions`() = runBlocking<Unit> {
        val cases = listOf(
            problem(400, "bad-request", "x") to BadRequestException::class,
            problem(400, "invalid-grant", "x", ""","error":"invalid_grant"""") to InvalidGrantException::class,
            problem(401, "unauthorized", "x") to UnauthorizedException::class,
            problem(403, "dojo-lobby", "wait") to ForbiddenException::class,
            problem(404, "not-found", "x") to NotFoundException::class,
            problem(409, "conflict", "x", ""","existing_poc":{"id":"p9","name":"n","github_url":"u"}""") to
                ConflictException::class,
            problem(413, "payload-too-large", "x") to ClientErrorException::class,
            problem(422, "validation", "x") to ValidationException::class,
            problem(500, "internal", "x") to ServerErrorException::class,
        )
        for ((response, type) in cases) {
            server.enqueue(response)
            val before = server.requestCount
            val error = assertThrows<HttpException> { runBlocking { transport.send(get()) } }
            assertEquals(type, error::class, "${response.code}")
            assertEquals(before + 1, server.requestCount, "${response.code} was retried")
        }
        assertTrue(waits.isEmpty())
    }

    @Test
    fun `problem details are parsed with field errors and extensions`() = runBlocking<Unit> {
        server.enqueue(
            problem(
                422,
                "validation",
                "github_url: only GitHub",
                ""","errors":[{"field":"github_url","code":"unsupported_host","message":"only GitHub"},""" +
                    """{"field":"tags.2","code":"too_long","message":"at most 40"}]""",
            ),
        )
        val error = assertThrows<ValidationException> { runBlocking { transport.send(get()) } }
        assertEquals(
            listOf(
                FieldError("github_url", "unsupported_host", "only GitHub"),
                FieldError("tags.2", "too_long", "at most 40"),
            ),
            error.fieldErrors,
        )
        assertEquals("validation", error.problem.slug)
        assertEquals(listOf("unsupported_host"), error.errorsFor("github_url").map { it.code })

        server.enqueue(problem(409, "conflict", "taken", ""","existing_poc":{"id":"p9"}"""))
        assertEquals("p9", assertThrows<ConflictException> { runBlocking { transport.send(get()) } }.existingPocId)

        server.enqueue(MockResponse.Builder().code(502).body("<html>bad gateway</html>").build())
        val noRetry = MockApi.transport(server, waits, RetryPolicy.NONE)
        val gateway = assertThrows<ServerErrorException> { runBlocking { noRetry.send(get()) } }
        assertEquals(502, gateway.status)
        assertEquals("<html>bad gateway</html>", gateway.problem.detail)
    }
}
