package dev.pocdojo.app.core.reports

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.ReportFormat
import dev.pocdojo.app.core.gateway.ReportLanguage
import dev.pocdojo.app.core.gateway.ReportRequest
import dev.pocdojo.app.core.gateway.ReportStage
import dev.pocdojo.app.core.gateway.ReportStatus
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakeReportGateway
import dev.pocdojo.app.core.testing.done
import dev.pocdojo.app.core.testing.failed
import dev.pocdojo.app.core.testing.queuedReport
import dev.pocdojo.app.core.testing.running
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.Job
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path

@OptIn(ExperimentalCoroutinesApi::class)
class ReportsViewModelTest {
    @TempDir
    lateinit var files: Path

    private val query = PocQuery("pix", "Go", setOf("payments"))
    private val connectivity = FakeConnectivity()
    private val settings = ReportsSettings(pageSize = 2, waitSeconds = 25, retryDelayMillis = 5_000)
    private var keys = 0

    private fun TestScope.started(gateway: FakeReportGateway, scope: CoroutineScope = backgroundScope): ReportsViewModel {
        val viewModel = ReportsViewModel(gateway, connectivity, scope, query, ReportLanguage.PT_BR, files, settings) { "key-${++keys}" }
        runCurrent()
        return viewModel
    }

    private fun ReportsViewModel.row(id: String): ReportRow = state.value.rows.first { it.id == id }

    @Test
    fun `my reports load newest first and the running ones are followed with long-polls to the end`() = runTest {
        val gateway = FakeReportGateway(listOf(queuedReport("a"), queuedReport("b").done(10), queuedReport("c").failed("Boom.")))
        val viewModel = started(gateway)
        assertEquals(listOf("a", "b"), viewModel.state.value.rows.map { it.id })
        assertFalse(viewModel.state.value.endReached)
        assertEquals(listOf("a" to 25), gateway.polls, "only the active report is followed, with a long-poll")

        gateway.advance("a") { it.running(ReportStage.RENDERING, 30) }
        runCurrent()
        val rendering = viewModel.row("a").report
        assertEquals(Triple(ReportStatus.RUNNING, ReportStage.RENDERING, 30), Triple(rendering.status, rendering.stage, rendering.progress))
        gateway.advance("a") { it.done(2048) }
        runCurrent()
        assertEquals(ReportStatus.DONE, viewModel.row("a").report.status)
        assertEquals(2, gateway.polls.size, "one long-poll per change, none after the end")

        viewModel.onEvent(ReportsEvent.NearEnd)
        runCurrent()
        assertEquals(listOf("a", "b", "c"), viewModel.state.value.rows.map { it.id })
        assertTrue(viewModel.state.value.endReached)
        assertEquals(UiMessage.FromServer("Boom."), viewModel.row("c").problem, "the server's reason, in its words")
    }

    @Test
    fun `a request carries the list's search and the app's language, and is followed`() = runTest {
        val gateway = FakeReportGateway()
        val viewModel = started(gateway)
        viewModel.onEvent(ReportsEvent.Request(ReportFormat.CSV))
        runCurrent()
        assertEquals(listOf(ReportRequest(ReportFormat.CSV, ReportLanguage.PT_BR, query) to "key-1"), gateway.requests)
        assertEquals(listOf("new-1"), viewModel.state.value.rows.map { it.id })
        assertNull(viewModel.state.value.requesting)
        gateway.advance("new-1") { it.running(ReportStage.READING, 10) }
        runCurrent()
        assertEquals(10, viewModel.row("new-1").report.progress)
    }

    @Test
    fun `a request that got no answer is sent again with the same key, a new one with a new key`() = runTest {
        val gateway = FakeReportGateway()
        val viewModel = started(gateway)
        gateway.requestFailures += GatewayException.Unreachable("no network")
        viewModel.onEvent(ReportsEvent.Request(ReportFormat.PDF))
        runCurrent()
        assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.notice)
        viewModel.onEvent(ReportsEvent.NoticeShown)
        viewModel.onEvent(ReportsEvent.Request(ReportFormat.PDF))
        runCurrent()
        assertEquals(listOf("key-1", "key-1"), gateway.requests.map { it.second })
        viewModel.onEvent(ReportsEvent.Request(ReportFormat.PDF))
        runCurrent()
        assertEquals("key-2", gateway.requests.last().second, "answered: the next request is a new report")
        assertEquals(2, viewModel.state.value.rows.size)

        gateway.requestFailures += GatewayException.RateLimited("Too many.", retryAfterSeconds = 15)
        viewModel.onEvent(ReportsEvent.Request(ReportFormat.CSV))
        runCurrent()
        assertEquals(MessageKey.RATE_LIMITED_SECONDS.message(15L), viewModel.state.value.notice)
        viewModel.onEvent(ReportsEvent.Request(ReportFormat.CSV))
        runCurrent()
        assertNotEquals(gateway.requests[3].second, gateway.requests[4].second, "a refused request is not pending")
    }

    @Test
    fun `a done report downloads with progress into the app's files, then opens, and opens again without a download`() = runTest {
        val gateway = FakeReportGateway(listOf(queuedReport("a", ReportFormat.CSV).done(6)))
        gateway.contents["a"] = "id,x\n1".toByteArray()
        gateway.downloadHold = CompletableDeferred()
        val viewModel = started(gateway)
        assertFalse(viewModel.row("a").downloaded)
        viewModel.onEvent(ReportsEvent.Open("a"))
        runCurrent()
        assertEquals(Download(3, 6), viewModel.row("a").download)
        assertEquals(50, viewModel.row("a").download?.percent)
        assertNull(viewModel.state.value.open)

        gateway.downloadHold!!.complete(Unit)
        runCurrent()
        val file = files.resolve("report-a.csv")
        assertEquals(OpenFile(file, "text/csv"), viewModel.state.value.open)
        assertArrayEquals("id,x\n1".toByteArray(), Files.readAllBytes(file))
        assertTrue(viewModel.row("a").downloaded)
        assertNull(viewModel.row("a").download)

        viewModel.onEvent(ReportsEvent.Opened)
        gateway.downloadFailures += GatewayException.Unreachable("would fail if asked")
        viewModel.onEvent(ReportsEvent.Open("a"))
        assertEquals(OpenFile(file, "text/csv"), viewModel.state.value.open)
    }

    @Test
    fun `a failed download says why on its row and can be tapped again`() = runTest {
        val gateway = FakeReportGateway(listOf(queuedReport("a").done(3)))
        gateway.contents["a"] = "%PD".toByteArray()
        gateway.downloadFailures += GatewayException.Forbidden("This download link has expired.")
        val viewModel = started(gateway)
        viewModel.onEvent(ReportsEvent.Open("a"))
        runCurrent()
        assertEquals(MessageKey.FORBIDDEN.message(), viewModel.row("a").download?.error)
        viewModel.onEvent(ReportsEvent.Open("a"))
        runCurrent()
        assertEquals(OpenFile(files.resolve("report-a.pdf"), "application/pdf"), viewModel.state.value.open)
    }

    @Test
    fun `the reports folder is made for the first download, and a file the phone cannot write is said on its row`() = runTest {
        val gateway = FakeReportGateway(listOf(queuedReport("a").done(3)))
        gateway.contents["a"] = "%PD".toByteArray()
        val nested = files.resolve("reports")
        val viewModel = ReportsViewModel(gateway, connectivity, backgroundScope, query, ReportLanguage.EN, nested, settings)
        runCurrent()
        viewModel.onEvent(ReportsEvent.Open("a"))
        runCurrent()
        assertEquals(OpenFile(nested.resolve("report-a.pdf"), "application/pdf"), viewModel.state.value.open)

        val blocked = files.resolve("not-a-folder").also { Files.write(it, byteArrayOf(0)) }
        val full = ReportsViewModel(gateway, connectivity, backgroundScope, query, ReportLanguage.EN, blocked, settings)
        runCurrent()
        full.onEvent(ReportsEvent.Open("a"))
        runCurrent()
        assertEquals(MessageKey.REPORT_NOT_SAVED.message(), full.row("a").download?.error)
        assertNull(full.state.value.open)
    }

    @Test
    fun `cancelling a running report keeps it as cancelled, deleting a done one removes it and its file`() = runTest {
        val gateway = FakeReportGateway(listOf(queuedReport("a").running(ReportStage.RENDERING, 40), queuedReport("b").done(2)))
        Files.write(files.resolve("report-b.pdf"), byteArrayOf(1, 2))
        val viewModel = started(gateway)
        assertTrue(viewModel.row("b").downloaded)
        viewModel.onEvent(ReportsEvent.Delete("a"))
        runCurrent()
        assertEquals(ReportStatus.CANCELLED, viewModel.row("a").report.status)
        assertEquals(MessageKey.REPORT_CANCELLED.message(), viewModel.row("a").problem)
        assertFalse(viewModel.row("a").deleting)

        viewModel.onEvent(ReportsEvent.Delete("b"))
        runCurrent()
        assertEquals(listOf("a"), viewModel.state.value.rows.map { it.id })
        assertFalse(Files.exists(files.resolve("report-b.pdf")))
        assertEquals(listOf("a", "b"), gateway.deletions)
    }

    @Test
    fun `a failed poll is tried again after a pause, and the loops stop when the screen goes`() = runTest {
        val gateway = FakeReportGateway(listOf(queuedReport("a")))
        gateway.pollFailures += GatewayException.Unreachable("offline")
        val screen = Job()
        val viewModel = started(gateway, CoroutineScope(backgroundScope.coroutineContext + screen))
        assertEquals(1, gateway.polls.size)
        advanceTimeBy(settings.retryDelayMillis - 1)
        runCurrent()
        assertEquals(1, gateway.polls.size, "no busy loop while the server cannot be reached")
        advanceTimeBy(2)
        runCurrent()
        assertEquals(2, gateway.polls.size)

        screen.cancel()
        gateway.advance("a") { it.running(ReportStage.READING, 5) }
        runCurrent()
        advanceTimeBy(60_000)
        assertEquals(2, gateway.polls.size)
        assertEquals(ReportStatus.QUEUED, viewModel.row("a").report.status, "nothing runs after the screen went")
    }

    @Test
    fun `offline, the failed list shows the banner and loads again when the network returns`() = runTest {
        val gateway = FakeReportGateway(listOf(queuedReport("a").done(1)))
        connectivity.online.value = false
        gateway.listFailures += GatewayException.Unreachable("offline")
        val viewModel = started(gateway)
        assertTrue(viewModel.state.value.offline)
        assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.error)
        connectivity.online.value = true
        runCurrent()
        assertFalse(viewModel.state.value.offline)
        assertNull(viewModel.state.value.error)
        assertEquals(listOf("a"), viewModel.state.value.rows.map { it.id })
    }

    @Test
    fun `a session that ended sends the screen back to sign-in`() = runTest {
        val gateway = FakeReportGateway()
        gateway.listFailures += GatewayException.SignedOut("revoked")
        val viewModel = started(gateway)
        assertTrue(viewModel.state.value.signedOut)
    }
}
