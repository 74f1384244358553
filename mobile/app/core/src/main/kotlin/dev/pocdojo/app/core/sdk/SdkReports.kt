package dev.pocdojo.app.core.sdk

import dev.pocdojo.app.core.gateway.Report
import dev.pocdojo.app.core.gateway.ReportFormat
import dev.pocdojo.app.core.gateway.ReportGateway
import dev.pocdojo.app.core.gateway.ReportLanguage
import dev.pocdojo.app.core.gateway.ReportPage
import dev.pocdojo.app.core.gateway.ReportRequest
import dev.pocdojo.app.core.gateway.ReportStage
import dev.pocdojo.app.core.gateway.ReportStatus
import dev.pocdojo.sdk.api.NewReport
import dev.pocdojo.sdk.api.PocDojoClient
import dev.pocdojo.sdk.api.PocQuery
import dev.pocdojo.sdk.api.ReportLocale
import java.nio.file.Path
import kotlin.time.Duration.Companion.seconds
import dev.pocdojo.sdk.api.Report as SdkReport
import dev.pocdojo.sdk.api.ReportFormat as SdkReportFormat

/** The Reports screen's gateway over the SDK's `client.reports` of the signed-in [client]. */
internal class SdkReports(private val client: () -> PocDojoClient) : ReportGateway {
    override suspend fun request(request: ReportRequest, idempotencyKey: String): Report {
        val query = request.query
        val new = NewReport(
            format = if (request.format == ReportFormat.PDF) SdkReportFormat.PDF else SdkReportFormat.CSV,
            locale = if (request.language == ReportLanguage.PT_BR) ReportLocale.PT_BR else ReportLocale.EN,
            query = PocQuery(text = query.text.trim().ifEmpty { null }, language = query.language, tags = query.tags.sorted()),
        )
        return gatewayCall { client().reports.create(new, idempotencyKey) }.toApp()
    }

    override suspend fun list(cursor: String?, limit: Int): ReportPage {
        val page = gatewayCall { client().reports.list(limit, cursor) }
        return ReportPage(page.items.map { it.toApp() }, page.nextCursor)
    }

    override suspend fun get(id: String, waitSeconds: Int): Report = gatewayCall { client().reports.get(id, waitSeconds.seconds) }.toApp()

    override suspend fun download(id: String, file: Path, onProgress: (Long, Long?) -> Unit): Long =
        gatewayCall { client().reports.downloadTo(id, file) { onProgress(it.bytesRead, it.totalBytes) } }

    override suspend fun delete(id: String) = gatewayCall { client().reports.delete(id) }

    private fun SdkReport.toApp(): Report =
        Report(
            id = id,
            format = if (format == SdkReportFormat.PDF) ReportFormat.PDF else ReportFormat.CSV,
            status = ReportStatus.valueOf(status.name),
            stage = ReportStage.valueOf(stage.name),
            progress = progress,
            error = error,
            rowCount = rowCount,
            sizeBytes = sizeBytes,
            createdAt = createdAt.toString(),
        )
}
