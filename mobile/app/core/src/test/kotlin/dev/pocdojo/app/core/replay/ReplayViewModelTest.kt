package dev.pocdojo.app.core.replay

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JobStage
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.MediaLanguage
import dev.pocdojo.app.core.gateway.ReplayVideoRequest
import dev.pocdojo.app.core.gateway.VideoResolution
import dev.pocdojo.app.core.testing.ANA
import dev.pocdojo.app.core.testing.ANA_COLOR
import dev.pocdojo.app.core.testing.BRUNO
import dev.pocdojo.app.core.testing.BRUNO_COLOR
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakeReplayGateway
import dev.pocdojo.app.core.testing.done
import dev.pocdojo.app.core.testing.running
import dev.pocdojo.app.core.testing.sampleFrame
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
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

@OptIn(ExperimentalCoroutinesApi::class)
class ReplayViewModelTest {
    private val connectivity = FakeConnectivity()
    private val settings = ReplaySettings(debounceMillis = 150, playTickMillis = 250, playSpeed = 8)
    private var keys = 0

    private fun TestScope.started(gateway: FakeReplayGateway, scope: CoroutineScope = backgroundScope, dojoId: String = "d1"): ReplayViewModel {
        val viewModel = ReplayViewModel(dojoId, gateway, gateway.videos, connectivity, scope, MediaLanguage.PT_BR, settings) { "key-${++keys}" }
        runCurrent()
        return viewModel
    }

    @Test
    fun `an ended dojo opens at its end, on its first file, with each author's text in their colour`() = runTest {
        val gateway = FakeReplayGateway()
        val state = started(gateway).state.value
        assertFalse(state.loading)
        assertEquals(600_000L, state.positionMs)
        assertEquals(listOf(600_000L), gateway.frameCalls, "the end, at once")
        assertEquals("main.py", state.selectedFile)
        assertEquals(listOf("main.py", "test_main.py"), state.files)
        assertEquals(sampleFrame(600_000).files.first().text, state.text)
        assertEquals(listOf(ANA_COLOR, BRUNO_COLOR), state.spans.map { it.color })
        assertEquals(listOf(0 to 16, 16 to state.text.length), state.spans.map { it.start to it.end })
        assertEquals("Bruno", state.driver?.driverName)
        assertEquals("olá 👋", state.lastChat?.text)
    }

    @Test
    fun `scrubbing shows the files at that instant after the pause, and only the last position is loaded`() = runTest {
        val gateway = FakeReplayGateway()
        val viewModel = started(gateway)
        for (t in listOf(10_000L, 60_000L, 150_000L)) {
            viewModel.onEvent(ReplayEvent.Scrub(t))
            advanceTimeBy(100)
            runCurrent()
        }
        assertEquals(150_000L, viewModel.state.value.positionMs, "the scrubber moves at once")
        assertEquals(listOf(600_000L), gateway.frameCalls, "nothing loaded while the thumb moves")
        advanceTimeBy(151)
        runCurrent()
        assertEquals(listOf(600_000L, 150_000L), gateway.frameCalls)
        val state = viewModel.state.value
        assertEquals(150_000L, state.frame?.tMs)
        assertEquals(sampleFrame(150_000).files.single().text, state.text)
        assertNull(state.driver, "no rotation yet at 2:30")
        assertEquals(null, state.fileAbsent)
        viewModel.onEvent(ReplayEvent.SelectFile("test_main.py"))
        assertEquals(MessageKey.REPLAY_FILE_ABSENT.message(), viewModel.state.value.fileAbsent, "the test file does not exist yet")
        viewModel.onEvent(ReplayEvent.Scrub(700_000))
        advanceTimeBy(151)
        runCurrent()
        assertEquals(600_000L, viewModel.state.value.positionMs, "clamped to the end")
        assertEquals("assert soma(1, 2) == 3\n", viewModel.state.value.text)
    }

    @Test
    fun `a load under way is cancelled by a newer position, whose files are shown`() = runTest {
        val gateway = FakeReplayGateway()
        val viewModel = started(gateway)
        gateway.holdFrames = true
        viewModel.onEvent(ReplayEvent.Scrub(100_000))
        advanceTimeBy(151)
        runCurrent()
        assertTrue(viewModel.state.value.frameLoading)
        viewModel.onEvent(ReplayEvent.Scrub(400_000))
        runCurrent()
        assertEquals(listOf(100_000L), gateway.cancelledFrames, "the older load is cancelled once the thumb moves again")
        advanceTimeBy(151)
        runCurrent()
        gateway.release(100_000) // a late answer of the older load changes nothing
        gateway.release(400_000)
        runCurrent()
        val state = viewModel.state.value
        assertEquals(400_000L to 400_000L, state.positionMs to state.frame?.tMs)
        assertFalse(state.frameLoading)
    }

    @Test
    fun `the caret names the author of the text under it, also after a scrub`() = runTest {
        val gateway = FakeReplayGateway()
        val viewModel = started(gateway)
        viewModel.onEvent(ReplayEvent.MoveCursor(4))
        assertEquals(ANA, viewModel.state.value.authorUnderCursor?.userId)
        assertEquals(UiMessage.FromServer("Ana Lúcia"), viewModel.state.value.cursorAuthorLine)
        val emoji = viewModel.state.value.text.indexOf("👍")
        viewModel.onEvent(ReplayEvent.MoveCursor(emoji + 1)) // inside the surrogate pair: still Bruno's
        assertEquals(BRUNO to BRUNO_COLOR, viewModel.state.value.authorUnderCursor?.let { it.userId to it.color })
        viewModel.onEvent(ReplayEvent.MoveCursor(viewModel.state.value.text.length))
        assertEquals("Bruno", viewModel.state.value.authorUnderCursor?.name, "a caret at the end: the last character's author")

        viewModel.onEvent(ReplayEvent.Scrub(30_000))
        advanceTimeBy(151)
        runCurrent()
        val state = viewModel.state.value
        assertEquals(state.text.length, state.cursor, "the caret is kept inside the shorter text")
        assertEquals(ANA, state.authorUnderCursor?.userId)
    }

    @Test
    fun `play advances the scrubber, jumps idle stretches, stops at the end, and pause stops it`() = runTest {
        val gateway = FakeReplayGateway()
        val viewModel = started(gateway)
        viewModel.onEvent(ReplayEvent.TogglePlay)
        runCurrent()
        assertTrue(viewModel.state.value.playing)
        assertEquals(0L, viewModel.state.value.positionMs, "from the start when at the end")
        advanceTimeBy(251)
        runCurrent()
        assertEquals(2_000L, viewModel.state.value.positionMs, "250 ms at 8×")
        assertEquals(2_000L, viewModel.state.value.frame?.tMs)
        viewModel.onEvent(ReplayEvent.TogglePlay)
        advanceTimeBy(10_000)
        runCurrent()
        assertFalse(viewModel.state.value.playing)
        assertEquals(2_000L, viewModel.state.value.positionMs, "paused")

        viewModel.onEvent(ReplayEvent.Scrub(398_500))
        advanceTimeBy(151)
        runCurrent()
        viewModel.onEvent(ReplayEvent.TogglePlay)
        advanceTimeBy(251)
        runCurrent()
        assertEquals(500_000L, viewModel.state.value.positionMs, "400 000 falls in the idle stretch: jumped to its end")
        advanceTimeBy(60_000)
        runCurrent()
        assertFalse(viewModel.state.value.playing)
        assertEquals(600_000L, viewModel.state.value.positionMs)
        assertEquals(600_000L, gateway.frameCalls.last())
    }

    @Test
    fun `a failed history is said in words with a retry, history off says so, another's dojo is not found`() = runTest {
        val gateway = FakeReplayGateway()
        gateway.historyFailures += GatewayException.Unreachable("no route")
        val viewModel = started(gateway)
        assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.error)
        viewModel.onEvent(ReplayEvent.Retry)
        runCurrent()
        assertNull(viewModel.state.value.error)
        assertEquals(600_000L, viewModel.state.value.frame?.tMs)

        val off = FakeReplayGateway()
        off.historyFailures += GatewayException.Conflict("History is off for this tenant.", reason = "history-off")
        val offState = started(off).state.value
        assertTrue(offState.historyOff)
        assertEquals(MessageKey.REPLAY_HISTORY_OFF.message(), offState.error)
        assertTrue(off.frameCalls.isEmpty())

        val other = started(FakeReplayGateway(), dojoId = "someone-elses").state.value
        assertEquals(MessageKey.NOT_FOUND.message(), other.error)
    }

    @Test
    fun `a failed frame keeps the last files shown with the reason, and a retry loads them`() = runTest {
        val gateway = FakeReplayGateway()
        val viewModel = started(gateway)
        gateway.frameFailures += GatewayException.ServerFailure(503, "busy")
        viewModel.onEvent(ReplayEvent.Scrub(100_000))
        advanceTimeBy(151)
        runCurrent()
        var state = viewModel.state.value
        assertEquals(MessageKey.SERVER_FAILURE.message(503), state.frameError)
        assertEquals(600_000L, state.frame?.tMs, "the last files stay")
        viewModel.onEvent(ReplayEvent.Retry)
        runCurrent()
        state = viewModel.state.value
        assertNull(state.frameError)
        assertEquals(100_000L, state.frame?.tMs)
    }

    @Test
    fun `the replay video is asked for in the app's language, followed to done, then played`() = runTest {
        val gateway = FakeReplayGateway()
        val viewModel = started(gateway)
        assertNull(viewModel.state.value.video)
        gateway.requestFailures += GatewayException.Unreachable("cut")
        viewModel.onEvent(ReplayEvent.RequestVideo)
        runCurrent()
        assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.notice)
        viewModel.onEvent(ReplayEvent.RequestVideo)
        runCurrent()
        val expected = ReplayVideoRequest("d1", MediaLanguage.PT_BR, VideoResolution.HD_720P, 8)
        assertEquals(listOf(expected to "key-1", expected to "key-1"), gateway.videoRequests, "no answer: the same key again")
        val id = viewModel.state.value.video!!.id
        assertFalse(viewModel.state.value.canRequestVideo)
        gateway.videos.advance(id) { it.running(JobStage.RENDERING, 40) }
        runCurrent()
        assertEquals(40, viewModel.state.value.video?.progress)
        gateway.videos.advance(id) { it.done(75.0) }
        runCurrent()
        assertTrue(viewModel.state.value.videoDone)
        assertEquals("https://store.test/$id.jpg?sig=1", viewModel.state.value.thumbnailUrl)
        viewModel.onEvent(ReplayEvent.PlayVideo)
        runCurrent()
        assertEquals("https://store.test/$id.mp4?sig=2", viewModel.state.value.play)
        viewModel.onEvent(ReplayEvent.PlayStarted)
        assertNull(viewModel.state.value.play)
    }

    @Test
    fun `a replay video made before is shown on opening, a failed one in the server's words`() = runTest {
        val gateway = FakeReplayGateway()
        gateway.videos.videos += dev.pocdojo.app.core.testing.queuedVideo("v0").copy(dojoId = "d1", status = JobStatus.FAILED, error = "ffmpeg exited 1")
        val state = started(gateway).state.value
        assertEquals("v0", state.video?.id)
        assertEquals(UiMessage.FromServer("ffmpeg exited 1"), state.videoProblem)
        assertTrue(state.canRequestVideo)
    }

    @Test
    fun `the screen's scope ending stops the loads, the playback and the video's follow`() = runTest {
        val gateway = FakeReplayGateway()
        val screen = Job()
        val viewModel = started(gateway, CoroutineScope(coroutineContext + screen))
        viewModel.onEvent(ReplayEvent.RequestVideo)
        runCurrent()
        viewModel.onEvent(ReplayEvent.TogglePlay)
        runCurrent()
        screen.cancel()
        val calls = gateway.frameCalls.size
        val polls = gateway.videos.polls.size
        advanceTimeBy(60_000)
        runCurrent()
        assertEquals(calls, gateway.frameCalls.size)
        assertEquals(polls, gateway.videos.polls.size)
    }
}
