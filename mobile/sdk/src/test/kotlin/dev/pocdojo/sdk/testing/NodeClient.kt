package dev.pocdojo.sdk.testing

import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.withTimeout
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import java.io.BufferedWriter
import java.nio.file.Files
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds

/**
 * A real y-websocket 3.x client (`tests/js/client.mjs`: yjs + `WebsocketProvider`) in a Node process,
 * driven with its JSON-lines commands. [events] collects what it reports (status, permission denied...).
 */
class NodeClient private constructor(
    private val process: Process,
) : AutoCloseable {
    private val input: BufferedWriter = process.outputStream.bufferedWriter()
    private val pending = ConcurrentHashMap<Int, CompletableDeferred<JsonObject>>()
    private val ids = AtomicInteger()
    val events: MutableList<JsonObject> = CopyOnWriteArrayList()
    private val stderr = StringBuffer()

    init {
        Thread {
            process.inputStream.bufferedReader().forEachLine { line ->
                val obj = Json.parseToJsonElement(line).jsonObject
                val id = (obj["id"] as? JsonPrimitive)?.content?.toIntOrNull()
                if (id != null) pending.remove(id)?.complete(obj) else events.add(obj)
            }
        }.apply { isDaemon = true }.start()
        Thread { process.errorStream.bufferedReader().forEachLine { stderr.appendLine(it) } }.apply { isDaemon = true }.start()
    }

    /** Sends one command and returns its reply; a failed command fails the test with the client's error. */
    suspend fun command(
        cmd: String,
        args: JsonObject = JsonObject(emptyMap()),
    ): JsonObject {
        val id = ids.incrementAndGet()
        val reply = CompletableDeferred<JsonObject>()
        pending[id] = reply
        val line = JsonObject(args + mapOf("cmd" to JsonPrimitive(cmd), "id" to JsonPrimitive(id))).toString()
        synchronized(input) {
            input.write(line)
            input.newLine()
            input.flush()
        }
        val result = withTimeout(30.seconds) { reply.await() }
        check(result["ok"]?.jsonPrimitive?.content == "true") { "node client: $cmd failed: $result\n$stderr" }
        return result
    }

    suspend fun insert(
        file: String,
        index: Int,
        text: String,
    ) = command(
        "insert",
        buildJsonObject {
            put("file", file)
            put("index", index)
            put("text", text)
        },
    )

    suspend fun text(file: String): String = command("get", buildJsonObject { put("file", file) }).getValue("text").jsonPrimitive.content

    suspend fun waitSynced() = command("waitSynced", buildJsonObject { put("timeout", 20000) })

    suspend fun waitText(
        file: String,
        text: String,
    ) = command(
        "waitText",
        buildJsonObject {
            put("file", file)
            put("text", text)
            put("timeout", 20000)
        },
    )

    override fun close() {
        process.destroy()
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly()
    }

    companion object {
        fun start(
            collabUrl: String,
            room: String,
            ticket: String,
        ): NodeClient {
            check(Files.isDirectory(repoRoot.resolve("tests/js/node_modules/y-websocket"))) {
                "tests/js/node_modules is missing: run `make install-node` in $repoRoot"
            }
            val script = repoRoot.resolve("tests/js/client.mjs")
            val params = buildJsonObject { put("ticket", ticket) }.toString()
            val process =
                ProcessBuilder("node", script.toString(), "--url", collabUrl, "--room", room, "--params", params)
                    .directory(repoRoot.resolve("tests/js").toFile())
                    .start()
            return NodeClient(process)
        }
    }
}
