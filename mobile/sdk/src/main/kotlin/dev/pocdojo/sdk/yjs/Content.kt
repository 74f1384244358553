package dev.pocdojo.sdk.yjs

/** A struct id: the client that made it and its clock (its position in that client's history). */
data class ID(
    val client: Long,
    val clock: Int,
)

/**
 * An item's content, one class per Yjs content ref. Decoded and written back even where the dojo does not
 * render it (formats, embeds, binaries, JSON, sub-documents), so a document carries everything it was sent.
 */
internal sealed class Content {
    abstract val ref: Int
    abstract val length: Int
    abstract val countable: Boolean

    /** Keeps [offset] units here and returns the rest (yjs `splice`). */
    open fun splice(offset: Int): Content = throw DocumentIntegrityException("content ref $ref cannot be split")

    /** Appends [right] (same class) if this kind merges; yjs `mergeWith`. */
    open fun mergeWith(right: Content): Boolean = false

    abstract fun write(
        encoder: Lib0Encoder,
        offset: Int,
    )

    open fun integrate(
        transaction: Transaction,
        item: Item,
    ) {}

    open fun delete(transaction: Transaction) {}

    open fun gc(store: StructStore) {}

    companion object {
        const val DELETED = 1
        const val JSON = 2
        const val BINARY = 3
        const val STRING = 4
        const val EMBED = 5
        const val FORMAT = 6
        const val TYPE = 7
        const val ANY = 8
        const val DOC = 9

        /** yjs `readItemContent` for the update v1 encoding. */
        fun read(
            decoder: Lib0Decoder,
            ref: Int,
        ): Content =
            when (ref) {
                DELETED -> ContentDeleted(decoder.readVarUintAsInt("deleted length"))
                JSON -> {
                    val n = decoder.readVarUintAsInt("JSON content length")
                    if (n > decoder.remaining) throw MalformedUpdateException("$n JSON values in ${decoder.remaining} bytes")
                    ContentJson(MutableList(n) { decoder.readVarString() })
                }
                BINARY -> ContentBinary(decoder.readVarUint8Array())
                STRING -> ContentString(decoder.readVarString())
                EMBED -> ContentEmbed(decoder.readVarString())
                FORMAT -> ContentFormat(decoder.readVarString(), decoder.readVarString())
                TYPE -> {
                    val typeRef = decoder.readVarUintAsInt("type ref")
                    val name =
                        when (typeRef) {
                            Branch.XML_ELEMENT, Branch.XML_HOOK -> decoder.readVarString()
                            in Branch.ARRAY..Branch.XML_TEXT -> null
                            else -> throw UnsupportedUpdateException("unknown type ref $typeRef")
                        }
                    ContentType(Branch(typeRef, name))
                }
                ANY -> {
                    val n = decoder.readVarUintAsInt("any content length")
                    if (n > decoder.remaining) throw MalformedUpdateException("$n values in ${decoder.remaining} bytes")
                    ContentAny(MutableList(n) { AnyValue.read(decoder) })
                }
                DOC -> ContentDoc(decoder.readVarString(), AnyValue.read(decoder))
                else -> throw UnsupportedUpdateException("unknown content ref $ref")
            }
    }
}

internal class ContentString(
    var str: String,
) : Content() {
    override val ref get() = STRING
    override val length get() = str.length
    override val countable get() = true

    override fun splice(offset: Int): Content {
        val right = ContentString(str.substring(offset))
        str = str.substring(0, offset)
        // As yjs (its issue 248): a surrogate pair is never split; both halves become U+FFFD.
        if (offset > 0 && str[offset - 1].isHighSurrogate()) {
            str = str.substring(0, offset - 1) + '\uFFFD'
            right.str = '\uFFFD' + right.str.substring(1)
        }
        return right
    }

    override fun mergeWith(right: Content): Boolean {
        str += (right as ContentString).str
        return true
    }

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) = encoder.writeVarString(if (offset == 0) str else str.substring(offset))
}

internal class ContentDeleted(
    var len: Int,
) : Content() {
    override val ref get() = DELETED
    override val length get() = len
    override val countable get() = false

    override fun splice(offset: Int): Content {
        val right = ContentDeleted(len - offset)
        len = offset
        return right
    }

    override fun mergeWith(right: Content): Boolean {
        len += (right as ContentDeleted).len
        return true
    }

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) = encoder.writeVarUint(len - offset)

    override fun integrate(
        transaction: Transaction,
        item: Item,
    ) {
        transaction.deleteSet.add(item.id.client, item.id.clock, len)
        item.markDeleted()
    }
}

internal class ContentAny(
    var values: MutableList<AnyValue>,
) : Content() {
    override val ref get() = ANY
    override val length get() = values.size
    override val countable get() = true

    override fun splice(offset: Int): Content {
        val right = ContentAny(values.subList(offset, values.size).toMutableList())
        values = values.subList(0, offset).toMutableList()
        return right
    }

    override fun mergeWith(right: Content): Boolean {
        values.addAll((right as ContentAny).values)
        return true
    }

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) {
        encoder.writeVarUint(values.size - offset)
        for (i in offset until values.size) encoder.writeAny(values[i])
    }
}

/** Legacy JSON content: each value kept as the JSON text it was sent as ("undefined" included). */
internal class ContentJson(
    var values: MutableList<String>,
) : Content() {
    override val ref get() = JSON
    override val length get() = values.size
    override val countable get() = true

    override fun splice(offset: Int): Content {
        val right = ContentJson(values.subList(offset, values.size).toMutableList())
        values = values.subList(0, offset).toMutableList()
        return right
    }

    override fun mergeWith(right: Content): Boolean {
        values.addAll((right as ContentJson).values)
        return true
    }

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) {
        encoder.writeVarUint(values.size - offset)
        for (i in offset until values.size) encoder.writeVarString(values[i])
    }
}

internal class ContentBinary(
    val bytes: ByteArray,
) : Content() {
    override val ref get() = BINARY
    override val length get() = 1
    override val countable get() = true

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) = encoder.writeVarUint8Array(bytes)
}

/** A rich-text embed; [json] is the embed as JSON text. */
internal class ContentEmbed(
    val json: String,
) : Content() {
    override val ref get() = EMBED
    override val length get() = 1
    override val countable get() = true

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) = encoder.writeVarString(json)
}

/** A rich-text formatting mark: attribute [key] set to [valueJson] (JSON text, "null" removes it). */
internal class ContentFormat(
    val key: String,
    val valueJson: String,
) : Content() {
    override val ref get() = FORMAT
    override val length get() = 1
    override val countable get() = false

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) {
        encoder.writeVarString(key)
        encoder.writeVarString(valueJson)
    }

    override fun integrate(
        transaction: Transaction,
        item: Item,
    ) {
        item.parent?.let {
            it.hasFormatting = true
            it.dropCache()
        }
    }
}

internal class ContentDoc(
    val guid: String,
    val options: AnyValue,
) : Content() {
    override val ref get() = DOC
    override val length get() = 1
    override val countable get() = true

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) {
        encoder.writeVarString(guid)
        encoder.writeAny(options)
    }
}

internal class ContentType(
    val type: Branch,
) : Content() {
    override val ref get() = TYPE
    override val length get() = 1
    override val countable get() = true

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) {
        encoder.writeVarUint(type.typeRef)
        if (type.typeRef == Branch.XML_ELEMENT || type.typeRef == Branch.XML_HOOK) encoder.writeVarString(type.nodeName!!)
    }

    override fun integrate(
        transaction: Transaction,
        item: Item,
    ) {
        type.doc = transaction.doc
        type.item = item
    }

    override fun delete(transaction: Transaction) {
        var item = type.start
        while (item != null) {
            if (!item.deleted) {
                item.delete(transaction)
            } else if (item.id.clock < (transaction.beforeState[item.id.client] ?: 0)) {
                transaction.mergeStructs.add(item)
            }
            item = item.right
        }
        for (entry in type.map.values) {
            if (!entry.deleted) {
                entry.delete(transaction)
            } else if (entry.id.clock < (transaction.beforeState[entry.id.client] ?: 0)) {
                transaction.mergeStructs.add(entry)
            }
        }
    }

    override fun gc(store: StructStore) {
        var item = type.start
        while (item != null) {
            item.gc(store, true)
            item = item.right
        }
        type.start = null
        type.dropCache()
        for (entry in type.map.values) {
            var e: Item? = entry
            while (e != null) {
                e.gc(store, true)
                e = e.left
            }
        }
        type.map.clear()
    }
}
