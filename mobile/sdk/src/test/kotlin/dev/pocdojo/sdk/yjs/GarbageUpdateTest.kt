package dev.pocdojo.sdk.yjs

import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import kotlin.random.Random

/**
 * Garbage from a peer: updates with random bytes changed, cut or inserted are either applied (and the
 * document stays usable) or refused with a [YjsException] — never another exception (a crash) — and a
 * decoding error changes nothing.
 */
class GarbageUpdateTest {
    @Test
    fun `corrupted updates raise only YjsException, and malformed ones change nothing`() {
        val sessions = Fixtures.resource("yjs-sessions.json").getValue("sessions").jsonArray.take(20)
        val random = Random(12)
        var refused = 0
        var applied = 0
        for (session in sessions) {
            val updates = session.jsonObject.getValue("updates").jsonArray.map { Fixtures.unhex(it.jsonPrimitive.content) }
            repeat(100) {
                val doc = Doc(clientId = 1)
                val known = random.nextInt(updates.size)
                updates.take(known).forEach { doc.applyUpdate(it) }
                val before = doc.encodeStateAsUpdate()
                val target = updates[random.nextInt(updates.size)]
                val garbage = corrupt(target, random)
                val accepted =
                    try {
                        doc.applyUpdate(garbage)
                        true
                    } catch (e: MalformedUpdateException) {
                        assertArrayEquals(before, doc.encodeStateAsUpdate(), "a malformed update changed the document")
                        false
                    } catch (e: YjsException) {
                        false
                    } catch (e: Exception) {
                        throw AssertionError("update ${Fixtures.hex(garbage)} on top of $known updates raised ${e.javaClass.name}", e)
                    }
                if (accepted) {
                    applied++
                    // what was accepted stays usable: read, edited, encoded and decoded elsewhere
                    Fixtures.texts(doc)
                    doc.getText("text").insert(0, "ok")
                    val copy = Doc(clientId = 2)
                    copy.applyUpdate(doc.encodeStateAsUpdate())
                    assertEquals(Fixtures.texts(doc), Fixtures.texts(copy))
                } else {
                    refused++
                }
            }
        }
        assertEquals(2000, refused + applied)
        check(refused > 100) { "too few corruptions were refused ($refused): the test is not testing" }
    }

    private fun corrupt(
        bytes: ByteArray,
        random: Random,
    ): ByteArray {
        val out = bytes.toMutableList()
        repeat(1 + random.nextInt(3)) {
            when (random.nextInt(3)) {
                0 -> if (out.isNotEmpty()) out[random.nextInt(out.size)] = random.nextInt(256).toByte()
                1 -> if (out.isNotEmpty()) out.removeAt(random.nextInt(out.size))
                else -> out.add(random.nextInt(out.size + 1), random.nextInt(256).toByte())
            }
        }
        return out.toByteArray()
    }
}
