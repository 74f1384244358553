package dev.pocdojo.app.core.reports

import dev.pocdojo.app.core.gateway.Credentials
import dev.pocdojo.app.core.gateway.PocDraft
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.ReportFormat
import dev.pocdojo.app.core.gateway.ReportLanguage
import dev.pocdojo.app.core.gateway.ReportStatus
import dev.pocdojo.app.core.gateway.ServerUrl
import dev.pocdojo.app.core.sdk.SdkBackend
import dev.pocdojo.app.core.sdk.SdkBackendIntegrationTest.MapStore
import dev.pocdojo.app.core.sdk.StoredSession
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.parseCsv
import dev.pocdojo.sdk.testing.waitUntil
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.cancel
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.ExtendWith
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.Executors
import kotlin.time.Duration.Companion.seconds

/**
 * The Reports screen's view-model over the SDK (`SdkBackend`) against the real backend, whose `pocdojo dev`
 * runs a media worker: a report of the list's search is asked for, followed to done, downloaded into the
 * app's files and handed to the viewer.
 */
@ExtendWith(BackendExtension::class)
class ReportsIntegrationTest(private val backend: Backend) {
    @Test
    fun `a CSV of the list's search is requested, followed to done and downloaded into the app's files`(@TempDir files: Path) =
        runBlocking<Unit> {
            val user = backend.newTenant().newUser()
            val app = SdkBackend(StoredSession(MapStore()))
            app.signIn(Credentials(ServerUrl(backend.baseUrl), user.tenant, user.email, user.password))
            app.create(PocDraft("Pix à vista", "https://github.com/acme/pix-vista", "go", listOf("pix"), "Pagamentos"))
            app.create(PocDraft("Pix parcelado", "https://github.com/acme/pix-parcelado", "go", listOf("pix"), ""))
            app.create(PocDraft("Boleto", "https://github.com/acme/boleto", "python", listOf("boleto"), ""))

            val main = Executors.newSingleThreadExecutor().asCoroutineDispatcher() // the screen's one thread
            val scope = CoroutineScope(SupervisorJob() + main)
            try {
                val query = PocQuery("pix", "Go", setOf("pix"))
                val viewModel = ReportsViewModel(app.reports, FakeConnectivity(), scope, query, ReportLanguage.PT_BR, files)
                waitUntil("the list loaded", 30.seconds, { viewModel.state.value }) { !it.loading }
                viewModel.onEvent(ReportsEvent.Request(ReportFormat.CSV))
                val requested = waitUntil("the report requested", 30.seconds, { viewModel.state.value }) { it.rows.isNotEmpty() }
                val id = requested.rows.single().id
                val done = waitUntil("the report followed to done", 90.seconds, { viewModel.state.value }) { state ->
                    state.rows.single().report.status !in setOf(ReportStatus.QUEUED, ReportStatus.RUNNING)
                }
                assertEquals(ReportStatus.DONE, done.rows.single().report.status, "${done.rows.single()}")
                assertEquals(2, done.rows.single().report.rowCount)

                viewModel.onEvent(ReportsEvent.Open(id))
                val opened = waitUntil("the file downloaded and opened", 30.seconds, { viewModel.state.value }) {
                    it.open != null || it.rows.single().download?.error != null
                }
                val file = files.resolve("report-$id.csv")
                assertEquals(OpenFile(file, "text/csv"), opened.open, "${opened.rows.single()}")
                assertEquals(opened.rows.single().report.sizeBytes, Files.size(file))
                val rows = parseCsv(Files.readString(file).removePrefix("\uFEFF"))
                assertEquals("Nome", rows.first().first(), "the app's language: ${rows.first()}")
                assertEquals(listOf("Pix à vista", "Pix parcelado").sorted(), rows.drop(1).map { it[0] }.sorted())
                assertTrue(opened.rows.single().downloaded)
            } finally {
                scope.cancel()
                main.close()
            }
        }
}
