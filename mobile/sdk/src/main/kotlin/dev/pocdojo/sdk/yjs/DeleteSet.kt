package dev.pocdojo.sdk.yjs

/** A range of deleted clocks of one client. */
internal class DeleteItem(
    val clock: Int,
    var len: Int,
)

/** Deleted ranges per client (yjs `DeleteSet`), written as the tail of every update. */
internal class DeleteSet {
    val clients = HashMap<Long, ArrayList<DeleteItem>>()

    fun isEmpty(): Boolean = clients.isEmpty()

    fun add(
        client: Long,
        clock: Int,
        len: Int,
    ) {
        clients.getOrPut(client) { ArrayList() }.add(DeleteItem(clock, len))
    }

    /** yjs `sortAndMergeDeleteSet`: each client's ranges sorted, overlapping or touching ones joined. */
    fun sortAndMerge() {
        for (dels in clients.values) {
            dels.sortBy { it.clock }
            var j = 1
            for (i in 1 until dels.size) {
                val left = dels[j - 1]
                val right = dels[i]
                if (left.clock + left.len >= right.clock) {
                    left.len = maxOf(left.len, right.clock + right.len - left.clock)
                } else {
                    if (j < i) dels[j] = right
                    j++
                }
            }
            while (dels.size > j) dels.removeAt(dels.size - 1)
        }
    }

    /** yjs `writeDeleteSet` (v1), clients in descending order. */
    fun write(encoder: Lib0Encoder) {
        encoder.writeVarUint(clients.size)
        for (client in clients.keys.sortedDescending()) {
            val dels = clients.getValue(client)
            encoder.writeVarUint(client)
            encoder.writeVarUint(dels.size)
            for (d in dels) {
                encoder.writeVarUint(d.clock)
                encoder.writeVarUint(d.len)
            }
        }
    }

    companion object {
        fun read(decoder: Lib0Decoder): DeleteSet {
            val ds = DeleteSet()
            val numClients = decoder.readVarUintAsInt("delete set size")
            repeat(numClients) {
                val client = decoder.readVarUint()
                val n = decoder.readVarUintAsInt("deletes of a client")
                if (n > decoder.remaining) throw MalformedUpdateException("$n deletes in ${decoder.remaining} bytes")
                repeat(n) {
                    val clock = decoder.readVarUintAsInt("delete clock")
                    val len = decoder.readVarUintAsInt("delete length")
                    if (clock.toLong() + len > Int.MAX_VALUE) throw MalformedUpdateException("delete range overflows")
                    ds.add(client, clock, len)
                }
            }
            return ds
        }

        /** yjs `createDeleteSetFromStructStore`: the deleted ranges of every client. */
        fun fromStore(store: StructStore): DeleteSet {
            val ds = DeleteSet()
            for ((client, structs) in store.clients) {
                val dels = ArrayList<DeleteItem>()
                var i = 0
                while (i < structs.size) {
                    val struct = structs[i]
                    if (struct.deleted) {
                        val clock = struct.id.clock
                        var len = struct.length
                        while (i + 1 < structs.size) {
                            val next = structs[i + 1]
                            if (!next.deleted) break
                            len += next.length
                            i++
                        }
                        dels.add(DeleteItem(clock, len))
                    }
                    i++
                }
                if (dels.isNotEmpty()) ds.clients[client] = dels
            }
            return ds
        }
    }
}
