package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.http.RetryPolicy
import mockwebserver3.MockResponse
import mockwebserver3.MockWebServer
import okhttp3.OkHttpClient
import java.time.Instant
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds

/** Helpers of the MockWebServer tests: canned answers and a client whose waits are recorded, not slept. */
internal object MockApi {
    const val POC_JSON: String =
        """{"id":"p1","name":"Pix","description":null,"github_url":"https://github.com/acme/pix","language":"Go",""" +
            """"tags":["pix"],"owner_id":"u1","created_at":"2024-05-01T12:00:00.000000Z",""" +
            """"updated_at":"2024-05-02T08:30:00+00:00","something_new":{"a":1}}"""

    fun json(body: String, code: Int = 200): MockResponse =
        MockResponse.Builder().code(code).addHeader("Content-Type", "application/json").body(body).build()

    fun problem(code: Int, slug: String, detail: String, extra: String = ""): MockResponse =
        MockResponse.Builder()
            .code(code)
            .addHeader("Content-Type", "application/problem+json")
            .body("""{"type":"https://docs.pocdojo.dev/problems/$slug","title":"t","status":$code,"detail":"$detail"$extra}""")
            .build()

    fun tokens(access: String, refresh: String, expiresIn: Long = 900): MockResponse =
        json("""{"access_token":"$access","token_type":"Bearer","expires_in":$expiresIn,"refresh_token":"$refresh"}""")

    /** A transport against [server] whose retry waits are appended to [waits]. */
    fun transport(
        server: MockWebServer,
        waits: MutableList<Duration>,
        policy: RetryPolicy = fastPolicy(),
        clock: () -> Instant = Instant::now,
    ): Transport =
        Transport(
            OkHttpClient.Builder().readTimeout(5, TimeUnit.SECONDS).build(),
            server.url("/"),
            policy,
            PocDojoClient.JSON,
            Random(1),
            clock,
            sleep = { waits += it },
        )

    fun fastPolicy(): RetryPolicy = RetryPolicy(maxAttempts = 3, initialDelay = 1.milliseconds, maxDelay = 4.milliseconds)
}
