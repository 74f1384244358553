package dev.pocdojo.app

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.io.IOException
import java.net.HttpURLConnection
import java.net.URL

/** Loads a picture from a URL (a signed URL: no token is sent). A failure is an `IOException`. */
fun interface ImageLoader {
    suspend fun load(url: String): Bitmap
}

/** The framework's own HTTP client, on the IO dispatcher; cancelling the coroutine abandons the result. */
class HttpImageLoader(private val timeoutMillis: Int = 15_000) : ImageLoader {
    override suspend fun load(url: String): Bitmap =
        withContext(Dispatchers.IO) {
            val connection = URL(url).openConnection() as HttpURLConnection
            connection.connectTimeout = timeoutMillis
            connection.readTimeout = timeoutMillis
            try {
                if (connection.responseCode !in 200..299) throw IOException("HTTP ${connection.responseCode} for the picture")
                connection.inputStream.use { BitmapFactory.decodeStream(it) } ?: throw IOException("not a picture")
            } finally {
                connection.disconnect()
            }
        }
}
