package dev.pocdojo.sdk.yjs

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Test
import java.nio.file.Files
import java.util.zip.GZIPInputStream

/**
 * A real sequential editing history (tests/data/editing-traces/sveltecomponent.json.gz, see ATTRIBUTION.md)
 * replayed through the Kotlin core ends with the trace's endContent: locally, on a peer fed every update,
 * from the encoded state, and in yjs decoding that state.
 */
class EditingTraceTest {
    private fun trace(name: String): JsonObject {
        val path = Fixtures.repoRoot.resolve("tests/data/editing-traces/$name")
        val text = GZIPInputStream(Files.newInputStream(path)).use { it.readBytes().decodeToString() }
        return Json.parseToJsonElement(text).jsonObject
    }

    @Test
    fun `sveltecomponent replayed in Kotlin ends with its endContent`() {
        val trace = trace("sveltecomponent.json.gz")
        val endContent = trace.getValue("endContent").jsonPrimitive.content
        val txns = trace.getValue("txns").jsonArray
        // Trace positions count code points; with no character outside the BMP they are UTF-16 indexes.
        val inserts = txns.flatMap { t -> t.jsonObject.getValue("patches").jsonArray.map { it.jsonArray[2].jsonPrimitive.content } }
        check((inserts + endContent).none { s -> s.any { it.isSurrogate() } }) { "this replay assumes BMP-only text" }

        val doc = Doc(clientId = 1)
        val peer = Doc(clientId = 2)
        doc.onUpdate { update, _, _ -> peer.applyUpdate(update) }
        val text = doc.getText("text")
        text.insert(0, trace["startContent"]?.jsonPrimitive?.content ?: "")
        var patches = 0
        val started = System.nanoTime()
        for (txn in txns) {
            doc.transact {
                for (patch in txn.jsonObject.getValue("patches").jsonArray) {
                    val (pos, deleted, inserted) = patch.jsonArray
                    if (deleted.jsonPrimitive.int > 0) text.delete(pos.jsonPrimitive.int, deleted.jsonPrimitive.int)
                    if (inserted.jsonPrimitive.content.isNotEmpty()) text.insert(pos.jsonPrimitive.int, inserted.jsonPrimitive.content)
                    patches++
                }
            }
        }
        val seconds = (System.nanoTime() - started) / 1e9
        println("sveltecomponent: $patches patches in ${txns.size} transactions, %.2f s with a peer applying each update".format(seconds))

        assertEquals(endContent, text.toString())
        assertEquals(endContent, peer.getText("text").toString())
        assertFalse(peer.hasPending)
        val state = doc.encodeStateAsUpdate()
        val fresh = Doc(clientId = 3)
        fresh.applyUpdate(state)
        assertEquals(endContent, fresh.getText("text").toString())

        val input = Files.createTempFile("trace-state", ".json")
        try {
            Files.writeString(input, """{"sessions":[{"updates":[],"state":"${Fixtures.hex(state)}"}]}""")
            val result = Json.parseToJsonElement(Fixtures.node("tests/js/kotlin_vectors.mjs", "check", input.toString())).jsonArray
            assertEquals(endContent, result[0].jsonObject.getValue("byState").jsonObject.getValue("text").jsonPrimitive.content)
        } finally {
            Files.deleteIfExists(input)
        }
    }
}
