package dev.pocdojo.sdk.yjs

/** A run of a client's history: an [Item], a garbage-collected range ([GC]) or a gap in an update ([Skip]). */
internal sealed class AbstractStruct(
    var id: ID,
) {
    abstract val length: Int
    abstract val deleted: Boolean

    abstract fun write(
        encoder: Lib0Encoder,
        offset: Int,
    )

    /** Merges [right] into this if both are adjacent and of one kind (yjs `mergeWith`). */
    abstract fun mergeWith(right: AbstractStruct): Boolean

    /** The client this struct still waits for, or null once every dependency is in the store. */
    abstract fun getMissing(
        transaction: Transaction,
        store: StructStore,
    ): Long?

    abstract fun integrate(
        transaction: Transaction,
        offset: Int,
    )
}

internal class GC(
    id: ID,
    override var length: Int,
) : AbstractStruct(id) {
    override val deleted get() = true

    override fun mergeWith(right: AbstractStruct): Boolean {
        if (right !is GC) return false
        length += right.length
        return true
    }

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) {
        encoder.writeUint8(STRUCT_GC)
        encoder.writeVarUint(length - offset)
    }

    override fun getMissing(
        transaction: Transaction,
        store: StructStore,
    ): Long? = null

    override fun integrate(
        transaction: Transaction,
        offset: Int,
    ) {
        if (offset > 0) {
            id = ID(id.client, id.clock + offset)
            length -= offset
        }
        transaction.doc.store.addStruct(this)
    }
}

/** A gap in an update (nothing to apply): never integrated, never stored. */
internal class Skip(
    id: ID,
    override val length: Int,
) : AbstractStruct(id) {
    override val deleted get() = true

    override fun mergeWith(right: AbstractStruct): Boolean = false

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) {
        encoder.writeUint8(STRUCT_SKIP)
        encoder.writeVarUint(length - offset)
    }

    override fun getMissing(
        transaction: Transaction,
        store: StructStore,
    ): Long? = null

    override fun integrate(
        transaction: Transaction,
        offset: Int,
    ) = throw DocumentIntegrityException("a Skip struct cannot be integrated")
}

internal const val STRUCT_GC = 0
internal const val STRUCT_SKIP = 10
private const val BIT6 = 0x20
private const val BIT7 = 0x40
private const val BIT8 = 0x80
private const val BITS5 = 0x1F

/**
 * An item of a type's list (or, with [parentSub], one value of a map key), placed by YATA between [origin]
 * and [rightOrigin]. A port of yjs 13's `Item`: the same fields, integration and merge rules, so a document
 * ends, struct for struct, as yjs's does.
 */
internal class Item(
    id: ID,
    var left: Item?,
    var origin: ID?,
    var right: Item?,
    var rightOrigin: ID?,
    /** The parent type once known; null for a decoded item whose parent is given by [parentId] or its neighbours. */
    var parent: Branch?,
    /** The parent as a struct id, as decoded; resolved to [parent] by [getMissing]. */
    var parentId: ID?,
    var parentSub: String?,
    var content: Content,
) : AbstractStruct(id) {
    override var length: Int = content.length
    override var deleted: Boolean = false
        private set
    val countable: Boolean = content.countable

    val lastId: ID get() = if (length == 1) id else ID(id.client, id.clock + length - 1)

    fun markDeleted() {
        deleted = true
    }

    override fun getMissing(
        transaction: Transaction,
        store: StructStore,
    ): Long? {
        val o = origin
        if (o != null && o.client != id.client && o.clock >= store.getState(o.client)) return o.client
        val ro = rightOrigin
        if (ro != null && ro.client != id.client && ro.clock >= store.getState(ro.client)) return ro.client
        val pid = parentId
        if (pid != null && id.client != pid.client && pid.clock >= store.getState(pid.client)) return pid.client

        // Every dependency is here: find the neighbours.
        var leftStruct: AbstractStruct? = null
        var rightStruct: AbstractStruct? = null
        if (o != null) {
            leftStruct = store.getItemCleanEnd(transaction, o)
            left = leftStruct as? Item
            origin = (leftStruct as? Item)?.lastId
        }
        if (ro != null) {
            rightStruct = store.getItemCleanStart(transaction, ro)
            right = rightStruct as? Item
            rightOrigin = rightStruct.id
        }
        if (leftStruct is GC || rightStruct is GC) {
            parent = null
            parentId = null
        } else if (parent == null && pid == null) {
            // only set parent if this shouldn't be garbage collected
            val l = left
            val r = right
            if (l != null) {
                parent = l.parent
                parentSub = l.parentSub
            } else if (r != null) {
                parent = r.parent
                parentSub = r.parentSub
            }
        } else if (pid != null) {
            parentId = null
            when (val parentStruct = store.find(pid)) {
                is GC -> parent = null
                is Item ->
                    parent =
                        when (val c = parentStruct.content) {
                            is ContentType -> c.type
                            // the parent was deleted and its content collected: this is collected too
                            is ContentDeleted -> null
                            else -> throw DocumentIntegrityException("parent $pid of $id is not a type")
                        }
                is Skip -> throw DocumentIntegrityException("parent $pid of $id is a gap")
            }
        }
        return null
    }

    override fun integrate(
        transaction: Transaction,
        offset: Int,
    ) {
        val store = transaction.doc.store
        if (offset > 0) {
            id = ID(id.client, id.clock + offset)
            val l = store.getItemCleanEnd(transaction, ID(id.client, id.clock - 1))
            left = l as? Item
            origin = (l as? Item)?.lastId
            content = content.splice(offset)
            length -= offset
        }
        val parent = this.parent
        val parentSub = this.parentSub
        if (parent == null) {
            // No parent (or a collected neighbour): integrate a GC struct instead.
            GC(id, length).integrate(transaction, 0)
            return
        }
        if ((left == null && (right == null || right!!.left != null)) || (left != null && left!!.right !== right)) {
            var newLeft = left
            // o: the first conflicting item
            var o: Item? =
                when {
                    newLeft != null -> newLeft.right
                    parentSub != null -> parent.map[parentSub]?.let { first(it) }
                    else -> parent.start
                }
            val conflictingItems = HashSet<AbstractStruct>()
            val itemsBeforeOrigin = HashSet<AbstractStruct>()
            while (o != null && o !== right) {
                itemsBeforeOrigin.add(o)
                conflictingItems.add(o)
                if (origin == o.origin) {
                    // case 1
                    if (o.id.client < id.client) {
                        newLeft = o
                        conflictingItems.clear()
                    } else if (rightOrigin == o.rightOrigin) {
                        // same integration points: the id decides, and this comes first
                        break
                    }
                } else {
                    val oOrigin = o.origin
                    val originItem = if (oOrigin != null) store.find(oOrigin) else null
                    if (originItem != null && itemsBeforeOrigin.contains(originItem)) {
                        // case 2
                        if (!conflictingItems.contains(originItem)) {
                            newLeft = o
                            conflictingItems.clear()
                        }
                    } else {
                        break
                    }
                }
                o = o.right
            }
            left = newLeft
        }
        // reconnect left/right and the parent's start / map entry
        val l = left
        if (l != null) {
            right = l.right
            l.right = this
        } else {
            val r: Item?
            if (parentSub != null) {
                r = parent.map[parentSub]?.let { first(it) }
            } else {
                r = parent.start
                parent.start = this
            }
            right = r
        }
        val r = right
        if (r != null) {
            r.left = this
        } else if (parentSub != null) {
            // the current value of the key: the previous one is overwritten
            parent.map[parentSub] = this
            left?.delete(transaction)
        }
        if (parentSub == null && countable && !deleted) parent.length += length
        parent.dropCache()
        store.addStruct(this)
        content.integrate(transaction, this)
        if ((parent.item?.deleted == true) || (parentSub != null && right != null)) {
            // the parent is deleted, or this is not the current value of its key
            delete(transaction)
        }
    }

    private fun first(item: Item): Item {
        var i = item
        while (true) i = i.left ?: return i
    }

    fun delete(transaction: Transaction) {
        if (deleted) return
        val parent = this.parent ?: throw DocumentIntegrityException("deleting $id, which has no parent")
        if (countable && parentSub == null) parent.length -= length
        parent.dropCache()
        markDeleted()
        transaction.deleteSet.add(id.client, id.clock, length)
        content.delete(transaction)
    }

    /** Drops the content of a deleted item; [parentGCd]: its parent went too, so it becomes a [GC] struct. */
    fun gc(
        store: StructStore,
        parentGCd: Boolean,
    ) {
        if (!deleted) throw DocumentIntegrityException("collecting $id, which is not deleted")
        content.gc(store)
        if (parentGCd) {
            store.replaceStruct(this, GC(id, length))
        } else {
            content = ContentDeleted(length)
        }
    }

    override fun mergeWith(right: AbstractStruct): Boolean {
        if (right is Item &&
            right.origin == lastId &&
            this.right === right &&
            rightOrigin == right.rightOrigin &&
            id.client == right.id.client &&
            id.clock + length == right.id.clock &&
            deleted == right.deleted &&
            content.javaClass == right.content.javaClass &&
            content.mergeWith(right.content)
        ) {
            val parent = this.parent
            if (parent != null && parent.cacheItem === right) {
                // right is absorbed: the remembered position moves to this item's start
                parent.cacheItem = this
                if (!deleted && countable) parent.cacheIndex -= length
            }
            this.right = right.right
            this.right?.left = this
            length += right.length
            return true
        }
        return false
    }

    override fun write(
        encoder: Lib0Encoder,
        offset: Int,
    ) {
        val origin = if (offset > 0) ID(id.client, id.clock + offset - 1) else this.origin
        val rightOrigin = this.rightOrigin
        val parentSub = this.parentSub
        val info =
            (content.ref and BITS5) or
                (if (origin == null) 0 else BIT8) or
                (if (rightOrigin == null) 0 else BIT7) or
                (if (parentSub == null) 0 else BIT6)
        encoder.writeUint8(info)
        if (origin != null) encoder.writeId(origin)
        if (rightOrigin != null) encoder.writeId(rightOrigin)
        if (origin == null && rightOrigin == null) {
            val parent = this.parent ?: throw DocumentIntegrityException("writing $id, which has no parent")
            val parentItem = parent.item
            if (parentItem == null) {
                encoder.writeVarUint(1)
                encoder.writeVarString(parent.rootName ?: throw DocumentIntegrityException("a root type without a name"))
            } else {
                encoder.writeVarUint(0)
                encoder.writeId(parentItem.id)
            }
            if (parentSub != null) encoder.writeVarString(parentSub)
        }
        content.write(encoder, offset)
    }

    companion object {
        /** yjs `readClientsStructRefs`, one item (the info byte already read). */
        fun read(
            decoder: Lib0Decoder,
            info: Int,
            id: ID,
            doc: Doc,
        ): Item {
            val origin = if (info and BIT8 != 0) decoder.readId() else null
            val rightOrigin = if (info and BIT7 != 0) decoder.readId() else null
            val cantCopyParentInfo = info and (BIT7 or BIT8) == 0
            var parent: Branch? = null
            var parentId: ID? = null
            if (cantCopyParentInfo) {
                if (decoder.readVarUint() == 1L) {
                    parent = doc.rootBranch(decoder.readVarString())
                } else {
                    parentId = decoder.readId()
                }
            }
            val parentSub = if (cantCopyParentInfo && info and BIT6 != 0) decoder.readVarString() else null
            val content = Content.read(decoder, info and BITS5)
            if (content.length == 0) throw MalformedUpdateException("empty content in $id")
            return Item(id, null, origin, null, rightOrigin, parent, parentId, parentSub, content)
        }
    }
}

internal fun Lib0Encoder.writeId(id: ID) {
    writeVarUint(id.client)
    writeVarUint(id.clock)
}

internal fun Lib0Decoder.readId(): ID = ID(readVarUint(), readVarUintAsInt("clock"))
