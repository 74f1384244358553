package dev.pocdojo.sdk.yjs

/**
 * One batch of changes to a [Doc]: what it deleted, the state before, the structs to merge afterwards.
 * Its cleanup (yjs `cleanupTransactions`) collects deleted content and merges adjacent structs, exactly
 * as yjs does, so this document encodes as yjs's would.
 */
class Transaction internal constructor(
    val doc: Doc,
    val origin: Any?,
    val local: Boolean,
) {
    internal val deleteSet = DeleteSet()
    internal val beforeState: Map<Long, Int> = doc.store.stateVector()
    internal var afterState: Map<Long, Int> = beforeState
    internal val mergeStructs = ArrayList<AbstractStruct>()

    internal fun cleanup() {
        val store = doc.store
        deleteSet.sortAndMerge()
        afterState = store.stateVector()
        if (doc.gc) tryGcDeleteSet(store)
        tryMergeDeleteSet(store)
        for ((client, clock) in afterState) {
            val beforeClock = beforeState[client] ?: 0
            if (beforeClock != clock) {
                val structs = store.structsOf(client)
                val firstChangePos = maxOf(StructStore.findIndex(structs, beforeClock), 1)
                var i = structs.size - 1
                while (i >= firstChangePos) i -= 1 + tryToMergeWithLefts(structs, i)
            }
        }
        for (i in mergeStructs.indices.reversed()) {
            val id = mergeStructs[i].id
            val structs = store.structsOf(id.client)
            val replacedStructPos = StructStore.findIndex(structs, id.clock)
            if (replacedStructPos + 1 < structs.size) {
                if (tryToMergeWithLefts(structs, replacedStructPos + 1) > 1) continue
            }
            if (replacedStructPos > 0) tryToMergeWithLefts(structs, replacedStructPos)
        }
    }

    /** True when this transaction changed the document (it then has an update to send). */
    internal fun hasChanges(): Boolean = !deleteSet.isEmpty() || afterState.any { (c, clock) -> beforeState[c] != clock }

    /** yjs `writeUpdateMessageFromTransaction`: the structs added since [beforeState], then the deletions. */
    internal fun encodeUpdate(): ByteArray {
        val encoder = Lib0Encoder()
        writeClientsStructs(encoder, doc.store, beforeState)
        deleteSet.write(encoder)
        return encoder.toByteArray()
    }

    private fun tryGcDeleteSet(store: StructStore) {
        for ((client, deleteItems) in deleteSet.clients) {
            val structs = store.structsOf(client)
            for (di in deleteItems.indices.reversed()) {
                val deleteItem = deleteItems[di]
                val end = deleteItem.clock + deleteItem.len
                var si = StructStore.findIndex(structs, deleteItem.clock)
                while (si < structs.size) {
                    val struct = structs[si]
                    if (struct.id.clock >= end) break
                    if (struct is Item && struct.deleted) struct.gc(store, false)
                    si++
                }
            }
        }
    }

    private fun tryMergeDeleteSet(store: StructStore) {
        for ((client, deleteItems) in deleteSet.clients) {
            val structs = store.structsOf(client)
            for (di in deleteItems.indices.reversed()) {
                val deleteItem = deleteItems[di]
                var si = minOf(structs.size - 1, 1 + StructStore.findIndex(structs, deleteItem.clock + deleteItem.len - 1))
                while (si > 0 && structs[si].id.clock >= deleteItem.clock) {
                    si -= 1 + tryToMergeWithLefts(structs, si)
                }
            }
        }
    }

    private companion object {
        /** yjs `tryToMergeWithLefts`: merges structs[pos] into its left neighbours; returns how many merged. */
        fun tryToMergeWithLefts(
            structs: ArrayList<AbstractStruct>,
            pos: Int,
        ): Int {
            var right = structs[pos]
            var i = pos
            while (i > 0) {
                val left = structs[i - 1]
                if (left.deleted == right.deleted && left.javaClass == right.javaClass && left.mergeWith(right)) {
                    if (right is Item) {
                        val parentSub = right.parentSub
                        val parent = right.parent
                        if (parentSub != null && parent != null && parent.map[parentSub] === right) {
                            parent.map[parentSub] = left as Item
                        }
                    }
                    right = left
                    i--
                    continue
                }
                break
            }
            val merged = pos - i
            if (merged > 0) structs.subList(pos + 1 - merged, pos + 1).clear()
            return merged
        }
    }
}
