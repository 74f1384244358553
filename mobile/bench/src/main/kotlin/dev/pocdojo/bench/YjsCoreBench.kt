package dev.pocdojo.bench

import dev.pocdojo.sdk.yjs.Doc
import dev.pocdojo.sdk.yjs.YText
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonArray
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.int
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import java.io.ByteArrayOutputStream
import java.io.DataInputStream
import java.io.DataOutputStream
import java.lang.management.ManagementFactory
import java.lang.ref.Reference
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.security.MessageDigest
import java.util.zip.GZIPInputStream
import kotlin.system.exitProcess

/**
 * The Kotlin side of `bench/yjs_cores.py` (its docstring has the protocol):
 * `java -cp ... dev.pocdojo.bench.YjsCoreBenchKt local|remote <trace.json.gz> <runs> <updates-file>`.
 * Each run is a fresh document in this JVM: the caller keeps the best run (JIT warm-up).
 */
fun main(args: Array<String>) {
    if (args.size != 4 || args[0] !in setOf("local", "remote")) {
        System.err.println("usage: YjsCoreBenchKt local|remote <trace.json.gz> <runs> <updates-file>")
        exitProcess(2)
    }
    val (mode, tracePath, runs, updatesPath) = args
    val (patches, endContent) = readTrace(Paths.get(tracePath)) // the JSON tree is garbage from here
    val times = ArrayList<Double>()
    var peakHeap = 0L
    var docHeap = 0L
    var textOk = true
    var digest = ""
    var updateBytes = 0L
    repeat(runs.toInt()) { i ->
        collectGarbage()
        val baseline = usedHeap() // before this run's inputs and document
        // The run's inputs and outputs go out of scope when measure() returns; the document stays.
        val doc = measure(mode, patches, Paths.get(updatesPath)) { r ->
            times += r.seconds
            peakHeap = maxOf(peakHeap, r.peakHeap)
            textOk = textOk && r.text.toString() == endContent
            if (i == 0) {
                digest = sha256(r.updates)
                updateBytes = r.updates.sumOf { it.size.toLong() }
                if (mode == "local") writeFrames(Paths.get(updatesPath), r.updates)
            }
        }
        collectGarbage()
        docHeap = maxOf(docHeap, usedHeap() - baseline)
        Reference.reachabilityFence(doc)
    }
    val result = buildJsonObject {
        put("impl", "kotlin")
        put("version", "dev.pocdojo.sdk.yjs, JVM ${System.getProperty("java.vm.version")}, -Xmx${Runtime.getRuntime().maxMemory() shr 20}m")
        put("mode", mode)
        put("edits", patches.size)
        put("seconds", buildJsonArray { times.forEach { add(JsonPrimitive(it)) } })
        put("peak_heap", peakHeap)
        put("doc_heap", docHeap)
        put("peak_rss", peakRss())
        put("text_ok", textOk)
        put("updates_sha256", digest)
        put("update_bytes", updateBytes)
    }
    println(result)
}

private class Patch(val pos: Int, val deleted: Int, val inserted: String)

private class Run(val doc: Doc, val text: YText, val updates: MutableList<ByteArray>, val seconds: Double, val peakHeap: Long)

private const val SAMPLE_EVERY = 10_000

private fun measure(mode: String, patches: List<Patch>, updatesPath: Path, report: (Run) -> Unit): Doc {
    val frames = if (mode == "remote") readFrames(updatesPath) else null
    collectGarbage()
    val run = if (frames == null) replayLocal(patches) else applyRemote(frames)
    report(run)
    return run.doc
}

private fun readTrace(path: Path): Pair<List<Patch>, String> {
    val trace = GZIPInputStream(Files.newInputStream(path)).use { Json.parseToJsonElement(it.readBytes().decodeToString()).jsonObject }
    return patchesOf(trace) to trace.getValue("endContent").jsonPrimitive.content
}

private fun patchesOf(trace: JsonObject): List<Patch> =
    trace.getValue("txns").jsonArray.flatMap { txn ->
        txn.jsonObject.getValue("patches").jsonArray.map {
            val (pos, deleted, inserted) = it.jsonArray
            Patch(pos.jsonPrimitive.int, deleted.jsonPrimitive.int, inserted.jsonPrimitive.content)
        }
    }

private fun replayLocal(patches: List<Patch>): Run {
    val doc = Doc(clientId = 1)
    val text = doc.getText("text")
    val updates = ArrayList<ByteArray>(patches.size)
    doc.onUpdate { update, _, _ -> updates += update }
    var peak = usedHeap()
    val started = System.nanoTime()
    for ((n, patch) in patches.withIndex()) {
        doc.transact {
            if (patch.deleted > 0) text.delete(patch.pos, patch.deleted)
            if (patch.inserted.isNotEmpty()) text.insert(patch.pos, patch.inserted)
        }
        if ((n + 1) % SAMPLE_EVERY == 0) peak = maxOf(peak, usedHeap())
    }
    val seconds = (System.nanoTime() - started) / 1e9
    return Run(doc, text, updates, seconds, maxOf(peak, usedHeap()))
}

private fun applyRemote(frames: MutableList<ByteArray>): Run {
    val doc = Doc(clientId = 2)
    val text = doc.getText("text")
    var peak = usedHeap()
    val started = System.nanoTime()
    for ((n, update) in frames.withIndex()) {
        doc.applyUpdate(update)
        if ((n + 1) % SAMPLE_EVERY == 0) peak = maxOf(peak, usedHeap())
    }
    val seconds = (System.nanoTime() - started) / 1e9
    return Run(doc, text, frames, seconds, maxOf(peak, usedHeap()))
}

private fun usedHeap(): Long = Runtime.getRuntime().let { it.totalMemory() - it.freeMemory() }

private fun collectGarbage() {
    repeat(2) { System.gc() }
    ManagementFactory.getMemoryMXBean().heapMemoryUsage // settles the figures after the collection
}

/** VmHWM of /proc/self/status (Linux): the process's peak resident set, in bytes. */
private fun peakRss(): Long =
    Files.readAllLines(Paths.get("/proc/self/status")).first { it.startsWith("VmHWM:") }
        .removePrefix("VmHWM:").trim().removeSuffix("kB").trim().toLong() * 1024

private fun readFrames(path: Path): MutableList<ByteArray> {
    val frames = ArrayList<ByteArray>()
    DataInputStream(Files.newInputStream(path).buffered()).use { input ->
        while (input.available() > 0) frames += ByteArray(input.readInt()).also { input.readFully(it) }
    }
    return frames
}

private fun writeFrames(path: Path, frames: List<ByteArray>) {
    val bytes = ByteArrayOutputStream()
    DataOutputStream(bytes).use { out -> frames.forEach { out.writeInt(it.size); out.write(it) } }
    Files.write(path, bytes.toByteArray())
}

private fun sha256(frames: List<ByteArray>): String {
    val digest = MessageDigest.getInstance("SHA-256")
    frames.forEach(digest::update)
    return digest.digest().joinToString("") { "%02x".format(it) }
}
