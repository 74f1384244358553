package dev.pocdojo.app.screens

import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import dev.pocdojo.app.core.gateway.Dojo
import dev.pocdojo.app.core.gateway.JobStage
import dev.pocdojo.app.core.gateway.JobStatus
import dev.pocdojo.app.core.gateway.JoinedDojo
import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.gateway.Report
import dev.pocdojo.app.core.gateway.ReportFormat
import dev.pocdojo.app.core.gateway.ReportStage
import dev.pocdojo.app.core.gateway.ReportStatus
import dev.pocdojo.app.core.gateway.Video
import dev.pocdojo.app.core.room.ChatLine
import dev.pocdojo.app.core.room.RoomInfo
import dev.pocdojo.app.core.room.RoomParticipant
import dev.pocdojo.app.core.testing.FakeRooms
import kotlinx.serialization.json.Json

/** A tenant's POCs as the list screen would show them. */
object Catalogue {
    val pocs: List<Poc> =
        listOf(
            poc(1, "Pix QR code in Go", "Go", listOf("payments", "pix"), "Dynamic Pix charges with webhooks and retries."),
            poc(2, "Kafka outbox", "Kotlin", listOf("events", "kafka"), "Transactional outbox with Debezium."),
            poc(3, "Feature flags at the edge", "TypeScript", listOf("cdn", "flags"), "Flags evaluated in a worker."),
            poc(4, "Boleto parser", "Python", listOf("payments"), "Reads the barcode line of a bank slip."),
            poc(5, "gRPC streaming chat", "Go", listOf("grpc", "streaming"), ""),
            poc(6, "Postgres row-level security", "SQL", listOf("multi-tenant", "postgres"), "One policy per tenant."),
            poc(7, "Offline-first notes", "Kotlin", listOf("crdt", "mobile"), "Yjs documents synced over WebSocket."),
            poc(8, "Rate limiter with Redis", "Python", listOf("redis"), "Sliding window in a Lua script."),
            poc(9, "OpenTelemetry traces", "Java", listOf("observability"), "Spans from the gateway to the database."),
        )

    private fun poc(index: Int, name: String, language: String, tags: List<String>, description: String) =
        Poc(
            id = "poc-$index",
            name = name,
            description = description,
            githubUrl = "https://github.com/acme/poc-$index",
            language = language,
            tags = tags,
            ownerId = "user-1",
            createdAt = "2026-11-0${index}T12:00:00Z",
            updatedAt = "2026-11-0${index}T12:00:00Z",
        )

    /** My reports: one running (with its stage and progress), one done, one failed with the server's reason. */
    val reports: List<Report> =
        listOf(
            Report("r-3", ReportFormat.PDF, ReportStatus.RUNNING, ReportStage.RENDERING, 62, null, 48, null, "2026-12-05T14:32:00Z"),
            Report("r-2", ReportFormat.CSV, ReportStatus.DONE, ReportStage.DONE, 100, null, 48, 18_734, "2026-12-05T14:05:00Z"),
            Report(
                "r-1", ReportFormat.PDF, ReportStatus.FAILED, ReportStage.READING, 10,
                "The report took longer than 900 seconds and was stopped.", 48, null, "2026-12-04T09:12:00Z",
            ),
        )

    /** My video being made: ffmpeg's progress while rendering. */
    val videoRunning: Video = Video("v-2", JobStatus.RUNNING, JobStage.RENDERING, 57, null, 12, null, null, "2026-12-05T14:40:00Z")

    /** My video, done: 48 s of 12 POCs. */
    val videoDone: Video = Video("v-1", JobStatus.DONE, JobStage.DONE, 100, null, 12, 48.0, 5_242_880, "2026-12-05T14:05:00Z")

    /**
     * The picture behind a thumbnail URL, drawn here (no network): a title card like the video's first one
     * (the replay video's: the dojo and its authors).
     * The VideoView draws no video on Robolectric; the thumbnail is what the screen shows over it.
     */
    fun thumbnail(url: String): Bitmap {
        check(url.startsWith("https://store.test/")) { "not a fake signed URL: $url" }
        val bitmap = Bitmap.createBitmap(640, 360, Bitmap.Config.ARGB_8888)
        val canvas = Canvas(bitmap)
        canvas.drawColor(Color.rgb(0x14, 0x36, 0x61))
        val paint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
            color = Color.WHITE
            textSize = 44f
            textAlign = Paint.Align.CENTER
        }
        val replay = url.startsWith("https://store.test/${ReplayCatalogue.videoDone.id}.")
        canvas.drawText(if (replay) "FizzBuzz em dupla" else "Ana Souza", 320f, 160f, paint)
        paint.textSize = 28f
        paint.color = Color.rgb(0xE0, 0x7A, 0x1F)
        canvas.drawText(if (replay) "Ana Souza · Bruno Lima · 24:00" else "12 POCs · 2025-12 – 2026-12", 320f, 215f, paint)
        return bitmap
    }

    /** A POC with accents in its name, description and tags (the detail and editor screens). */
    val pixBoleto: Poc =
        Poc(
            id = "poc-acentos",
            name = "Emissão de boletos e cobrança Pix",
            description = "Geração de boletos registrados e QR codes Pix dinâmicos, com conciliação automática e notificação ao pagador.",
            githubUrl = "https://github.com/acme/cobranca-pix",
            language = "Kotlin",
            tags = listOf("pagamentos", "pix", "boleto", "conciliação"),
            ownerId = "ana",
            createdAt = "2026-11-20T14:30:00Z",
            updatedAt = "2026-12-03T09:15:00Z",
        )

    /** The tenant's active dojos, newest first; the second is in its host's lobby. */
    val dojos: List<Dojo> =
        listOf(
            Dojo("dojo-1", "Bowling kata", null, "ana", true, "2026-12-05T20:00:00Z", lobby = false),
            Dojo("dojo-2", "Refatorando o legado de boletos", "poc-acentos", "bruno", true, "2026-12-05T19:40:00Z", lobby = true),
            Dojo("dojo-3", "Roman numerals in Go", null, "carla", true, "2026-12-05T18:05:00Z", lobby = false),
            Dojo("dojo-4", "Kafka outbox pairing", "poc-2", "davi", true, "2026-12-05T16:30:00Z", lobby = false),
            Dojo(ReplayCatalogue.DOJO, "FizzBuzz em dupla", null, "ana", false, "2026-12-04T18:00:00Z"),
        )

    /** A randori in the dojo room: Ana drives (this device), Bruno's caret and Carla's selection are in main.py. */
    val room: JoinedDojo = JoinedDojo(Dojo("dojo-1", "Bowling kata", null, "ana", true, "2026-12-05T20:00:00Z"), "dojo-1", "driver", true)

    val rooms: FakeRooms by lazy { rooms() }

    /**
     * The Bowling kata's room as [me] sees it: Ana hosts; with [randori] she drives and a turn is under way.
     * Bruno's caret and Carla's selection are in bowling.py.
     */
    fun rooms(me: String = "ana", randori: Boolean = true): FakeRooms {
        val people =
            listOf(
                RoomParticipant("ana", "Ana Souza", "driver", host = true, online = true, waiting = false, canEdit = true),
                RoomParticipant("bruno", "Bruno Lima", "navigator", host = false, online = true, waiting = false, canEdit = !randori),
                RoomParticipant("carla", "Carla Dias", "navigator", host = false, online = true, waiting = false, canEdit = !randori),
                RoomParticipant("davi", "Davi Rocha", "observer", host = false, online = me == "davi", waiting = false, canEdit = false),
            )
        val info =
            if (randori) {
                RoomInfo("Bowling kata", "ana", people, false, false, false, "ana", System.currentTimeMillis() + 95_000)
            } else {
                RoomInfo("Bowling kata", "ana", people, false, false, false, null, null)
            }
        return FakeRooms(
            me = me,
            info = info,
            messages =
                listOf(
                    ChatLine("m1", "bruno", "Shall we start with the gutter game?", 1),
                    ChatLine("m2", "ana", "Yes, all zeros first.", 2),
                    ChatLine("m3", "carla", "Then the spare.", 3),
                ),
            // the others' cursors (not mine: awareness echoes this device's own state under its client id only)
            presence =
                mapOf(
                    "bruno" to (101L to Json.parseToJsonElement("""{"user":{"id":"bruno","name":"Bruno Lima","color":"#3cb44b"},"cursor":{"file":"bowling.py","anchor":40,"head":40}}""")),
                    "carla" to (102L to Json.parseToJsonElement("""{"user":{"id":"carla","name":"Carla Dias","color":"#4363d8"},"cursor":{"file":"bowling.py","anchor":71,"head":95}}""")),
                ).filterKeys { it != me }.values.toMap(),
        ) { doc ->
            val files = doc.getMap("files")
            files.setText("bowling.py").insert(
                0,
                "def score(rolls):\n    total = 0\n    frame = 0\n    for _ in range(10):\n        if rolls[frame] == 10:\n            total += 10 + rolls[frame + 1] + rolls[frame + 2]\n            frame += 1\n        else:\n            total += rolls[frame] + rolls[frame + 1]\n            frame += 2\n    return total\n",
            )
            files.setText("test_bowling.py").insert(0, "from bowling import score\n\n\ndef test_gutter_game():\n    assert score([0] * 20) == 0\n")
        }
    }
}
