package dev.pocdojo.sdk.yjs

/** An update v1, decoded but not applied: structs per client in clock order, then the deletions. */
internal class DecodedUpdate(
    val structs: LinkedHashMap<Long, ArrayList<AbstractStruct>>,
    val deletes: DeleteSet,
)

/** yjs `readClientsStructRefs` + `readDeleteSet`; root types named by the update are created in [doc]. */
internal fun decodeUpdate(
    update: ByteArray,
    doc: Doc,
): DecodedUpdate {
    val decoder = Lib0Decoder(update)
    val structs = LinkedHashMap<Long, ArrayList<AbstractStruct>>()
    val numOfStateUpdates = decoder.readVarUintAsInt("client count")
    repeat(numOfStateUpdates) {
        val numberOfStructs = decoder.readVarUintAsInt("struct count")
        if (numberOfStructs > decoder.remaining) {
            throw MalformedUpdateException("$numberOfStructs structs in ${decoder.remaining} bytes")
        }
        val client = decoder.readVarUint()
        var clock = decoder.readVarUintAsInt("clock")
        val refs = structs.getOrPut(client) { ArrayList(numberOfStructs) }
        repeat(numberOfStructs) {
            val info = decoder.readUint8()
            val id = ID(client, clock)
            val struct: AbstractStruct =
                when (info and 0x1F) {
                    STRUCT_GC -> GC(id, decoder.readVarUintAsInt("GC length"))
                    STRUCT_SKIP -> Skip(id, decoder.readVarUintAsInt("Skip length"))
                    else -> Item.read(decoder, info, id, doc)
                }
            if (struct.length <= 0) throw MalformedUpdateException("empty struct at $id")
            if (clock.toLong() + struct.length > Int.MAX_VALUE) throw MalformedUpdateException("clock overflow at $id")
            clock += struct.length
            refs.add(struct)
        }
    }
    val deletes = DeleteSet.read(decoder)
    return DecodedUpdate(structs, deletes)
}

/**
 * yjs `integrateStructs`: integrates every struct whose dependencies are present, following missing ones
 * through the update's other clients with a stack; what still lacks a dependency is returned (per client,
 * in clock order) to wait in the store's pending structs.
 */
internal fun integrateStructs(
    transaction: Transaction,
    store: StructStore,
    clientsStructRefs: Map<Long, List<AbstractStruct>>,
): HashMap<Long, ArrayList<AbstractStruct>>? {
    class Refs(
        val refs: List<AbstractStruct>,
        var i: Int = 0,
    )

    val refsOf = HashMap<Long, Refs>()
    for ((client, refs) in clientsStructRefs) if (refs.isNotEmpty()) refsOf[client] = Refs(refs)
    // higher client ids first (taken from the end)
    val clientIds = refsOf.keys.sorted().toMutableList()
    if (clientIds.isEmpty()) return null
    val stack = ArrayList<AbstractStruct>()
    val rest = HashMap<Long, ArrayList<AbstractStruct>>()
    val state = HashMap<Long, Int>()

    fun nextTarget(): Refs? {
        while (clientIds.isNotEmpty()) {
            val target = refsOf.getValue(clientIds[clientIds.size - 1])
            if (target.i < target.refs.size) return target
            clientIds.removeAt(clientIds.size - 1)
        }
        return null
    }

    fun addStackToRest() {
        // Each stacked struct was taken from its client's refs: it waits, with everything after it.
        val touched = LinkedHashSet<Long>()
        for (item in stack) {
            rest.getOrPut(item.id.client) { ArrayList() }.add(item)
            touched.add(item.id.client)
        }
        for (client in touched) {
            val list = rest.getValue(client)
            val refs = refsOf.remove(client)
            if (refs != null) {
                list.addAll(refs.refs.subList(refs.i, refs.refs.size))
                refs.i = refs.refs.size
            }
            list.sortBy { it.id.clock }
            clientIds.remove(client)
        }
        stack.clear()
    }

    var current = nextTarget() ?: return null
    var stackHead: AbstractStruct = current.refs[current.i++]
    var curTarget: Refs? = current
    while (true) {
        if (stackHead !is Skip) {
            val client = stackHead.id.client
            val localClock = state.getOrPut(client) { store.getState(client) }
            val offset = localClock - stackHead.id.clock
            if (offset < 0) {
                // an earlier struct of the same client is missing
                stack.add(stackHead)
                addStackToRest()
            } else {
                val missing = stackHead.getMissing(transaction, store)
                if (missing != null) {
                    stack.add(stackHead)
                    val structRefs = refsOf[missing]
                    if (structRefs == null || structRefs.i == structRefs.refs.size) {
                        // depends on an update that has not arrived
                        addStackToRest()
                    } else {
                        stackHead = structRefs.refs[structRefs.i++]
                        continue
                    }
                } else if (offset == 0 || offset < stackHead.length) {
                    stackHead.integrate(transaction, offset)
                    state[client] = stackHead.id.clock + stackHead.length
                }
            }
        }
        if (stack.isNotEmpty()) {
            stackHead = stack.removeAt(stack.size - 1)
        } else {
            val target = curTarget
            if (target != null && target.i < target.refs.size) {
                stackHead = target.refs[target.i++]
            } else {
                curTarget = nextTarget() ?: break
                stackHead = curTarget.refs[curTarget.i++]
            }
        }
    }
    return if (rest.isEmpty()) null else rest
}

/**
 * yjs `readAndApplyDeleteSet`: deletes every range whose structs are present; returns the ranges
 * (or parts) beyond a client's known state, to wait as pending deletions.
 */
internal fun applyDeleteSet(
    transaction: Transaction,
    store: StructStore,
    ds: DeleteSet,
): DeleteSet? {
    val unapplied = DeleteSet()
    for ((client, deletes) in ds.clients) {
        val structs = store.clients[client]
        val state = store.getState(client)
        for (d in deletes) {
            val clock = d.clock
            val clockEnd = d.clock + d.len
            if (clock < state && structs != null) {
                if (state < clockEnd) unapplied.add(client, state, clockEnd - state)
                var index = StructStore.findIndex(structs, clock)
                var struct = structs[index]
                // split the first item if necessary
                if (!struct.deleted && struct.id.clock < clock && struct is Item) {
                    structs.add(index + 1, StructStore.splitItem(transaction, struct, clock - struct.id.clock))
                    index++
                }
                while (index < structs.size) {
                    struct = structs[index++]
                    if (struct.id.clock >= clockEnd) break
                    if (!struct.deleted && struct is Item) {
                        if (clockEnd < struct.id.clock + struct.length) {
                            structs.add(index, StructStore.splitItem(transaction, struct, clockEnd - struct.id.clock))
                        }
                        struct.delete(transaction)
                    }
                }
            } else if (d.len > 0) {
                unapplied.add(client, clock, d.len)
            }
        }
    }
    return if (unapplied.isEmpty()) null else unapplied
}

/** yjs `writeClientsStructs`: per client (descending), the structs past [targetState]. */
internal fun writeClientsStructs(
    encoder: Lib0Encoder,
    store: StructStore,
    targetState: Map<Long, Int>,
) {
    val sm = HashMap<Long, Int>()
    for ((client, clock) in targetState) if (store.getState(client) > clock) sm[client] = clock
    for (client in store.clients.keys) if (!targetState.containsKey(client)) sm[client] = 0
    encoder.writeVarUint(sm.size)
    for (client in sm.keys.sortedDescending()) {
        val structs = store.structsOf(client)
        val clock = maxOf(sm.getValue(client), structs[0].id.clock)
        val start = StructStore.findIndex(structs, clock)
        encoder.writeVarUint(structs.size - start)
        encoder.writeVarUint(client)
        encoder.writeVarUint(clock)
        val first = structs[start]
        first.write(encoder, clock - first.id.clock)
        for (i in start + 1 until structs.size) structs[i].write(encoder, 0)
    }
}

/** yjs `encodeStateVector` (v1): client and clock pairs, clients in descending order. */
internal fun encodeStateVector(sv: Map<Long, Int>): ByteArray {
    val encoder = Lib0Encoder()
    encoder.writeVarUint(sv.size)
    for (client in sv.keys.sortedDescending()) {
        encoder.writeVarUint(client)
        encoder.writeVarUint(sv.getValue(client))
    }
    return encoder.toByteArray()
}

/** yjs `decodeStateVector`. */
fun decodeStateVector(bytes: ByteArray): Map<Long, Int> {
    val decoder = Lib0Decoder(bytes)
    val n = decoder.readVarUintAsInt("state vector size")
    if (n > decoder.remaining) throw MalformedUpdateException("$n state vector entries in ${decoder.remaining} bytes")
    val sv = LinkedHashMap<Long, Int>()
    repeat(n) {
        val client = decoder.readVarUint()
        sv[client] = decoder.readVarUintAsInt("clock")
    }
    return sv
}
