package dev.pocdojo.app.screens

import android.content.Intent
import android.net.Uri
import android.os.Looper
import android.provider.OpenableColumns
import android.widget.ListView
import dev.pocdojo.app.R
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.reports.ReportFilesProvider
import dev.pocdojo.app.reports.ReportsActivity
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import java.io.File
import java.io.FileNotFoundException
import java.time.Duration

/**
 * The Reports screen's Android side on Robolectric (run by `make screens`): a tapped done report is
 * downloaded into the app's files and handed to the viewer as a read-only `content://` URI of our own
 * provider, which serves report files only, and only for reading.
 */
@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34], application = ScreensApp::class)
class ReportsScreenTest {
    private val app: ScreensApp get() = RuntimeEnvironment.getApplication() as ScreensApp

    private fun settle() = shadowOf(Looper.getMainLooper()).idleFor(Duration.ofSeconds(1))

    @Test
    fun tappingADoneReportDownloadsItAndOpensItWithTheViewerThroughOurProvider() {
        app.reports.contents["r-2"] = "Name,Language\nPix,Go\n".toByteArray()
        val activity = Robolectric.buildActivity(ReportsActivity::class.java, ReportsActivity.intent(app, PocQuery("pix"))).setup().get()
        settle()
        val list = activity.findViewById<ListView>(R.id.list)
        list.performItemClick(list.getChildAt(1), 1, list.getItemIdAtPosition(1)) // the done CSV
        settle()

        val viewer = shadowOf(activity).nextStartedActivity ?: error("no viewer was started")
        assertEquals(Intent.ACTION_VIEW, viewer.action)
        assertEquals("text/csv", viewer.type)
        assertEquals(Uri.parse("content://dev.pocdojo.app.reports/report-r-2.csv"), viewer.data)
        assertTrue("the viewer may read it", viewer.flags and Intent.FLAG_GRANT_READ_URI_PERMISSION != 0)

        val provider = Robolectric.buildContentProvider(ReportFilesProvider::class.java).create(ReportFilesProvider.AUTHORITY).get()
        val read = provider.openFile(viewer.data!!, "r").use { fd ->
            java.io.FileInputStream(fd.fileDescriptor).readBytes()
        }
        assertEquals("Name,Language\nPix,Go\n", String(read))
        assertEquals("text/csv", provider.getType(viewer.data!!))
        provider.query(viewer.data!!, null, null, null, null).use { cursor ->
            assertTrue(cursor.moveToFirst())
            assertEquals("report-r-2.csv", cursor.getString(cursor.getColumnIndexOrThrow(OpenableColumns.DISPLAY_NAME)))
            assertEquals(read.size.toLong(), cursor.getLong(cursor.getColumnIndexOrThrow(OpenableColumns.SIZE)))
        }
    }

    @Test
    fun theProviderServesReportFilesOnlyAndOnlyForReading() {
        val reports = ReportFilesProvider.directory(app).apply { mkdirs() }
        File(reports, "report-a.pdf").writeText("%PDF-1.7")
        File(app.filesDir, "secret.txt").writeText("not a report")
        val provider = Robolectric.buildContentProvider(ReportFilesProvider::class.java).create(ReportFilesProvider.AUTHORITY).get()
        val uri = ReportFilesProvider.uriOf(File(reports, "report-a.pdf"))
        assertEquals("application/pdf", provider.getType(uri))
        assertThrows(SecurityException::class.java) { provider.openFile(uri, "w") }
        assertThrows(SecurityException::class.java) { provider.openFile(uri, "rw") }
        for (bad in listOf(
            "content://dev.pocdojo.app.reports/..%2Fsecret.txt",
            "content://dev.pocdojo.app.reports/reports/report-a.pdf",
            "content://dev.pocdojo.app.reports/secret.txt",
            "content://dev.pocdojo.app.reports/report-missing.pdf",
            "content://another.authority/report-a.pdf",
        )) {
            assertThrows(bad, FileNotFoundException::class.java) { provider.openFile(Uri.parse(bad), "r") }
        }
        assertThrows(UnsupportedOperationException::class.java) { provider.delete(uri, null, null) }
    }
}
