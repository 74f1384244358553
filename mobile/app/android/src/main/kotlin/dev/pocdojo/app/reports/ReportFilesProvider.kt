package dev.pocdojo.app.reports

import android.content.ContentProvider
import android.content.ContentValues
import android.content.Context
import android.database.Cursor
import android.database.MatrixCursor
import android.net.Uri
import android.os.ParcelFileDescriptor
import android.provider.OpenableColumns
import java.io.File
import java.io.FileNotFoundException

/**
 * Serves the app's downloaded reports, read-only, as `content://dev.pocdojo.app.reports/<file>` URIs, so
 * that the phone's PDF or spreadsheet viewer can open one (the framework's FileProvider is AndroidX's, out
 * of reach here). Not exported: another app reads a file only through the `FLAG_GRANT_READ_URI_PERMISSION`
 * of the `ACTION_VIEW` intent that opens it (`android:grantUriPermissions` in the manifest). Only plain
 * file names of [directory] are served; nothing can be written.
 */
class ReportFilesProvider : ContentProvider() {
    override fun onCreate(): Boolean = true

    override fun openFile(uri: Uri, mode: String): ParcelFileDescriptor {
        if (mode != "r") throw SecurityException("reports are read-only (mode '$mode')")
        return ParcelFileDescriptor.open(fileOf(uri), ParcelFileDescriptor.MODE_READ_ONLY)
    }

    override fun getType(uri: Uri): String? = name(uri)?.let(::mimeTypeOf)

    /** The display name and size that viewers ask for (OpenableColumns). */
    override fun query(uri: Uri, projection: Array<out String>?, selection: String?, args: Array<out String>?, sortOrder: String?): Cursor {
        val file = fileOf(uri)
        val columns = projection ?: arrayOf(OpenableColumns.DISPLAY_NAME, OpenableColumns.SIZE)
        val values = columns.map<String, Any?> { column ->
            when (column) {
                OpenableColumns.DISPLAY_NAME -> file.name
                OpenableColumns.SIZE -> file.length()
                else -> null
            }
        }
        return MatrixCursor(columns, 1).apply { addRow(values.toTypedArray()) }
    }

    override fun insert(uri: Uri, values: ContentValues?): Uri? = throw UnsupportedOperationException("read-only")

    override fun update(uri: Uri, values: ContentValues?, selection: String?, args: Array<out String>?): Int =
        throw UnsupportedOperationException("read-only")

    override fun delete(uri: Uri, selection: String?, args: Array<out String>?): Int = throw UnsupportedOperationException("read-only")

    private fun fileOf(uri: Uri): File {
        val context = context ?: throw FileNotFoundException("provider not attached")
        val name = name(uri) ?: throw FileNotFoundException("not a report: $uri")
        val file = File(directory(context), name)
        if (!file.isFile) throw FileNotFoundException("no such report: $name")
        return file
    }

    /** The file name of a URI of ours: one path segment, a report's name (no `..`, no directory). */
    private fun name(uri: Uri): String? =
        uri.pathSegments.singleOrNull()?.takeIf { uri.authority == AUTHORITY && NAME.matches(it) }

    companion object {
        const val AUTHORITY: String = "dev.pocdojo.app.reports"
        private val NAME = Regex("report-[A-Za-z0-9-]{1,64}\\.(pdf|csv)")

        /** Where the Reports screen downloads reports to (the app's private files). */
        fun directory(context: Context): File = File(context.filesDir, "reports")

        /** The URI that serves [file] (a file of [directory]). */
        fun uriOf(file: File): Uri = Uri.Builder().scheme("content").authority(AUTHORITY).appendPath(file.name).build()

        private fun mimeTypeOf(name: String): String = if (name.endsWith(".pdf")) "application/pdf" else "text/csv"
    }
}
