package dev.pocdojo.app.core.testing

import dev.pocdojo.app.core.gateway.AuthorRun
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.IdleStretch
import dev.pocdojo.app.core.gateway.ReplayAuthor
import dev.pocdojo.app.core.gateway.ReplayFile
import dev.pocdojo.app.core.gateway.ReplayFrame
import dev.pocdojo.app.core.gateway.ReplayGateway
import dev.pocdojo.app.core.gateway.ReplayTimeline
import dev.pocdojo.app.core.gateway.ReplayVideoRequest
import dev.pocdojo.app.core.gateway.TimelineMark
import dev.pocdojo.app.core.gateway.Video
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CompletableDeferred

/**
 * A dojo's history in memory: [frameAt] gives the files at an instant. Frame loads are recorded
 * ([frameCalls]), those the caller cancelled too ([cancelledFrames]); with [holdFrames] each load waits
 * until the test calls [release]. Replay videos go into [videos] (a [FakeVideoGateway]: the test advances
 * them there).
 */
class FakeReplayGateway(
    var timeline: ReplayTimeline = sampleTimeline(),
    val videos: FakeVideoGateway = FakeVideoGateway(),
    private val frameAt: (Long) -> ReplayFrame = ::sampleFrame,
) : ReplayGateway {
    val historyFailures = ArrayDeque<GatewayException>()
    val frameFailures = ArrayDeque<GatewayException>()
    val requestFailures = ArrayDeque<GatewayException>()
    val frameCalls = mutableListOf<Long>()
    val cancelledFrames = mutableListOf<Long>()
    val videoRequests = mutableListOf<Pair<ReplayVideoRequest, String>>()
    var holdFrames = false
    private val held = mutableMapOf<Long, CompletableDeferred<Unit>>()

    fun release(tMs: Long) {
        held.remove(tMs)?.complete(Unit)
    }

    override suspend fun history(dojoId: String): ReplayTimeline {
        historyFailures.removeFirstOrNull()?.let { throw it }
        if (dojoId != timeline.dojoId) throw GatewayException.NotFound("No such dojo.")
        return timeline
    }

    override suspend fun frame(dojoId: String, tMs: Long): ReplayFrame {
        frameCalls += tMs
        frameFailures.removeFirstOrNull()?.let { throw it }
        if (holdFrames) {
            val gate = CompletableDeferred<Unit>().also { held[tMs] = it }
            try {
                gate.await()
            } catch (e: CancellationException) {
                cancelledFrames += tMs
                throw e
            }
        }
        return frameAt(tMs)
    }

    override suspend fun requestVideo(request: ReplayVideoRequest, idempotencyKey: String): Video {
        videoRequests += request to idempotencyKey
        requestFailures.removeFirstOrNull()?.let { throw it }
        videos.videos.firstOrNull { it.id == "replay-$idempotencyKey" }?.let { return it }
        val video = queuedVideo("replay-$idempotencyKey").copy(dojoId = request.dojoId, pocCount = null)
        videos.videos.add(0, video)
        return video
    }

    override suspend fun latestVideo(dojoId: String): Video? = videos.videos.firstOrNull { it.dojoId == dojoId }
}

const val ANA = "u-ana"
const val BRUNO = "u-bruno"
const val ANA_COLOR = 0xE6194B
const val BRUNO_COLOR = 0x3CB44B

/** A ten-minute dojo: Ana writes `main.py` in the first half, Bruno drives from 5:00 and adds a test. */
fun sampleTimeline(): ReplayTimeline =
    ReplayTimeline(
        dojoId = "d1",
        durationMs = 600_000,
        ended = true,
        files = listOf("main.py", "test_main.py"),
        authors = listOf(ReplayAuthor(ANA, "Ana Lúcia", ANA_COLOR), ReplayAuthor(BRUNO, "Bruno", BRUNO_COLOR)),
        marks = listOf(
            TimelineMark.Chat(120_000, "Bruno", "olá 👋"),
            TimelineMark.Rotation(300_000, BRUNO, "Bruno"),
        ),
        idle = listOf(IdleStretch(400_000, 500_000)),
    )

/**
 * The files at [tMs]: before 5:00 only Ana's `main.py` ("def soma(a, b):" growing), from 5:00 Bruno's line
 * `    return a + b  # 👍` after it and his `test_main.py`.
 */
fun sampleFrame(tMs: Long): ReplayFrame {
    val ana = "def soma(a, b):\n"
    val bruno = "    return a + b  # 👍\n"
    if (tMs < 300_000) {
        val typed = ana.take(((tMs * ana.length) / 300_000).toInt().coerceAtLeast(1))
        return ReplayFrame(tMs, listOf(ReplayFile("main.py", typed, listOf(AuthorRun(0, typed.length, ANA)))))
    }
    val main = ReplayFile("main.py", ana + bruno, listOf(AuthorRun(0, ana.length, ANA), AuthorRun(ana.length, ana.length + bruno.length, BRUNO)))
    val test = ReplayFile("test_main.py", "assert soma(1, 2) == 3\n", listOf(AuthorRun(0, 23, BRUNO)))
    return ReplayFrame(tMs, listOf(main, test))
}
