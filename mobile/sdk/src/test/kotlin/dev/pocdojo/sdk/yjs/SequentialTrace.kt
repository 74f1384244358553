package dev.pocdojo.sdk.yjs

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import java.nio.file.Files
import java.util.zip.GZIPInputStream

/**
 * A sequential editing history from tests/data/editing-traces/ (see ATTRIBUTION.md there): the text it
 * starts from, its transactions of `[position, deleted, inserted]` patches, and the text it must end with.
 */
class SequentialTrace(
    val startContent: String,
    val endContent: String,
    val txns: List<List<Patch>>,
) {
    class Patch(
        val position: Int,
        val deleted: Int,
        val inserted: String,
    ) {
        /** Applies this patch to [text]: delete, then insert, at [position]. */
        fun applyTo(text: YText) {
            if (deleted > 0) text.delete(position, deleted)
            if (inserted.isNotEmpty()) text.insert(position, inserted)
        }
    }

    val patchCount: Int get() = txns.sumOf { it.size }

    companion object {
        /**
         * Loads `tests/data/editing-traces/[name]`. Trace positions count code points; the replays index
         * UTF-16, so a trace with characters outside the BMP is refused here rather than replayed wrong.
         */
        fun load(name: String): SequentialTrace {
            val path = Fixtures.repoRoot.resolve("tests/data/editing-traces/$name")
            val json = GZIPInputStream(Files.newInputStream(path)).use { Json.parseToJsonElement(it.readBytes().decodeToString()).jsonObject }
            val txns =
                json.getValue("txns").jsonArray.map { txn ->
                    txn.jsonObject.getValue("patches").jsonArray.map { patch ->
                        val (position, deleted, inserted) = patch.jsonArray
                        Patch(position.jsonPrimitive.int, deleted.jsonPrimitive.int, inserted.jsonPrimitive.content)
                    }
                }
            val trace = SequentialTrace(json["startContent"]?.jsonPrimitive?.content ?: "", json.getValue("endContent").jsonPrimitive.content, txns)
            val texts = txns.flatMap { txn -> txn.map { it.inserted } } + trace.endContent + trace.startContent
            check(texts.none { s -> s.any { it.isSurrogate() } }) { "$name: this replay assumes BMP-only text" }
            return trace
        }
    }
}
