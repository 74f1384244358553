package dev.pocdojo.sdk.yjs

/** Every client's structs in clock order, contiguous from clock 0 (yjs `StructStore`). */
internal class StructStore {
    val clients = HashMap<Long, ArrayList<AbstractStruct>>()

    /** Structs received before what they depend on, per client, in clock order (yjs `pendingStructs`). */
    var pendingStructs: HashMap<Long, ArrayList<AbstractStruct>>? = null

    /** Deletions of structs not received yet (yjs `pendingDs`). */
    var pendingDeletes: DeleteSet? = null

    fun getState(client: Long): Int {
        val structs = clients[client] ?: return 0
        val last = structs[structs.size - 1]
        return last.id.clock + last.length
    }

    fun stateVector(): HashMap<Long, Int> {
        val sv = HashMap<Long, Int>(clients.size * 2)
        for ((client, structs) in clients) {
            val last = structs[structs.size - 1]
            sv[client] = last.id.clock + last.length
        }
        return sv
    }

    fun addStruct(struct: AbstractStruct) {
        val structs = clients.getOrPut(struct.id.client) { ArrayList() }
        if (structs.isNotEmpty()) {
            val last = structs[structs.size - 1]
            if (last.id.clock + last.length != struct.id.clock) {
                throw DocumentIntegrityException("struct ${struct.id} does not follow ${last.id} (length ${last.length})")
            }
        } else if (struct.id.clock != 0) {
            throw DocumentIntegrityException("first struct of client ${struct.id.client} starts at ${struct.id.clock}")
        }
        structs.add(struct)
    }

    fun structsOf(client: Long): ArrayList<AbstractStruct> =
        clients[client] ?: throw DocumentIntegrityException("no struct of client $client")

    fun find(id: ID): AbstractStruct {
        val structs = structsOf(id.client)
        return structs[findIndex(structs, id.clock)]
    }

    /** Splits if needed so that a struct starts at [id] (yjs `getItemCleanStart`); returns that struct. */
    fun getItemCleanStart(
        transaction: Transaction,
        id: ID,
    ): AbstractStruct {
        val structs = structsOf(id.client)
        val index = findIndex(structs, id.clock)
        val struct = structs[index]
        if (struct.id.clock < id.clock && struct is Item) {
            val right = splitItem(transaction, struct, id.clock - struct.id.clock)
            structs.add(index + 1, right)
            return right
        }
        return struct
    }

    /** Splits if needed so that a struct ends at [id] (yjs `getItemCleanEnd`); returns that struct. */
    fun getItemCleanEnd(
        transaction: Transaction,
        id: ID,
    ): AbstractStruct {
        val structs = structsOf(id.client)
        val index = findIndex(structs, id.clock)
        val struct = structs[index]
        if (id.clock != struct.id.clock + struct.length - 1 && struct is Item) {
            structs.add(index + 1, splitItem(transaction, struct, id.clock - struct.id.clock + 1))
        }
        return struct
    }

    fun replaceStruct(
        old: AbstractStruct,
        new: AbstractStruct,
    ) {
        val structs = structsOf(old.id.client)
        structs[findIndex(structs, old.id.clock)] = new
    }

    companion object {
        /** yjs `findIndexSS`: the index of the struct holding [clock] (interpolation, then binary search). */
        fun findIndex(
            structs: List<AbstractStruct>,
            clock: Int,
        ): Int {
            var left = 0
            var right = structs.size - 1
            if (right < 0) throw DocumentIntegrityException("clock $clock looked up in an empty history")
            var mid = structs[right]
            var midClock = mid.id.clock
            if (midClock == clock) return right
            var midIndex = ((clock.toDouble() / (midClock + mid.length - 1).toDouble()) * right).toInt()
            while (left <= right) {
                if (midIndex < left || midIndex > right) midIndex = (left + right) / 2
                mid = structs[midIndex]
                midClock = mid.id.clock
                if (midClock <= clock) {
                    if (clock < midClock + mid.length) return midIndex
                    left = midIndex + 1
                } else {
                    right = midIndex - 1
                }
                midIndex = (left + right) / 2
            }
            throw DocumentIntegrityException("clock $clock is outside the known history")
        }

        /** yjs `splitItem`: [left] keeps [diff] units, the returned item holds the rest. */
        fun splitItem(
            transaction: Transaction,
            left: Item,
            diff: Int,
        ): Item {
            val client = left.id.client
            val clock = left.id.clock
            val right =
                Item(
                    ID(client, clock + diff),
                    left,
                    ID(client, clock + diff - 1),
                    left.right,
                    left.rightOrigin,
                    left.parent,
                    null,
                    left.parentSub,
                    left.content.splice(diff),
                )
            if (left.deleted) right.markDeleted()
            left.right = right
            right.right?.left = right
            transaction.mergeStructs.add(right)
            val parentSub = right.parentSub
            if (parentSub != null && right.right == null) right.parent!!.map[parentSub] = right
            left.length = diff
            return right
        }
    }
}
