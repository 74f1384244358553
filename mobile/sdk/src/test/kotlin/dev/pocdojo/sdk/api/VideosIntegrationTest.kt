package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.TestTenant
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import okhttp3.OkHttpClient
import okhttp3.Request
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

/**
 * `/v1/videos` through the SDK against the real backend: the media worker of `pocdojo dev` renders the
 * video with ffmpeg; it is followed with long-polls and its signed URLs are fetched without a token.
 */
@ExtendWith(BackendExtension::class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class VideosIntegrationTest(backend: Backend) {
    private val tenant: TestTenant = backend.newTenant()

    /** A plain client: the signed URLs carry their own authorization, no bearer token is sent to them. */
    private val plain = OkHttpClient.Builder().callTimeout(30, TimeUnit.SECONDS).build()

    private suspend fun PocDojoClient.follow(id: String, seen: (Video) -> Unit = {}): Video =
        withTimeout(FINISH_TIMEOUT) {
            var video = videos.get(id)
            seen(video)
            while (video.status.active) {
                video = videos.get(id, wait = 10.seconds)
                seen(video)
            }
            video
        }

    @Test
    fun `a 720p video of three POCs is followed to done, its MP4 streams by Range and its thumbnail is a JPEG`() =
        runBlocking<Unit> {
            val user = tenant.newUser().signedIn()
            listOf("go", "python", "rust").forEachIndexed { i, language ->
                user.pocs.create(NewPoc("Ano nº $i, ação", "https://github.com/acme/year-$i", language, listOf("pix")))
            }
            val key = VideosApi.newIdempotencyKey()
            val created = user.videos.create(NewVideo(VideoResolution.HD, MediaLocale.PT_BR), key)
            assertEquals(VideoPeriod.LastTwelveMonths to 3, created.period to created.pocCount)
            assertEquals(VideoResolution.HD to MediaLocale.PT_BR, created.resolution to created.locale)
            // The same key and body again is the same video (a retried POST).
            assertEquals(created.id, user.videos.create(NewVideo(VideoResolution.HD, MediaLocale.PT_BR), key).id)
            val early = runCatching { user.videos.downloadUrl(created.id) }.exceptionOrNull()
            assertTrue(early == null || early is ConflictException, "the MP4 of an unfinished video: $early")

            val progress = mutableListOf<Int>()
            val done = user.follow(created.id) { progress += it.progress }
            assertEquals(JobStatus.DONE, done.status, "$done")
            assertEquals(JobStage.DONE to 100, done.stage to done.progress)
            assertEquals(progress.sorted(), progress, "progress never goes back")
            val duration = assertNotNullValue(done.durationSeconds)
            assertTrue(duration > 0 && duration <= 60.5, "duration $duration")
            val size = assertNotNullValue(done.sizeBytes)

            val mp4 = user.videos.downloadUrl(done.id)
            plain.newCall(Request.Builder().url(mp4).header("Range", "bytes=0-15").build()).execute().use { answer ->
                assertEquals(206, answer.code, answer.message)
                assertEquals("bytes 0-15/$size", answer.header("Content-Range"))
                val head = answer.body.bytes()
                assertEquals(16, head.size)
                assertArrayEquals("ftyp".toByteArray(), head.copyOfRange(4, 8), "an MP4 starts with its ftyp box")
            }
            val thumbnail = user.videos.thumbnailUrl(done.id)
            plain.newCall(Request.Builder().url(thumbnail).build()).execute().use { answer ->
                assertEquals(200, answer.code, answer.message)
                val jpeg = answer.body.bytes()
                assertArrayEquals(byteArrayOf(0xFF.toByte(), 0xD8.toByte(), 0xFF.toByte()), jpeg.copyOf(3))
            }
            val captions = user.videos.captionsUrl(done.id)
            plain.newCall(Request.Builder().url(captions).build()).execute().use { answer ->
                assertEquals(200, answer.code, answer.message)
                assertTrue(answer.body.string().startsWith("WEBVTT"))
            }
            assertTrue(user.videos.list().items.any { it.id == done.id })

            // Another member of the tenant sees nothing of it.
            val other = tenant.newUser().signedIn()
            assertThrows<NotFoundException> { runBlocking { other.videos.get(done.id) } }
            assertThrows<NotFoundException> { runBlocking { other.videos.downloadUrl(done.id) } }

            user.videos.delete(done.id) // a finished video: deleted with its files
            assertThrows<NotFoundException> { runBlocking { user.videos.get(done.id) } }
        }

    @Test
    fun `a cancelled video never finishes and has no files, and a reused key is a field error`() = runBlocking<Unit> {
        val user = tenant.newUser().signedIn()
        val key = VideosApi.newIdempotencyKey()
        val created = user.videos.create(NewVideo(VideoResolution.HD, MediaLocale.EN, VideoPeriod.Year(2025)), key)
        assertEquals(VideoPeriod.Year(2025), created.period)
        val reused = assertThrows<ValidationException> {
            runBlocking { user.videos.create(NewVideo(VideoResolution.FULL_HD, MediaLocale.EN, VideoPeriod.Year(2025)), key) }
        }
        assertEquals(listOf("Idempotency-Key"), reused.fieldErrors.map { it.field })
        user.videos.delete(created.id)
        val after = runCatching { user.videos.get(created.id) }
        val video = after.getOrNull()
        if (video != null) {
            assertEquals(JobStatus.CANCELLED, video.status, "$video")
            assertNull(video.downloadUrl)
            assertThrows<ConflictException> { runBlocking { user.videos.thumbnailUrl(created.id) } }
        } else {
            // it had finished before the DELETE arrived: then it was deleted with its files
            assertTrue(after.exceptionOrNull() is NotFoundException, "${after.exceptionOrNull()}")
        }
    }

    private fun <T : Any> assertNotNullValue(value: T?): T {
        assertTrue(value != null, "a done video has it")
        return value!!
    }

    private companion object {
        val FINISH_TIMEOUT = 180.seconds
    }
}
