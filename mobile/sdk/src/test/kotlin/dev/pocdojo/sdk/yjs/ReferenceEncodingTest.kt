package dev.pocdojo.sdk.yjs

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Byte-for-byte against what yjs / lib0 write, asked of the reference at test time. */
class ReferenceEncodingTest {
    private val lib0 = Json.parseToJsonElement(Fixtures.node("tests/js/vectors.mjs")).jsonObject

    private val contents by lazy { Json.parseToJsonElement(Fixtures.node("tests/js/kotlin_vectors.mjs", "contents")).jsonObject }

    private fun ref(key: String): String = lib0.getValue(key).jsonPrimitive.content

    @Test
    fun `varUint and varString encode as lib0 does`() {
        for (n in listOf(0L, 1L, 127L, 128L, 300L, 16384L, 4294967295L, MAX_SAFE_INTEGER)) {
            val encoder = Lib0Encoder()
            encoder.writeVarUint(n)
            assertEquals(ref("varUint:$n"), Fixtures.hex(encoder.toByteArray()))
            assertEquals(n, Lib0Decoder(encoder.toByteArray()).readVarUint())
        }
        // keys as vectors.mjs names them (JSON.stringify of the string)
        val strings = mapOf("\"\"" to "", "\"hi\"" to "hi", "\"é\"" to "é", "\"\uD83D\uDE00\"" to "😀", "\"a\\ud800b\"" to "a\uD800b")
        for ((key, s) in strings) {
            val encoder = Lib0Encoder()
            encoder.writeVarString(s)
            assertEquals(ref("varString:$key"), Fixtures.hex(encoder.toByteArray()), "varString $key")
        }
    }

    @Test
    fun `an insert into a fresh text is yjs's update`() {
        val doc = Doc(clientId = 42)
        doc.getText("text").insert(0, "hello")
        assertEquals(ref("update"), Fixtures.hex(doc.encodeStateAsUpdate()))
    }

    @Test
    fun `every content kind yjs writes is decoded, carried and written back unchanged`() {
        val reference = contents
        val doc = Doc(clientId = 77)
        val emitted = ArrayList<ByteArray>()
        doc.onUpdate { update, _, _ -> emitted.add(update) }
        val updates = reference.getValue("updates").jsonArray.map { Fixtures.unhex(it.jsonPrimitive.content) }
        updates.forEach { doc.applyUpdate(it) }
        assertFalse(doc.hasPending)
        assertEquals(reference.getValue("state").jsonPrimitive.content, Fixtures.hex(doc.encodeStateAsUpdate()))
        assertEquals(reference.getValue("stateVector").jsonPrimitive.content, Fixtures.hex(doc.encodeStateVector()))
        assertEquals(reference.getValue("rich").jsonPrimitive.content, doc.getText("rich").toString())
        // a remote update is re-emitted as it was made
        updates.zip(emitted).forEach { (sent, seen) -> assertArrayEquals(sent, seen) }
        val m = doc.getMap("m")
        assertEquals(AnyValue.Integer(43), m["int"])
        assertEquals(null, m["neg"])
        assertEquals(AnyValue.Float64(Math.PI), m["pi"])
        assertEquals(AnyValue.Str("é😀"), m["str"])
        assertEquals(AnyValue.Obj(mapOf("a" to AnyValue.Integer(1), "b" to AnyValue.Obj(mapOf("c" to AnyValue.Str("d"))))), m["obj"])
        assertEquals(AnyValue.BigInt64(1L shl 60), m["bigint"])
        // a sub-document is carried, not readable here: not a text either
        assertNull(m.getText("sub"))
        assertThrows<UnsupportedOperationException> { m["sub"] }
    }

    @Test
    fun `a merged update with a gap (Skip) waits for the update that fills it`() {
        val skip = contents.getValue("skip").jsonObject
        val doc = Doc(clientId = 1)
        doc.applyUpdate(Fixtures.unhex(skip.getValue("merged").jsonPrimitive.content))
        assertTrue(doc.hasPending)
        assertEquals("ab", doc.getText("s").toString())
        doc.applyUpdate(Fixtures.unhex(skip.getValue("missing").jsonPrimitive.content))
        assertFalse(doc.hasPending)
        assertEquals(skip.getValue("text").jsonPrimitive.content, doc.getText("s").toString())
    }

    @Test
    fun `legacy JSON content is carried and written back unchanged`() {
        // client 1, clock 0, info 0x02 (JSON) in root "a": two values, the JSON texts "x" and 1; no deletions
        val update = Fixtures.unhex("010101000201016102" + "03227822" + "0131" + "00")
        val doc = Doc(clientId = 2)
        doc.applyUpdate(update)
        assertEquals(Fixtures.hex(update), Fixtures.hex(doc.encodeStateAsUpdate()))
    }
}
