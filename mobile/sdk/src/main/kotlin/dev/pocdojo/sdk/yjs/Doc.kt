package dev.pocdojo.sdk.yjs

import java.security.SecureRandom
import java.util.concurrent.CopyOnWriteArrayList

/** Receives each update a transaction made: the update v1 bytes, the transaction's origin, whether it was local. */
fun interface UpdateListener {
    fun onUpdate(
        update: ByteArray,
        origin: Any?,
        local: Boolean,
    )
}

/**
 * A Yjs document (yjs 13 `Y.Doc`), byte-compatible with yjs and pycrdt for text and maps of texts.
 * Not thread-safe: confine a document to one thread (or guard it with one lock).
 */
class Doc(
    clientId: Long = randomClientId(),
    /** Drop deleted content as yjs does by default (`gc: true`). */
    val gc: Boolean = true,
) {
    var clientId: Long = clientId
        private set

    internal val store = StructStore()
    private val share = LinkedHashMap<String, Branch>()
    private val rootKinds = HashMap<String, Int>()
    private var current: Transaction? = null
    private val listeners = CopyOnWriteArrayList<UpdateListener>()

    init {
        require(clientId in 0..MAX_SAFE_INTEGER) { "client id must be in 0..2^53-1" }
    }

    internal fun rootBranch(name: String): Branch =
        share.getOrPut(name) {
            Branch(Branch.ROOT, null).also {
                it.doc = this
                it.rootName = name
            }
        }

    private fun root(
        name: String,
        kind: Int,
    ): Branch {
        val known = rootKinds.getOrPut(name) { kind }
        check(known == kind) { "root type '$name' is already used as another kind" }
        return rootBranch(name)
    }

    /** The top-level `Y.Text` named [name] (yjs `doc.getText(name)`). */
    fun getText(name: String = ""): YText = YText(root(name, Branch.TEXT))

    /** The top-level `Y.Map` named [name] (yjs `doc.getMap(name)`); the dojo keeps its files in `files`. */
    fun getMap(name: String = ""): YMap = YMap(root(name, Branch.MAP))

    /** Runs [block] in one transaction (nested calls join the open one) and emits one update for it. */
    fun <T> transact(
        origin: Any? = null,
        block: (Transaction) -> T,
    ): T = transact(origin, true, block)

    private fun <T> transact(
        origin: Any?,
        local: Boolean,
        block: (Transaction) -> T,
    ): T {
        current?.let { return block(it) }
        val transaction = Transaction(this, origin, local)
        current = transaction
        var update: ByteArray? = null
        try {
            return block(transaction)
        } finally {
            current = null
            transaction.cleanup()
            if (!local && transaction.afterState[clientId] != transaction.beforeState[clientId]) {
                // another peer uses our client id: take a new one, as yjs does
                clientId = randomClientId()
            }
            if (listeners.isNotEmpty() && transaction.hasChanges()) update = transaction.encodeUpdate()
            update?.let { u -> listeners.forEach { it.onUpdate(u, origin, local) } }
        }
    }

    /**
     * yjs `applyUpdate` (v1). The whole update is decoded before anything changes: malformed bytes raise
     * [MalformedUpdateException] / [UnsupportedUpdateException] and leave the document as it was. Structs
     * (and deletions) whose dependencies have not arrived wait in the document until they do.
     */
    fun applyUpdate(
        update: ByteArray,
        origin: Any? = null,
    ) {
        val decoded = decodeUpdate(update, this)
        transact(origin, false) { transaction ->
            val refs = LinkedHashMap<Long, ArrayList<AbstractStruct>>()
            store.pendingStructs?.let { pending -> for ((c, list) in pending) refs[c] = ArrayList(list) }
            store.pendingStructs = null
            for ((c, list) in decoded.structs) refs.getOrPut(c) { ArrayList() }.addAll(list)
            for (list in refs.values) list.sortBy { it.id.clock }
            store.pendingStructs = integrateStructs(transaction, store, refs)
            val pendingDeletes = store.pendingDeletes
            store.pendingDeletes = null
            val restDeletes = applyDeleteSet(transaction, store, decoded.deletes)
            val restPending = pendingDeletes?.let { applyDeleteSet(transaction, store, it) }
            store.pendingDeletes =
                when {
                    restDeletes == null -> restPending
                    restPending == null -> restDeletes
                    else -> restDeletes.also { ds -> for ((c, l) in restPending.clients) l.forEach { ds.add(c, it.clock, it.len) } }
                }
        }
    }

    /** yjs `encodeStateAsUpdate(doc, stateVector)`: everything the holder of [encodedStateVector] lacks. */
    fun encodeStateAsUpdate(encodedStateVector: ByteArray? = null): ByteArray {
        val target = if (encodedStateVector == null) emptyMap() else decodeStateVector(encodedStateVector)
        val encoder = Lib0Encoder()
        writeClientsStructs(encoder, store, target)
        DeleteSet.fromStore(store).write(encoder)
        return encoder.toByteArray()
    }

    /** yjs `encodeStateVector(doc)`. */
    fun encodeStateVector(): ByteArray = encodeStateVector(store.stateVector())

    /** Client id to next clock, for every client this document has structs of. */
    fun stateVector(): Map<Long, Int> = store.stateVector()

    /** True while received structs or deletions wait for updates that have not arrived. */
    val hasPending: Boolean get() = store.pendingStructs != null || store.pendingDeletes != null

    /** Calls [listener] after each transaction that changed the document; close the result to stop. */
    fun onUpdate(listener: UpdateListener): AutoCloseable {
        listeners.add(listener)
        return AutoCloseable { listeners.remove(listener) }
    }

    companion object {
        private val random = SecureRandom()

        /** A random 32-bit client id, as yjs makes them. */
        fun randomClientId(): Long = random.nextInt().toLong() and 0xFFFFFFFFL
    }
}
