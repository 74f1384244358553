package dev.pocdojo.sdk.yjs

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

class DocTest {
    private fun updatesOf(doc: Doc): ArrayList<ByteArray> {
        val updates = ArrayList<ByteArray>()
        doc.onUpdate { update, _, local -> if (local) updates.add(update) }
        return updates
    }

    @Test
    fun `an update that arrives before its dependency waits, then applies`() {
        val a = Doc(clientId = 1)
        val updates = updatesOf(a)
        val text = a.getMap("files").setText("main.py")
        text.insert(0, "hello")
        text.insert(5, " world")
        text.delete(0, 1)
        val b = Doc(clientId = 2)
        for (u in updates.drop(1).reversed()) b.applyUpdate(u)
        assertTrue(b.hasPending)
        assertTrue(b.stateVector().isEmpty())
        b.applyUpdate(updates[0])
        assertFalse(b.hasPending)
        assertEquals("ello world", b.getMap("files").getText("main.py").toString())
    }

    @Test
    fun `a deletion of structs not yet received waits for them`() {
        val a = Doc(clientId = 1)
        val updates = updatesOf(a)
        val text = a.getText("text")
        text.insert(0, "abc")
        text.delete(1, 1)
        val b = Doc(clientId = 2)
        b.applyUpdate(updates[1])
        assertTrue(b.hasPending)
        b.applyUpdate(updates[0])
        assertFalse(b.hasPending)
        assertEquals("ac", b.getText("text").toString())
    }

    @Test
    fun `splitting a surrogate pair turns both halves into U+FFFD, as yjs does`() {
        val doc = Doc(clientId = 1)
        val text = doc.getText("text")
        text.insert(0, "a😀b")
        text.insert(2, "X")
        assertEquals("a\uFFFDX\uFFFDb", text.toString())
        val copy = Doc(clientId = 2)
        copy.applyUpdate(doc.encodeStateAsUpdate())
        assertEquals("a\uFFFDX\uFFFDb", copy.getText("text").toString())
    }

    @Test
    fun `concurrent inserts at one place order by client id on every peer`() {
        val a = Doc(clientId = 1)
        val b = Doc(clientId = 2)
        a.getText("t").insert(0, "base")
        b.applyUpdate(a.encodeStateAsUpdate())
        a.getText("t").insert(2, "A")
        b.getText("t").insert(2, "B")
        val fromA = a.encodeStateAsUpdate(b.encodeStateVector())
        val fromB = b.encodeStateAsUpdate(a.encodeStateVector())
        a.applyUpdate(fromB)
        b.applyUpdate(fromA)
        assertEquals("baABse", a.getText("t").toString())
        assertEquals("baABse", b.getText("t").toString())
    }

    @Test
    fun `a file created on two peers at once ends as one of them everywhere`() {
        val a = Doc(clientId = 10)
        val b = Doc(clientId = 20)
        a.getMap("files").setText("x.py").insert(0, "from a")
        b.getMap("files").setText("x.py").insert(0, "from b")
        a.applyUpdate(b.encodeStateAsUpdate(a.encodeStateVector()))
        b.applyUpdate(a.encodeStateAsUpdate(b.encodeStateVector()))
        // the higher client id's item is the rightmost, hence the map's value
        assertEquals("from b", a.getMap("files").getText("x.py").toString())
        assertEquals("from b", b.getMap("files").getText("x.py").toString())
        b.getMap("files").delete("x.py")
        a.applyUpdate(b.encodeStateAsUpdate(a.encodeStateVector()))
        assertNull(a.getMap("files").getText("x.py"))
        assertEquals(emptySet<String>(), a.getMap("files").keys)
    }

    @Test
    fun `every truncation of an update is rejected and leaves the document unchanged`() {
        val source = Doc(clientId = 3)
        source.getMap("files").setText("a.txt").insert(0, "héllo 😀")
        source.getText("text").insert(0, "x")
        source.getText("text").delete(0, 1)
        val update = source.encodeStateAsUpdate()
        for (n in 0 until update.size) {
            val doc = Doc(clientId = 4)
            assertThrows<MalformedUpdateException>("prefix of $n bytes") { doc.applyUpdate(update.copyOf(n)) }
            assertTrue(doc.stateVector().isEmpty())
            assertFalse(doc.hasPending)
        }
    }

    @Test
    fun `an unknown content kind and invalid UTF-8 are explicit errors`() {
        // one struct of client 42 at clock 0, info 0x04 (a string in root "text"): "hello"
        val update = Fixtures.unhex("01012a00040104746578740568656c6c6f00")
        val unknown = update.copyOf().also { it[4] = 0x0b }
        assertThrows<UnsupportedUpdateException> { Doc().applyUpdate(unknown) }
        val badUtf8 = update.copyOf().also { it[12] = 0xff.toByte() }
        assertThrows<MalformedUpdateException> { Doc().applyUpdate(badUtf8) }
        val doc = Doc()
        doc.applyUpdate(update)
        assertEquals("hello", doc.getText("text").toString())
    }

    @Test
    fun `edits outside the text are refused`() {
        val text = Doc().getText("t")
        text.insert(0, "abc")
        assertThrows<IndexOutOfBoundsException> { text.insert(4, "x") }
        assertThrows<IndexOutOfBoundsException> { text.delete(2, 2) }
        assertThrows<IndexOutOfBoundsException> { text.insert(-1, "x") }
        assertEquals("abc", text.toString())
    }

    @Test
    fun `a root name serves one kind of type`() {
        val doc = Doc()
        doc.getText("files")
        assertThrows<IllegalStateException> { doc.getMap("files") }
    }

    @Test
    fun `getText is null for a value that is not a text`() {
        val doc = Doc()
        val files = doc.getMap("files")
        files.set("n", AnyValue.Integer(1))
        assertNull(files.getText("n"))
        assertEquals(AnyValue.Integer(1), files["n"])
        files.setText("t").insert(0, "x")
        assertEquals("x", files.getText("t").toString())
    }
}
