package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.api.MockApi.json
import dev.pocdojo.sdk.http.RetryPolicy
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonObject
import mockwebserver3.MockResponse
import mockwebserver3.MockWebServer
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.ByteArrayOutputStream
import java.nio.file.Files
import java.nio.file.Path
import java.time.Instant

/** What the reports client sends and how it follows a download's redirect, against a scripted server. */
class ReportsRequestTest {
    private val server = MockWebServer()
    private lateinit var client: PocDojoClient

    @BeforeEach
    fun start() {
        server.start()
        val session = Session("access", "refresh", Instant.now().plusSeconds(600))
        client = PocDojoClient(server.url("/api/").toString(), InMemorySessionStore(session), retryPolicy = RetryPolicy.NONE)
    }

    @AfterEach
    fun stop() {
        server.close()
    }

    @Test
    fun `create sends the key and the search's filters under their API names`() = runBlocking<Unit> {
        server.enqueue(json(REPORT_JSON, 202))
        val query = PocQuery(text = "pix", language = "go", tags = listOf("a", "b"), owner = "me", sort = PocSort.NAME, limit = 7)
        val report = client.reports.create(NewReport(ReportFormat.PDF, ReportLocale.PT_BR, query, title = "T"), "key-1")
        val request = server.takeRequest()
        assertEquals("POST", request.method)
        assertEquals("/api/v1/reports", request.url.encodedPath)
        assertEquals("key-1", request.headers["Idempotency-Key"])
        assertEquals(
            Json.parseToJsonElement(
                """{"format":"pdf","locale":"pt-BR","title":"T","bom":false,""" +
                    """"filters":{"q":"pix","language":"go","tag":["a","b"],"owner":"me","sort":"name"}}""",
            ),
            Json.parseToJsonElement(request.body!!.utf8()).jsonObject,
        )
        assertEquals(ReportStatus.RUNNING to ReportStage.RENDERING, report.status to report.stage)
        assertEquals(42, report.progress)
    }

    @Test
    fun `a long-poll asks the server to wait and outlives the client's read timeout`() = runBlocking<Unit> {
        server.enqueue(json(REPORT_JSON).newBuilder().headersDelay(1200, java.util.concurrent.TimeUnit.MILLISECONDS).build())
        val quick = PocDojoClient(
            server.url("/api/").toString(),
            InMemorySessionStore(Session("access", "refresh", Instant.now().plusSeconds(600))),
            okhttp3.OkHttpClient.Builder().readTimeout(1, java.util.concurrent.TimeUnit.SECONDS).build(),
            RetryPolicy.NONE,
        )
        quick.reports.get("r1", wait = kotlin.time.Duration.parse("20s"))
        assertEquals("20", server.takeRequest().url.queryParameter("wait"))
    }

    @Test
    fun `download follows the redirect itself and never sends the token to the signed URL`(@TempDir dir: Path) =
        runBlocking<Unit> {
            server.enqueue(MockResponse.Builder().code(302).addHeader("Location", "/files/signed-token").build())
            server.enqueue(MockResponse.Builder().code(200).body("a,b\n1,2\n").build())
            val file = dir.resolve("r.csv")
            val seen = mutableListOf<DownloadProgress>()
            assertEquals(8, client.reports.downloadTo("r1", file) { seen += it })
            assertEquals("a,b\n1,2\n", Files.readString(file))
            assertEquals(DownloadProgress(8, 8), seen.last())
            val redirect = server.takeRequest()
            assertEquals("/api/v1/reports/r1/download", redirect.url.encodedPath)
            assertEquals("Bearer access", redirect.headers["Authorization"])
            val signed = server.takeRequest()
            assertEquals("/files/signed-token", signed.url.encodedPath)
            assertNull(signed.headers["Authorization"])
        }

    @Test
    fun `an expired link is the storage's 403 and leaves no file behind`(@TempDir dir: Path) = runBlocking<Unit> {
        server.enqueue(MockResponse.Builder().code(302).addHeader("Location", server.url("/files/old").toString()).build())
        server.enqueue(MockApi.problem(403, "link-expired", "This download link has expired."))
        val file = dir.resolve("r.pdf")
        val error = assertThrows<ForbiddenException> { runBlocking { client.reports.downloadTo("r1", file) } }
        assertEquals("This download link has expired.", error.problem.detail)
        assertEquals(emptyList<Path>(), Files.list(dir).use { it.toList() })
        assertFalse(Files.exists(file))
    }

    @Test
    fun `a body cut short is an error, not a truncated report`() = runBlocking<Unit> {
        server.enqueue(MockResponse.Builder().code(302).addHeader("Location", "/files/x").build())
        server.enqueue(
            MockResponse.Builder().code(200).addHeader("Content-Length", "100").body("only this")
                .onResponseBody(mockwebserver3.SocketEffect.ShutdownConnection).build(),
        )
        assertThrows<ApiException> { runBlocking { client.reports.download("r1", ByteArrayOutputStream()) } }
    }

    private companion object {
        const val REPORT_JSON = """{"id":"r1","user_id":"u1","status":"running","stage":"rendering","progress":42,""" +
            """"error":null,"format":"pdf","locale":"pt-BR","title":"T","bom":false,"filters":{"q":"pix"},""" +
            """"row_count":3,"size_bytes":null,"created_at":"2026-12-05T12:00:00Z","started_at":null,""" +
            """"finished_at":null,"download_url":null,"new_field":1}"""
    }
}
