package dev.pocdojo.app.screens

import dev.pocdojo.app.core.gateway.AuthorRun
import dev.pocdojo.app.core.gateway.IdleStretch
import dev.pocdojo.app.core.gateway.JobStage
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.ReplayAuthor
import dev.pocdojo.app.core.gateway.ReplayFile
import dev.pocdojo.app.core.gateway.ReplayFrame
import dev.pocdojo.app.core.gateway.ReplayTimeline
import dev.pocdojo.app.core.gateway.TimelineMark
import dev.pocdojo.app.core.gateway.Video

/**
 * An ended 24-minute randori on FizzBuzz: Ana writes `fizzbuzz.py` first, Bruno drives from 8:00 and
 * writes the tests, Ana drives again from 16:00 and finishes. Each frame cuts the text by author.
 */
object ReplayCatalogue {
    const val DOJO = "dojo-5"
    private const val ANA = "ana"
    private const val BRUNO = "bruno"

    val timeline: ReplayTimeline =
        ReplayTimeline(
            dojoId = DOJO,
            durationMs = 24 * 60_000L,
            ended = true,
            files = listOf("fizzbuzz.py", "test_fizzbuzz.py"),
            authors = listOf(ReplayAuthor(ANA, "Ana Souza", 0xE6194B), ReplayAuthor(BRUNO, "Bruno Lima", 0x1F77B4)),
            marks =
                listOf(
                    TimelineMark.Rotation(0, ANA, "Ana Souza"),
                    TimelineMark.Chat(3 * 60_000L, "Bruno Lima", "Começa pelo caso do 15?"),
                    TimelineMark.Rotation(8 * 60_000L, BRUNO, "Bruno Lima"),
                    TimelineMark.Chat(11 * 60_000L, "Ana Souza", "Falta o teste do 5 👀"),
                    TimelineMark.Rotation(16 * 60_000L, ANA, "Ana Souza"),
                    TimelineMark.Chat(22 * 60_000L, "Bruno Lima", "Verde! 🎉"),
                ),
            idle = listOf(IdleStretch(13 * 60_000L, 14 * 60_000L)),
        )

    private val anaStart = "def fizzbuzz(n):\n    if n % 15 == 0:\n        return \"FizzBuzz\"\n"
    private val brunoMiddle = "    if n % 3 == 0:\n        return \"Fizz\"\n"
    private val anaEnd = "    if n % 5 == 0:\n        return \"Buzz\"\n    return str(n)\n"
    private val tests =
        "from fizzbuzz import fizzbuzz\n\n\ndef test_fizz():\n    assert fizzbuzz(9) == \"Fizz\"\n\n\n" +
            "def test_fizzbuzz():\n    assert fizzbuzz(30) == \"FizzBuzz\"\n"

    /** The files at [tMs]: more of each author's part the later it is. */
    fun frame(tMs: Long): ReplayFrame {
        val minutes = tMs / 60_000.0
        val main = buildList {
            add(anaStart.take((anaStart.length * (minutes / 8)).toInt().coerceIn(1, anaStart.length)) to ANA)
            if (minutes >= 8) add(brunoMiddle.take((brunoMiddle.length * ((minutes - 8) / 4)).toInt().coerceIn(0, brunoMiddle.length)) to BRUNO)
            if (minutes >= 16) add(anaEnd.take((anaEnd.length * ((minutes - 16) / 6)).toInt().coerceIn(0, anaEnd.length)) to ANA)
        }
        val files = mutableListOf(file("fizzbuzz.py", main))
        if (minutes >= 10) files += file("test_fizzbuzz.py", listOf(tests.take((tests.length * ((minutes - 10) / 3)).toInt().coerceIn(1, tests.length)) to BRUNO))
        return ReplayFrame(tMs, files)
    }

    private fun file(path: String, parts: List<Pair<String, String>>): ReplayFile {
        var at = 0
        val runs = parts.filter { it.first.isNotEmpty() }.map { (text, author) -> AuthorRun(at, at + text.length, author).also { at += text.length } }
        return ReplayFile(path, parts.joinToString("") { it.first }, runs)
    }

    /** The replay video being made, and done (1:12 at 16×, idle stretches shortened). */
    val videoRunning: Video = Video("v-r2", JobStatus.RUNNING, JobStage.RENDERING, 38, null, null, null, null, "2026-12-05T15:00:00Z", dojoId = DOJO)
    val videoDone: Video = Video("v-r1", JobStatus.DONE, JobStage.DONE, 100, null, null, 72.0, 3_145_728, "2026-12-05T14:50:00Z", dojoId = DOJO)
}
