package dev.pocdojo.sdk.yjs

/**
 * A shared type's state (yjs `AbstractType`): its list of items from [start], its map entries (each key's
 * current item), and its visible length. [YText] and [YMap] are views of one; other kinds (arrays, XML) are
 * carried so that their updates round-trip.
 */
internal class Branch(
    /** The yjs type ref (0 array, 1 map, 2 text, 3-6 XML) or [ROOT] for a top-level type. */
    val typeRef: Int,
    /** The node name of an XML element or hook. */
    val nodeName: String?,
) {
    var doc: Doc? = null

    /** The item holding this type, null for a top-level type. */
    var item: Item? = null
    var rootName: String? = null
    var start: Item? = null
    val map = HashMap<String, Item>()
    var length = 0

    /**
     * A remembered position for index lookups (a one-entry form of yjs's search markers): the sum of the
     * visible lengths before [cacheItem] is [cacheIndex]. Any integration or deletion in this type drops it;
     * only a local text edit sets it, to a position it has just computed. Never set once the type has
     * formatting (a walk from the start is needed to know the attributes in force).
     */
    var cacheItem: Item? = null
    var cacheIndex = 0
    var hasFormatting = false

    fun dropCache() {
        cacheItem = null
    }

    fun requireDoc(): Doc = doc ?: throw IllegalStateException("the type is not part of a document")

    companion object {
        const val ROOT = -1
        const val ARRAY = 0
        const val MAP = 1
        const val TEXT = 2
        const val XML_ELEMENT = 3
        const val XML_FRAGMENT = 4
        const val XML_HOOK = 5
        const val XML_TEXT = 6
    }
}

/** A position in a text (yjs `ItemTextListPosition`), with the formatting attributes in force there. */
private class TextPosition(
    var left: Item?,
    var right: Item?,
    var index: Int,
    val attributes: HashMap<String, String>,
) {
    fun forward() {
        val r = right ?: throw IllegalStateException("cannot move past the end")
        val c = r.content
        if (c is ContentFormat) {
            if (!r.deleted) updateAttributes(attributes, c)
        } else if (!r.deleted) {
            index += r.length
        }
        left = r
        right = r.right
    }
}

private fun updateAttributes(
    attributes: HashMap<String, String>,
    format: ContentFormat,
) {
    if (format.valueJson == "null") attributes.remove(format.key) else attributes[format.key] = format.valueJson
}

/**
 * A `Y.Text`: indexes and lengths count UTF-16 code units, as in JavaScript (a Kotlin [String]'s indexes).
 * Formatting marks and embeds from other clients are kept and skipped: [toString] is the plain text.
 */
class YText internal constructor(
    internal val branch: Branch,
) {
    /** The length in UTF-16 code units (embeds count one). */
    val length: Int get() = branch.length

    override fun toString(): String {
        val sb = StringBuilder()
        var n = branch.start
        while (n != null) {
            if (!n.deleted && n.countable) (n.content as? ContentString)?.let { sb.append(it.str) }
            n = n.right
        }
        return sb.toString()
    }

    /** Inserts [text] at [index] (yjs `insert` without attributes: it takes the formatting in force there). */
    fun insert(
        index: Int,
        text: String,
    ) {
        if (index < 0 || index > branch.length) throw IndexOutOfBoundsException("index $index, length ${branch.length}")
        if (text.isEmpty()) return
        val doc = branch.requireDoc()
        doc.transact { transaction ->
            val pos = findPosition(transaction, index)
            // yjs minimizeAttributeChanges: move past deleted items and formats that change nothing
            val wanted = HashMap(pos.attributes)
            while (true) {
                val r = pos.right ?: break
                val c = r.content
                if (r.deleted || (c is ContentFormat && (wanted[c.key] ?: "null") == c.valueJson)) pos.forward() else break
            }
            val left = pos.left
            val right = pos.right
            val clientId = doc.clientId
            val item =
                Item(
                    ID(clientId, doc.store.getState(clientId)),
                    left,
                    left?.lastId,
                    right,
                    right?.id,
                    branch,
                    null,
                    null,
                    ContentString(text),
                )
            item.integrate(transaction, 0)
            remember(item, pos.index)
        }
    }

    /** Deletes [length] units from [index] (yjs `delete`). */
    fun delete(
        index: Int,
        length: Int,
    ) {
        if (index < 0 || length < 0 || index.toLong() + length > branch.length) {
            throw IndexOutOfBoundsException("delete($index, $length), length ${branch.length}")
        }
        if (length == 0) return
        val doc = branch.requireDoc()
        doc.transact { transaction ->
            val pos = findPosition(transaction, index)
            var remaining = length
            while (remaining > 0) {
                val r = pos.right ?: break
                if (!r.deleted) {
                    val c = r.content
                    if (c is ContentString || c is ContentEmbed || c is ContentType) {
                        if (remaining < r.length) {
                            doc.store.getItemCleanStart(transaction, ID(r.id.client, r.id.clock + remaining))
                        }
                        remaining -= r.length
                        r.delete(transaction)
                    }
                }
                pos.forward()
            }
            pos.right?.let { remember(it, pos.index) }
        }
    }

    private fun remember(
        item: Item,
        index: Int,
    ) {
        if (branch.hasFormatting || item.parent !== branch) return
        branch.cacheItem = item
        branch.cacheIndex = index
    }

    /**
     * yjs `findPosition` / `findNextPosition`: walks from the remembered position (or the start), splitting
     * the item at [index]. From either, the place found (after moving past deleted items) is the same.
     */
    private fun findPosition(
        transaction: Transaction,
        index: Int,
    ): TextPosition {
        val pos = TextPosition(null, branch.start, 0, HashMap())
        val cached = branch.cacheItem
        if (cached != null && !branch.hasFormatting) {
            var p: Item = cached
            var pIndex = branch.cacheIndex
            while (pIndex > index) {
                p = p.left ?: throw IllegalStateException("remembered text position is out of date")
                if (!p.deleted && p.countable) pIndex -= p.length
            }
            pos.left = p.left
            pos.right = p
            pos.index = pIndex
        }
        var count = index - pos.index
        val store = transaction.doc.store
        while (count > 0) {
            val r = pos.right ?: break
            val c = r.content
            if (c is ContentFormat) {
                if (!r.deleted) updateAttributes(pos.attributes, c)
            } else if (!r.deleted) {
                if (count < r.length) store.getItemCleanStart(transaction, ID(r.id.client, r.id.clock + count))
                pos.index += r.length
                count -= r.length
            }
            pos.left = r
            pos.right = r.right
        }
        return pos
    }

    override fun equals(other: Any?): Boolean = other is YText && other.branch === branch

    override fun hashCode(): Int = System.identityHashCode(branch)
}

/** A `Y.Map`. The dojo's document is a map `files`: path to a [YText] with that file's content. */
class YMap internal constructor(
    internal val branch: Branch,
) {
    /** The keys that have a value. */
    val keys: Set<String> get() = branch.map.filterValues { !it.deleted }.keys

    fun has(key: String): Boolean = branch.map[key]?.deleted == false

    /**
     * The value at [key]: a [YText] or [YMap] for those types, an [AnyValue] for plain values, or null.
     * Other kinds (arrays, XML, binaries, embeds, sub-documents) raise [UnsupportedOperationException].
     */
    operator fun get(key: String): Any? {
        val item = branch.map[key] ?: return null
        if (item.deleted) return null
        return when (val c = item.content) {
            is ContentAny -> c.values.last()
            is ContentType ->
                when (c.type.typeRef) {
                    Branch.TEXT -> YText(c.type)
                    Branch.MAP -> YMap(c.type)
                    else -> throw UnsupportedOperationException("type ref ${c.type.typeRef} at '$key' is not readable here")
                }
            else -> throw UnsupportedOperationException("content ref ${c.ref} at '$key' is not readable here")
        }
    }

    /** The text at [key], or null if there is none (or the value is not a text). */
    fun getText(key: String): YText? {
        val item = branch.map[key] ?: return null
        val type = (item.content as? ContentType)?.type
        return if (!item.deleted && type?.typeRef == Branch.TEXT) YText(type) else null
    }

    /** Sets [key] to a new, empty `Y.Text` and returns it (yjs `map.set(key, new Y.Text())`). */
    fun setText(key: String): YText {
        val type = Branch(Branch.TEXT, null)
        set(key, ContentType(type))
        return YText(type)
    }

    /** Sets [key] to a plain value (yjs `map.set(key, value)` for JSON-like values). */
    fun set(
        key: String,
        value: AnyValue,
    ) = set(key, ContentAny(mutableListOf(value)))

    private fun set(
        key: String,
        content: Content,
    ) {
        val doc = branch.requireDoc()
        doc.transact { transaction ->
            val left = branch.map[key]
            val clientId = doc.clientId
            Item(
                ID(clientId, doc.store.getState(clientId)),
                left,
                left?.lastId,
                null,
                null,
                branch,
                null,
                key,
                content,
            ).integrate(transaction, 0)
        }
    }

    /** Removes [key] (yjs `map.delete(key)`). */
    fun delete(key: String) {
        val doc = branch.requireDoc()
        doc.transact { transaction -> branch.map[key]?.delete(transaction) }
    }

    override fun equals(other: Any?): Boolean = other is YMap && other.branch === branch

    override fun hashCode(): Int = System.identityHashCode(branch)
}
