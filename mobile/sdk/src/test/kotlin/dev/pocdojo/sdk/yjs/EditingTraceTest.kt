package dev.pocdojo.sdk.yjs

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Test
import java.nio.file.Files

/**
 * A real sequential editing history (tests/data/editing-traces/sveltecomponent.json.gz, see ATTRIBUTION.md)
 * replayed through the Kotlin core ends with the trace's endContent: locally, on a peer fed every update,
 * from the encoded state, and in yjs decoding that state.
 */
class EditingTraceTest {
    @Test
    fun `sveltecomponent replayed in Kotlin ends with its endContent`() {
        val trace = SequentialTrace.load("sveltecomponent.json.gz")
        val endContent = trace.endContent

        val doc = Doc(clientId = 1)
        val peer = Doc(clientId = 2)
        doc.onUpdate { update, _, _ -> peer.applyUpdate(update) }
        val text = doc.getText("text")
        text.insert(0, trace.startContent)
        val started = System.nanoTime()
        for (txn in trace.txns) {
            doc.transact { txn.forEach { it.applyTo(text) } }
        }
        val seconds = (System.nanoTime() - started) / 1e9
        println("sveltecomponent: ${trace.patchCount} patches in ${trace.txns.size} transactions, %.2f s with a peer applying each update".format(seconds))

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
