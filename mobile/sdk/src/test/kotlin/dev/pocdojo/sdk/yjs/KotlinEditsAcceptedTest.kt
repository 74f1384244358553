package dev.pocdojo.sdk.yjs

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.boolean
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import java.nio.file.Files
import kotlin.random.Random

/**
 * Property test, Kotlin to the references: random concurrent sessions of Kotlin clients (the dojo layout,
 * late and partial delivery) converge, and every update they produce is accepted by yjs
 * (tests/js/kotlin_vectors.mjs check) and pycrdt (mobile/tools/pycrdt_vectors.py check) with the same texts,
 * nothing pending, and yjs re-encoding the result to Kotlin's very bytes.
 *
 * Random UTF-16 positions split surrogate pairs (emoji); yjs turns both halves into U+FFFD and so does this
 * core, but pycrdt (yrs) does not agree with yjs there (its own yjs sessions differ too): pycrdt checks
 * sessions whose edits fall on code point boundaries, yjs checks both kinds.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KotlinEditsAcceptedTest {
    private class Session(
        val seed: Int,
        val updates: List<ByteArray>,
        val state: ByteArray,
        val texts: JsonObject,
    )

    private lateinit var aligned: List<Session>
    private lateinit var anywhere: List<Session>

    private val pieces = listOf("a", "b", "xyz", " ", "\n", "fun f() {}\n", "é", "ção", "中文", "😀", "👍🏽", "🇧🇷", "\t")
    private val paths = listOf("main.kt", "README.md", "src/calc.py")

    private fun edit(
        doc: Doc,
        random: Random,
        align: Boolean,
    ) {
        val roll = random.nextDouble()
        if (roll < 0.15) {
            editText(doc.getText("text"), random, align)
            return
        }
        val files = doc.getMap("files")
        val path = paths.random(random)
        val file = files.getText(path)
        when {
            file == null || roll < 0.2 -> files.setText(path)
            roll < 0.23 -> files.delete(path)
            else -> doc.transact { repeat(1 + random.nextInt(3)) { editText(file, random, align) } }
        }
    }

    private fun editText(
        text: YText,
        random: Random,
        align: Boolean,
    ) {
        // a position, moved off the middle of a surrogate pair when [align]
        val content = if (align) text.toString() else ""

        fun at(index: Int): Int = if (align && index in 1 until content.length && content[index].isLowSurrogate()) index - 1 else index
        if (text.length > 0 && random.nextDouble() < 0.4) {
            val index = at(random.nextInt(text.length))
            val end = at(index + 1 + random.nextInt(minOf(8, text.length - index)))
            if (end > index) text.delete(index, end - index)
        } else {
            text.insert(at(random.nextInt(text.length + 1)), pieces.random(random))
        }
    }

    private fun session(
        seed: Int,
        align: Boolean,
    ): Session {
        val random = Random(seed)
        val n = 2 + random.nextInt(3)
        val docs = List(n) { Doc(clientId = 1L + random.nextLong(0xFFFFFFFEL)) }
        val inboxes = List(n) { ArrayList<ByteArray>() }
        val updates = ArrayList<ByteArray>()
        docs.forEachIndexed { i, doc ->
            doc.onUpdate { update, _, local ->
                if (local) {
                    updates.add(update)
                    inboxes.forEachIndexed { j, inbox -> if (j != i) inbox.add(update) }
                }
            }
        }

        fun deliver(
            j: Int,
            all: Boolean,
        ) {
            val inbox = inboxes[j]
            val k = if (all) inbox.size else random.nextInt(inbox.size + 1)
            val batch = inbox.subList(0, k).toList()
            inbox.subList(0, k).clear()
            batch.forEach { docs[j].applyUpdate(it) }
        }
        repeat(20 + random.nextInt(40)) {
            val doc = docs[random.nextInt(n)]
            repeat(1 + random.nextInt(4)) { edit(doc, random, align) }
            if (random.nextBoolean()) deliver(random.nextInt(n), false)
        }
        repeat(2) { for (j in 0 until n) deliver(j, true) }
        val expected = Fixtures.texts(docs[0])
        docs.forEach {
            assertEquals(expected, Fixtures.texts(it), "seed $seed: Kotlin clients differ")
            assertFalse(it.hasPending)
        }
        val merged = Doc(clientId = 1)
        updates.forEach { merged.applyUpdate(it) }
        assertEquals(expected, Fixtures.texts(merged))
        return Session(seed, updates, merged.encodeStateAsUpdate(), expected)
    }

    @BeforeAll
    fun makeSessions() {
        aligned = (1..25).map { session(it, align = true) }
        anywhere = (101..125).map { session(it, align = false) }
        // the split pairs did happen
        check(anywhere.any { s -> '\uFFFD' in s.texts.toString() })
    }

    private fun input(sessions: List<Session>): String {
        val json =
            JsonObject(
                mapOf(
                    "sessions" to
                        JsonArray(
                            sessions.map { s ->
                                JsonObject(
                                    mapOf(
                                        "seed" to JsonPrimitive(s.seed),
                                        "updates" to JsonArray(s.updates.map { JsonPrimitive(Fixtures.hex(it)) }),
                                        "state" to JsonPrimitive(Fixtures.hex(s.state)),
                                    ),
                                )
                            },
                        ),
                ),
            )
        return json.toString()
    }

    private fun check(
        sessions: List<Session>,
        run: (String) -> String,
    ): List<JsonObject> {
        val file = Files.createTempFile("kotlin-yjs-sessions", ".json")
        try {
            Files.writeString(file, input(sessions))
            return Json.parseToJsonElement(run(file.toString())).jsonArray.map { it.jsonObject }
        } finally {
            Files.deleteIfExists(file)
        }
    }

    @Test
    fun `yjs applies every Kotlin update and state to the same texts and re-encodes Kotlin's bytes`() {
        val sessions = aligned + anywhere
        val results = check(sessions) { Fixtures.node("tests/js/kotlin_vectors.mjs", "check", it) }
        assertEquals(sessions.size, results.size)
        sessions.zip(results).forEach { (s, r) ->
            assertEquals(s.texts, r["byUpdates"], "seed ${s.seed}: yjs applying the updates")
            assertEquals(s.texts, r["byState"], "seed ${s.seed}: yjs applying the state")
            assertFalse(r.getValue("pending").jsonPrimitive.boolean, "seed ${s.seed}: yjs has pending structs")
            assertEquals(Fixtures.hex(s.state), r.getValue("reencoded").jsonPrimitive.content, "seed ${s.seed}: state bytes")
        }
    }

    @Test
    fun `pycrdt applies every Kotlin update and state to the same texts`() {
        val sessions = aligned
        val results = check(sessions) { Fixtures.python("mobile/tools/pycrdt_vectors.py", "check", it) }
        assertEquals(sessions.size, results.size)
        sessions.zip(results).forEach { (s, r) ->
            assertEquals(s.texts, r["byUpdates"], "seed ${s.seed}: pycrdt applying the updates")
            assertEquals(s.texts, r["byState"], "seed ${s.seed}: pycrdt applying the state")
        }
    }
}
