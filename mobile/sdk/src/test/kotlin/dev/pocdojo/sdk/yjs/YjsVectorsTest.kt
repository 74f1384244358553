package dev.pocdojo.sdk.yjs

import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import kotlin.random.Random

/**
 * Updates made by the reference implementations (random concurrent sessions of the dojo layout,
 * `tests/js/kotlin_vectors.mjs` and `mobile/tools/pycrdt_vectors.py`) decode and apply in Kotlin, in any
 * order, to the same texts; applied in yjs's order they encode to yjs's very bytes.
 */
class YjsVectorsTest {
    private fun sessions(resource: String): List<JsonObject> =
        Fixtures.resource(resource).getValue("sessions").jsonArray.map { it.jsonObject }

    private fun updates(session: JsonObject): List<ByteArray> = session.getValue("updates").jsonArray.map { Fixtures.unhex(it.jsonPrimitive.content) }

    @TestFactory
    fun `yjs updates applied in order give yjs's texts, state bytes and state vector`(): List<DynamicTest> =
        sessions("yjs-sessions.json").map { session ->
            DynamicTest.dynamicTest("seed ${session["seed"]}") {
                val doc = Doc(clientId = 7)
                updates(session).forEach { doc.applyUpdate(it) }
                assertFalse(doc.hasPending)
                assertEquals(Fixtures.expectedTexts(session), Fixtures.texts(doc))
                assertEquals(Fixtures.str(session["state"]), Fixtures.hex(doc.encodeStateAsUpdate()))
                assertEquals(Fixtures.str(session["stateVector"]), Fixtures.hex(doc.encodeStateVector()))
            }
        }

    @TestFactory
    fun `yjs updates applied in random orders converge, nothing left pending`(): List<DynamicTest> = shuffled("yjs-sessions.json")

    @TestFactory
    fun `pycrdt updates applied in random orders converge, nothing left pending`(): List<DynamicTest> = shuffled("pycrdt-sessions.json")

    private fun shuffled(resource: String): List<DynamicTest> =
        sessions(resource).map { session ->
            DynamicTest.dynamicTest("seed ${session["seed"]}") {
                val expected = Fixtures.expectedTexts(session)
                val random = Random(session.getValue("seed").jsonPrimitive.content.toLong())
                repeat(4) {
                    val doc = Doc(clientId = 7)
                    updates(session).shuffled(random).forEach { doc.applyUpdate(it) }
                    assertFalse(doc.hasPending, "a dependency is still pending")
                    assertEquals(expected, Fixtures.texts(doc))
                    // its state, and the diff against a peer holding part of it, rebuild the same document
                    val fromState = Doc(clientId = 8)
                    fromState.applyUpdate(doc.encodeStateAsUpdate())
                    assertEquals(expected, Fixtures.texts(fromState))
                    val partial = Doc(clientId = 9)
                    updates(session).take(updates(session).size / 2).forEach { partial.applyUpdate(it) }
                    partial.applyUpdate(doc.encodeStateAsUpdate(partial.encodeStateVector()))
                    assertFalse(partial.hasPending)
                    assertEquals(expected, Fixtures.texts(partial))
                }
            }
        }

    @TestFactory
    fun `the merged state of the reference decodes to its texts`(): List<DynamicTest> =
        (sessions("yjs-sessions.json") + sessions("pycrdt-sessions.json")).map { session ->
            DynamicTest.dynamicTest("seed ${session["seed"]}") {
                val doc = Doc(clientId = 7)
                doc.applyUpdate(Fixtures.unhex(Fixtures.str(session["state"])))
                assertEquals(Fixtures.expectedTexts(session), Fixtures.texts(doc))
                assertEquals(decodeStateVector(Fixtures.unhex(Fixtures.str(session["stateVector"]))), doc.stateVector())
            }
        }
}
