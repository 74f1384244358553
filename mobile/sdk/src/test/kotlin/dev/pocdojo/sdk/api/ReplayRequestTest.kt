package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.api.MockApi.json
import dev.pocdojo.sdk.api.MockApi.problem
import dev.pocdojo.sdk.http.RetryPolicy
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonObject
import mockwebserver3.MockWebServer
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import java.time.Instant

/** The dojo replay calls (docs/replay.md's contract) and the replay video request, against a scripted server. */
class ReplayRequestTest {
    private val server = MockWebServer()
    private lateinit var client: PocDojoClient

    @BeforeEach
    fun start() {
        server.start()
        val session = Session("access", "refresh", Instant.now().plusSeconds(600))
        client = PocDojoClient(server.url("/").toString(), InMemorySessionStore(session), retryPolicy = RetryPolicy.NONE)
    }

    @AfterEach
    fun stop() {
        server.close()
    }

    @Test
    fun `history reads every part of the timeline`() = runBlocking<Unit> {
        server.enqueue(json(HISTORY_JSON))
        val history = client.dojos.history("d1")
        assertEquals("/v1/dojos/d1/history", server.takeRequest().url.encodedPath)
        assertEquals(Instant.parse("2026-12-06T03:00:00Z"), history.startedAt)
        assertEquals(Instant.parse("2026-12-06T03:10:00.123Z"), history.endedAt)
        assertEquals(600_123L, history.durationMs)
        assertEquals(HistoryMode.ON, history.history)
        assertEquals(listOf("main.py", "test_main.py"), history.files)
        assertEquals(HistoryAuthor("u1", "Ana Lúcia", "#E6194B"), history.authors.first())
        assertEquals(null, history.authors[1].displayName, "no name when the directory could not be reached")
        assertEquals(HistoryCheckpoint(40, Instant.parse("2026-12-06T03:05:00Z"), 300_000), history.checkpoints.single())
        val edit = history.edits.first()
        assertEquals(Triple("u1", "main.py", 1_000L to 4_500L), Triple(edit.userId, edit.file, edit.fromMs to edit.toMs))
        assertEquals(12 to 2, edit.inserted to edit.deleted)
        assertEquals(HistoryRotation(Instant.parse("2026-12-06T03:05:00Z"), 300_000, "u2", null), history.rotations.single())
        assertEquals("olá 👋", history.chat.single().text)
        assertEquals(IdleStretch(10_000, 60_000), history.idle.single())
    }

    @Test
    fun `a running dojo has no end`() = runBlocking<Unit> {
        server.enqueue(
            json(
                """{"dojo_id":"d1","started_at":"2026-12-06T03:00:00.000Z","ended_at":null,"duration_ms":5000,"history":"on",""" +
                    """"files":[],"authors":[],"checkpoints":[],"edits":[],"rotations":[],"chat":[],"idle":[]}""",
            ),
        )
        val history = client.dojos.history("d1")
        assertNull(history.endedAt)
        assertEquals(5_000L, history.durationMs)
    }

    @Test
    fun `state at an instant, given as a time or as milliseconds since the start`() = runBlocking<Unit> {
        val stateJson = """{"at":"2026-12-06T03:01:30.500Z","t_ms":90500,"seq":17,""" +
            """"files":[{"path":"main.py","text":"print('olá 👋')\n"},{"path":"a.py","text":""}]}"""
        server.enqueue(json(stateJson))
        val state = client.dojos.state("d1", HistoryInstant.SinceStart(90_500))
        val request = server.takeRequest()
        assertEquals("/v1/dojos/d1/state", request.url.encodedPath)
        assertEquals("+90500", request.url.queryParameter("at"))
        assertEquals("at=%2B90500", request.url.encodedQuery, "a literal + would read as a space")
        assertEquals(90_500L to 17L, state.tMs to state.seq)
        assertEquals(FileText("main.py", "print('olá 👋')\n"), state.files.first())

        server.enqueue(json(stateJson))
        client.dojos.state("d1", HistoryInstant.At(Instant.parse("2026-12-06T03:01:30.500Z")))
        assertEquals("2026-12-06T03:01:30.500Z", server.takeRequest().url.queryParameter("at"))

        server.enqueue(json(stateJson))
        client.dojos.state("d1")
        assertNull(server.takeRequest().url.query, "no at: the end")
    }

    @Test
    fun `diff between two instants`() = runBlocking<Unit> {
        server.enqueue(
            json(
                """{"from":"2026-12-06T03:00:00.000Z","to":"2026-12-06T03:10:00.123Z","files":[""" +
                    """{"path":"main.py","status":"modified","unified":"--- a/main.py\n+++ b/main.py\n@@ -1 +1 @@\n-x\n+y\n",""" +
                    """"inserted_lines":1,"deleted_lines":1},""" +
                    """{"path":"new.py","status":"added","unified":"","inserted_lines":0,"deleted_lines":0}]}""",
            ),
        )
        val diff = client.dojos.diff("d1", HistoryInstant.SinceStart(0), HistoryInstant.SinceStart(600_123))
        val request = server.takeRequest()
        assertEquals("+0" to "+600123", request.url.queryParameter("from") to request.url.queryParameter("to"))
        assertEquals(listOf(DiffStatus.MODIFIED, DiffStatus.ADDED), diff.files.map { it.status })
        assertEquals(1 to 1, diff.files.first().insertedLines to diff.files.first().deletedLines)
        assertEquals(true, diff.files.first().unified.contains("+y\n"))
    }

    @Test
    fun `blame ranges are UTF-16 offsets, Kotlin string indexes`() = runBlocking<Unit> {
        // "a👋b" + "ção": the emoji is two UTF-16 units, so u1 wrote [0, 4) and u2 [4, 7)
        val text = "a👋b" + "ção"
        server.enqueue(
            json(
                """{"at":"2026-12-06T03:10:00.123Z","t_ms":600123,"files":[{"path":"main.py","length":7,"ranges":[""" +
                    """{"start":0,"end":4,"user_id":"u1"},{"start":4,"end":7,"user_id":"u2"}]},""" +
                    """{"path":"seed.py","length":3,"ranges":[{"start":0,"end":3,"user_id":null}]},""" +
                    """{"path":"empty.py","length":0,"ranges":[]}]}""",
            ),
        )
        val blame = client.dojos.blame("d1", HistoryInstant.SinceStart(600_123))
        assertEquals("+600123", server.takeRequest().url.queryParameter("at"))
        val file = blame.files.first()
        assertEquals(text.length, file.length)
        assertEquals("a👋b", text.substring(file.ranges[0].start, file.ranges[0].end))
        assertEquals("ção", text.substring(file.ranges[1].start, file.ranges[1].end))
        assertEquals("u1", file.rangeAt(text.indexOf('b'))?.userId)
        assertEquals("u2", file.rangeAt(text.indexOf('ç'))?.userId)
        assertEquals("u2", file.rangeAt(text.length)?.userId, "a caret at the end: the last character's author")
        assertNull(file.rangeAt(text.length + 1))
        assertNull(blame.files[1].rangeAt(1)?.userId, "seeded text has no author")
        assertNull(blame.files[2].rangeAt(0), "an empty file")
    }

    @Test
    fun `history off is a 409 with its slug, another tenant's dojo a 404`() = runBlocking<Unit> {
        server.enqueue(problem(409, "history-off", "History is off for this tenant."))
        val off = assertThrows<ConflictException> { client.dojos.history("d1") }
        assertEquals("history-off", off.problem.slug)
        server.enqueue(problem(404, "not-found", "No such dojo."))
        assertThrows<NotFoundException> { client.dojos.state("d2") }
        server.enqueue(
            problem(422, "validation", "bad at", extra = ""","errors":[{"field":"at","code":"before_start","message":"before the start"}]"""),
        )
        val early = assertThrows<ValidationException> { client.dojos.blame("d1", HistoryInstant.At(Instant.parse("2020-01-01T00:00:00Z"))) }
        assertEquals("at", early.fieldErrors.single().field)
    }

    @Test
    fun `a replay video sends its kind, dojo and speed, and the year video is unchanged`() = runBlocking<Unit> {
        server.enqueue(json(REPLAY_VIDEO_JSON, code = 202))
        val video = client.videos.create(NewReplayVideo("d1", VideoResolution.HD, MediaLocale.PT_BR, speed = 16), "k1")
        val request = server.takeRequest()
        assertEquals("k1", request.headers["Idempotency-Key"])
        val body = Json.parseToJsonElement(request.body!!.utf8()).jsonObject
        assertEquals(
            JsonObject(
                mapOf(
                    "kind" to JsonPrimitive("dojo-replay"),
                    "dojo_id" to JsonPrimitive("d1"),
                    "speed" to JsonPrimitive(16),
                    "resolution" to JsonPrimitive("720p"),
                    "locale" to JsonPrimitive("pt-BR"),
                ),
            ),
            body,
        )
        assertEquals(VideoKind.DOJO_REPLAY, video.kind)
        assertEquals("d1" to 16.0, video.dojoId to video.speed)
        assertNull(video.period)

        server.enqueue(json(REPLAY_VIDEO_JSON.replace("\"dojo-replay\"", "\"year-in-review\""), code = 202))
        client.videos.create(NewVideo(VideoResolution.HD, MediaLocale.EN, VideoPeriod.Year(2025)), "k2")
        val year = Json.parseToJsonElement(server.takeRequest().body!!.utf8()).jsonObject
        assertEquals(setOf("period", "resolution", "locale"), year.keys, "the year video's body has no kind (its default)")
        assertThrows<IllegalArgumentException> { NewReplayVideo("d1", VideoResolution.HD, MediaLocale.EN, speed = 65) }
    }

    private companion object {
        val HISTORY_JSON: String =
            """{"dojo_id":"d1","started_at":"2026-12-06T03:00:00.000Z","ended_at":"2026-12-06T03:10:00.123Z",""" +
                """"duration_ms":600123,"history":"on","files":["main.py","test_main.py"],""" +
                """"authors":[{"user_id":"u1","display_name":"Ana Lúcia","color":"#E6194B"},""" +
                """{"user_id":"u2","display_name":null,"color":"#3CB44B"}],""" +
                """"checkpoints":[{"seq":40,"at":"2026-12-06T03:05:00.000Z","t_ms":300000}],""" +
                """"edits":[{"from":"2026-12-06T03:00:01.000Z","to":"2026-12-06T03:00:04.500Z","from_ms":1000,"to_ms":4500,""" +
                """"user_id":"u1","file":"main.py","inserted":12,"deleted":2},""" +
                """{"from":"2026-12-06T03:06:00.000Z","to":"2026-12-06T03:06:02.000Z","from_ms":360000,"to_ms":362000,""" +
                """"user_id":"u2","file":"test_main.py","inserted":30,"deleted":0}],""" +
                """"rotations":[{"at":"2026-12-06T03:05:00.000Z","t_ms":300000,"driver_id":"u2","navigator_id":null}],""" +
                """"chat":[{"id":"m1","at":"2026-12-06T03:02:00.000Z","t_ms":120000,"user_id":"u2","text":"olá 👋"}],""" +
                """"idle":[{"from_ms":10000,"to_ms":60000}],"something_new":true}"""

        val REPLAY_VIDEO_JSON: String =
            """{"id":"v1","user_id":"u1","kind":"dojo-replay","dojo_id":"d1","speed":16,"status":"queued","stage":"queued",""" +
                """"progress":0,"error":null,"resolution":"720p","locale":"pt-BR","created_at":"2026-12-06T03:20:00.000Z",""" +
                """"period":null,"period_start":null,"period_end":null}"""
    }
}
