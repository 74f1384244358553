package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.TestTenant
import dev.pocdojo.sdk.testing.parseCsv
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.io.TempDir
import java.io.ByteArrayOutputStream
import java.nio.file.Files
import java.nio.file.Path
import kotlin.time.Duration.Companion.seconds

/**
 * `/v1/reports` through the SDK against the real backend: `pocdojo dev` runs a media worker, so reports
 * are really made, followed with long-polls, and downloaded through their signed URLs.
 */
@ExtendWith(BackendExtension::class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReportsIntegrationTest(backend: Backend) {
    private val tenant: TestTenant = backend.newTenant()
    private val owner = tenant.newUser().signedIn()

    @BeforeAll
    fun seed() = runBlocking<Unit> {
        repeat(CATALOGUE) { i ->
            val language = if (i % 3 == 0) "python" else "go"
            val tags = if (i % 2 == 0) listOf("pix", "payments") else listOf("boleto")
            owner.pocs.create(
                NewPoc("Integração nº $i, \"ação\"", "https://github.com/acme/report-$i", language, tags, "Descrição $i; ok"),
            )
        }
    }

    /** Long-polls [id] until it is finished; every answer on the way is checked by [seen]. */
    private suspend fun PocDojoClient.follow(id: String, seen: (Report) -> Unit = {}): Report =
        withTimeout(FINISH_TIMEOUT) {
            var report = reports.get(id)
            seen(report)
            while (report.status.active) {
                report = reports.get(id, wait = 5.seconds)
                seen(report)
            }
            report
        }

    @Test
    fun `a CSV report holds the search, followed by long-polls to done and downloaded with progress`() = runBlocking<Unit> {
        val query = PocQuery(text = "integração", language = "go", tags = listOf("pix"), sort = PocSort.NAME)
        val expected = owner.pocs.all(query).toList()
        assertTrue(expected.size > 1, "the search finds several POCs: $expected")
        val key = ReportsApi.newIdempotencyKey()
        val created = owner.reports.create(NewReport(ReportFormat.CSV, ReportLocale.EN, query), key)
        assertEquals(ReportFormat.CSV, created.format)
        assertEquals(expected.size, created.rowCount)
        // The same key and body again is the same report (a retried POST), nothing new is queued.
        assertEquals(created.id, owner.reports.create(NewReport(ReportFormat.CSV, ReportLocale.EN, query), key).id)

        val progress = mutableListOf<Int>()
        val done = owner.follow(created.id) { report ->
            assertTrue(report.status in setOf(ReportStatus.QUEUED, ReportStatus.RUNNING, ReportStatus.DONE), "$report")
            progress += report.progress
        }
        assertEquals(ReportStatus.DONE, done.status, "$done")
        assertEquals(ReportStage.DONE to 100, done.stage to done.progress)
        assertEquals(progress.sorted(), progress, "progress never goes back")
        assertEquals("/v1/reports/${done.id}/download", done.downloadUrl)

        val out = ByteArrayOutputStream()
        val seen = mutableListOf<DownloadProgress>()
        val size = owner.reports.download(done.id, out) { seen += it }
        assertEquals(done.sizeBytes, size)
        assertEquals(size, out.size().toLong())
        assertEquals(DownloadProgress(size, size), seen.last())
        assertEquals(seen.map { it.bytesRead }.sorted(), seen.map { it.bytesRead })

        val rows = parseCsv(out.toString(Charsets.UTF_8).removePrefix("\uFEFF"))
        assertEquals(listOf("Name", "Language", "Tags", "Created", "GitHub URL", "Description", "ID"), rows.first())
        assertEquals(
            expected.map { listOf(it.name, it.language, it.tags.joinToString(";"), it.githubUrl, it.description.orEmpty(), it.id) },
            rows.drop(1).map { listOf(it[0], it[1], it[2], it[4], it[5], it[6]) },
        )

        assertTrue(owner.reports.list().items.any { it.id == done.id })
        owner.reports.delete(done.id) // a finished report: deleted with its file
        assertThrows<NotFoundException> { runBlocking { owner.reports.get(done.id) } }
    }

    @Test
    fun `a PDF report in Portuguese downloads to a file that starts with the PDF signature`(@TempDir dir: Path) =
        runBlocking<Unit> {
            val user = tenant.newUser().signedIn()
            val created = user.reports.create(NewReport(ReportFormat.PDF, ReportLocale.PT_BR, PocQuery(tags = listOf("boleto")), "Boletos"))
            val done = user.follow(created.id)
            assertEquals(ReportStatus.DONE, done.status, "$done")
            assertEquals(ReportLocale.PT_BR to "Boletos", done.locale to done.title)
            val file = dir.resolve("reports").resolve("boletos.pdf")
            val size = user.reports.downloadTo(done.id, file)
            assertEquals(done.sizeBytes, size)
            assertEquals(size, Files.size(file))
            assertArrayEquals("%PDF".toByteArray(), Files.readAllBytes(file).copyOf(4))
            assertEquals(listOf(file.fileName), Files.list(file.parent).use { files -> files.map { it.fileName }.toList() })
            // Another user of the tenant does not see it.
            assertThrows<NotFoundException> { runBlocking { owner.reports.get(done.id) } }
            assertThrows<NotFoundException> { runBlocking { owner.reports.download(done.id, ByteArrayOutputStream()) } }
        }

    @Test
    fun `a cancelled report never finishes, and a report that is not done cannot be downloaded`() = runBlocking<Unit> {
        val user = tenant.newUser().signedIn()
        val created = user.reports.create(NewReport(ReportFormat.PDF, ReportLocale.EN))
        val early = runCatching { user.reports.download(created.id, ByteArrayOutputStream()) }.exceptionOrNull()
        user.reports.delete(created.id)
        val after = runCatching { user.reports.get(created.id, wait = 2.seconds) }
        val report = after.getOrNull()
        if (report != null) {
            // cancelled while queued or running: final, with no file
            assertEquals(ReportStatus.CANCELLED, report.status, "$report")
            assertEquals(null, report.downloadUrl)
            assertThrows<ConflictException> { runBlocking { user.reports.download(created.id, ByteArrayOutputStream()) } }
            assertEquals(ReportStatus.CANCELLED, user.reports.get(created.id).status)
        } else {
            // it had finished before the DELETE arrived: then it was deleted with its file
            assertTrue(after.exceptionOrNull() is NotFoundException, "${after.exceptionOrNull()}")
        }
        assertTrue(early == null || early is ConflictException, "downloading an unfinished report: $early")
    }

    @Test
    fun `bad filters, a bad title and a reused key are field errors`() = runBlocking<Unit> {
        val user = tenant.newUser().signedIn()
        val bad = NewReport(ReportFormat.CSV, ReportLocale.EN, PocQuery(language = "no-such-language", tags = listOf("ok", "")))
        val filters = assertThrows<ValidationException> { runBlocking { user.reports.create(bad) } }
        assertTrue(filters.errorsFor("filters.language").isNotEmpty(), "${filters.fieldErrors}")
        val title = assertThrows<ValidationException> {
            runBlocking { user.reports.create(NewReport(ReportFormat.CSV, ReportLocale.EN, title = "")) }
        }
        assertEquals(listOf("title"), title.fieldErrors.map { it.field })
        val key = ReportsApi.newIdempotencyKey()
        val first = user.reports.create(NewReport(ReportFormat.CSV, ReportLocale.EN), key)
        val reused = assertThrows<ValidationException> {
            runBlocking { user.reports.create(NewReport(ReportFormat.PDF, ReportLocale.EN), key) }
        }
        assertEquals(listOf("Idempotency-Key"), reused.fieldErrors.map { it.field })
        assertThrows<ValidationException> { runBlocking { user.reports.list(cursor = "not-a-cursor") } }
        user.follow(first.id)
    }

    @Test
    fun `too many reports at once is 429 with Retry-After, and the list pages by cursor`() = runBlocking<Unit> {
        val user = tenant.newUser().signedIn()
        val outcomes = (1..BURST).map {
            async { runCatching { user.reports.create(NewReport(ReportFormat.PDF, ReportLocale.EN)) } }
        }.awaitAll()
        val created = outcomes.mapNotNull { it.getOrNull() }
        val refused = outcomes.mapNotNull { it.exceptionOrNull() }
        assertTrue(refused.isNotEmpty(), "a burst of $BURST is past the per-user limit")
        refused.forEach { failure ->
            assertTrue(failure is RateLimitedException, "$failure")
            assertEquals(15.seconds, (failure as RateLimitedException).retryAfter)
        }
        assertTrue(created.size >= 3, "the limit's reports were queued: ${created.size}")

        val pages = generateSequence(runBlocking { user.reports.list(limit = 2) }) { page ->
            page.nextCursor?.let { runBlocking { user.reports.list(limit = 2, cursor = it) } }
        }.toList()
        assertTrue(pages.dropLast(1).all { it.items.size == 2 && it.nextCursor != null })
        val listed = pages.flatMap { it.items }
        assertEquals(created.map { it.id }.toSet(), listed.map { it.id }.toSet())
        assertEquals(listed.sortedByDescending { it.createdAt }.map { it.id }, listed.map { it.id }, "newest first")
        created.forEach { assertNotEquals(ReportStatus.FAILED, user.follow(it.id).status) }
    }

    private companion object {
        const val CATALOGUE = 12
        const val BURST = 8
        val FINISH_TIMEOUT = 90.seconds
    }
}
