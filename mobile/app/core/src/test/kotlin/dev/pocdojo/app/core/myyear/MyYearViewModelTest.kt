package dev.pocdojo.app.core.myyear

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JobStage
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.MediaLanguage
import dev.pocdojo.app.core.gateway.VideoRequest
import dev.pocdojo.app.core.gateway.VideoResolution
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakeVideoGateway
import dev.pocdojo.app.core.testing.done
import dev.pocdojo.app.core.testing.failed
import dev.pocdojo.app.core.testing.queuedVideo
import dev.pocdojo.app.core.testing.running
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.Job
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

@OptIn(ExperimentalCoroutinesApi::class)
class MyYearViewModelTest {
    private val connectivity = FakeConnectivity()
    private val settings = MyYearSettings(waitSeconds = 25, retryDelayMillis = 5_000)
    private var keys = 0

    private fun TestScope.started(gateway: FakeVideoGateway, scope: CoroutineScope = backgroundScope): MyYearViewModel {
        val viewModel = MyYearViewModel(gateway, connectivity, scope, MediaLanguage.PT_BR, settings) { "key-${++keys}" }
        runCurrent()
        return viewModel
    }

    @Test
    fun `a request in the app's language at 720p is followed by long-polls to done and then shows its thumbnail`() = runTest {
        val gateway = FakeVideoGateway()
        val viewModel = started(gateway)
        assertNull(viewModel.state.value.video)
        assertTrue(viewModel.state.value.canRequest)

        viewModel.onEvent(MyYearEvent.Request)
        runCurrent()
        assertEquals(listOf(VideoRequest(MediaLanguage.PT_BR, VideoResolution.HD_720P) to "key-1"), gateway.requests)
        assertEquals("new-1", viewModel.state.value.video?.id)
        assertFalse(viewModel.state.value.canRequest, "one video at a time")
        viewModel.onEvent(MyYearEvent.Request)
        runCurrent()
        assertEquals(1, gateway.requests.size)

        val seen = mutableListOf<Int>()
        for (progress in listOf(10, 45, 80)) {
            gateway.advance("new-1") { it.running(JobStage.RENDERING, progress) }
            runCurrent()
            seen += viewModel.state.value.video!!.progress
        }
        assertEquals(listOf(10, 45, 80), seen)
        assertNull(viewModel.state.value.thumbnailUrl)
        gateway.advance("new-1") { it.done(42.5) }
        runCurrent()
        val state = viewModel.state.value
        assertEquals(JobStatus.DONE to 42.5, state.video?.status to state.video?.durationSeconds)
        assertEquals("https://store.test/new-1.jpg?sig=1", state.thumbnailUrl)
        assertTrue(state.done && state.canRequest)
        assertEquals(List(4) { "new-1" to 25 }, gateway.polls, "one long-poll per change, none after the end")
    }

    @Test
    fun `the latest video is shown at start, a running one followed, a failed poll tried again later`() = runTest {
        val gateway = FakeVideoGateway(listOf(queuedVideo("a").running(JobStage.READING, 5), queuedVideo("old").done(30.0)))
        gateway.pollFailures += GatewayException.Unreachable("offline")
        val viewModel = started(gateway)
        assertEquals("a", viewModel.state.value.video?.id)
        assertEquals(1, gateway.polls.size)
        advanceTimeBy(settings.retryDelayMillis - 1)
        runCurrent()
        assertEquals(1, gateway.polls.size, "waits before polling again")
        advanceTimeBy(2)
        runCurrent()
        assertEquals(2, gateway.polls.size)
        gateway.advance("a") { it.failed("ffmpeg took too long.") }
        runCurrent()
        assertEquals(UiMessage.FromServer("ffmpeg took too long."), viewModel.state.value.problem)
        assertEquals(JobStatus.FAILED, viewModel.state.value.video?.status)
        gateway.advance("a") { it.failed(null) }
        viewModel.onEvent(MyYearEvent.Retry)
        runCurrent()
        assertEquals(MessageKey.VIDEO_FAILED.message(), viewModel.state.value.problem, "our words when the server gave none")
    }

    @Test
    fun `play and share each get a fresh signed URL of the MP4, consumed by the screen`() = runTest {
        val gateway = FakeVideoGateway(listOf(queuedVideo("a").done(20.0)))
        val viewModel = started(gateway)
        assertEquals("https://store.test/a.jpg?sig=1", viewModel.state.value.thumbnailUrl)
        viewModel.onEvent(MyYearEvent.Play)
        runCurrent()
        assertEquals("https://store.test/a.mp4?sig=2", viewModel.state.value.play)
        viewModel.onEvent(MyYearEvent.PlayStarted)
        viewModel.onEvent(MyYearEvent.Share)
        runCurrent()
        assertNull(viewModel.state.value.play)
        assertEquals("https://store.test/a.mp4?sig=3", viewModel.state.value.share, "a link of its own: the old one may have expired")
        viewModel.onEvent(MyYearEvent.ShareStarted)
        gateway.linkFailures += GatewayException.Unreachable("offline")
        viewModel.onEvent(MyYearEvent.Play)
        runCurrent()
        assertNull(viewModel.state.value.play)
        assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.notice)
    }

    @Test
    fun `a request without an answer keeps its key for the next tap, a refused one does not`() = runTest {
        val gateway = FakeVideoGateway()
        gateway.requestFailures += GatewayException.Unreachable("offline")
        gateway.requestFailures += GatewayException.RateLimited("too many", 30)
        val viewModel = started(gateway)
        viewModel.onEvent(MyYearEvent.Request)
        runCurrent()
        assertNotEquals(null, viewModel.state.value.notice)
        assertTrue(viewModel.state.value.canRequest)
        viewModel.onEvent(MyYearEvent.Request)
        runCurrent()
        viewModel.onEvent(MyYearEvent.Request)
        runCurrent()
        assertEquals(listOf("key-1", "key-1", "key-2"), gateway.requests.map { it.second })
        assertEquals("new-1", viewModel.state.value.video?.id)
    }

    @Test
    fun `delete cancels the video being made (it stays as cancelled) and deletes a finished one, showing the previous`() =
        runTest {
            val gateway = FakeVideoGateway(listOf(queuedVideo("a").running(JobStage.RENDERING, 50), queuedVideo("old").done(30.0)))
            val viewModel = started(gateway)
            viewModel.onEvent(MyYearEvent.Delete)
            runCurrent()
            assertEquals(JobStatus.CANCELLED, viewModel.state.value.video?.status)
            assertEquals(MessageKey.VIDEO_CANCELLED.message(), viewModel.state.value.problem)
            assertFalse(viewModel.state.value.deleting)
            viewModel.onEvent(MyYearEvent.Delete)
            runCurrent()
            assertEquals(listOf("a", "a"), gateway.deletions)
            assertEquals("old", viewModel.state.value.video?.id)
            assertEquals("https://store.test/old.jpg?sig=1", viewModel.state.value.thumbnailUrl)
        }

    @Test
    fun `the long-poll stops with the screen's scope, and a failed load is retried when the network returns`() = runTest {
        val gateway = FakeVideoGateway(listOf(queuedVideo("a")))
        gateway.latestFailures += GatewayException.Unreachable("offline")
        connectivity.online.value = false
        val screen = CoroutineScope(backgroundScope.coroutineContext + Job())
        val viewModel = started(gateway, screen)
        assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.error)
        connectivity.online.value = true
        runCurrent()
        assertNull(viewModel.state.value.error)
        assertEquals("a", viewModel.state.value.video?.id)
        assertEquals(1, gateway.polls.size)
        screen.coroutineContext[Job]!!.cancel()
        gateway.advance("a") { it.running(JobStage.RENDERING, 50) }
        runCurrent()
        assertEquals(JobStatus.QUEUED, viewModel.state.value.video?.status, "nothing follows it once the screen is gone")
        assertEquals(1, gateway.polls.size)
    }
}
