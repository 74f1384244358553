package dev.pocdojo.app.reports

import android.content.Context
import android.text.format.Formatter
import android.view.LayoutInflater
import android.view.View
import android.view.ViewGroup
import android.widget.BaseAdapter
import android.widget.ProgressBar
import android.widget.TextView
import dev.pocdojo.app.R
import dev.pocdojo.app.core.gateway.ReportStage
import dev.pocdojo.app.core.gateway.ReportStatus
import dev.pocdojo.app.core.reports.ReportRow
import dev.pocdojo.app.shownTime
import dev.pocdojo.app.text

/** My reports' rows: what, when, the status in words, and a progress bar while it runs or downloads. */
class ReportAdapter(private val inflater: LayoutInflater) : BaseAdapter() {
    private var rows: List<ReportRow> = emptyList()

    fun show(rows: List<ReportRow>) {
        if (rows === this.rows) return
        this.rows = rows
        notifyDataSetChanged()
    }

    override fun getCount(): Int = rows.size

    override fun getItem(position: Int): ReportRow = rows[position]

    override fun getItemId(position: Int): Long = position.toLong()

    override fun getView(position: Int, convertView: View?, parent: ViewGroup): View {
        val view = convertView ?: inflater.inflate(R.layout.item_report, parent, false)
        val row = rows[position]
        val report = row.report
        val context = view.context
        view.findViewById<TextView>(R.id.title).text =
            context.getString(R.string.report_title, report.format.name, context.shownTime(report.createdAt))
        val status = view.findViewById<TextView>(R.id.status)
        status.text = context.statusOf(row)
        status.setTextColor(context.getColor(if (row.problem != null) R.color.error else R.color.secondary_text))
        val download = row.download
        val bar = view.findViewById<ProgressBar>(R.id.progress)
        val percent = when {
            report.status.active -> report.progress
            download != null && download.error == null -> download.percent ?: 0
            else -> null
        }
        bar.visibility = if (percent != null) View.VISIBLE else View.GONE
        bar.progress = percent ?: 0
        view.findViewById<TextView>(R.id.download).apply {
            val line = when {
                download?.error != null -> context.getString(R.string.report_download_failed, context.text(download.error!!))
                download != null -> context.getString(R.string.report_downloading, download.percent ?: 0)
                row.downloaded -> context.getString(R.string.report_on_device)
                else -> null
            }
            text = line
            visibility = if (line == null) View.GONE else View.VISIBLE
            setTextColor(context.getColor(if (download?.error != null) R.color.error else R.color.secondary_text))
        }
        return view
    }

    private fun Context.statusOf(row: ReportRow): String {
        val report = row.report
        return when (report.status) {
            ReportStatus.QUEUED -> getString(R.string.report_queued)
            ReportStatus.RUNNING -> getString(R.string.report_running, getString(report.stage.words()), report.progress)
            ReportStatus.DONE -> {
                val size = report.sizeBytes?.let { Formatter.formatShortFileSize(this, it) } ?: "—"
                resources.getQuantityString(R.plurals.report_done, report.rowCount ?: 0, size, report.rowCount ?: 0)
            }
            ReportStatus.FAILED -> getString(R.string.report_failed, text(row.problem!!))
            ReportStatus.CANCELLED -> text(row.problem!!)
        }
    }

    private fun ReportStage.words(): Int =
        when (this) {
            ReportStage.QUEUED -> R.string.report_stage_queued
            ReportStage.READING -> R.string.report_stage_reading
            ReportStage.RENDERING -> R.string.report_stage_rendering
            ReportStage.UPLOADING -> R.string.report_stage_uploading
            ReportStage.DONE -> R.string.report_stage_done
        }
}
