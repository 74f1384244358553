package dev.pocdojo.sdk.yjs

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.util.concurrent.TimeUnit

/** Helpers shared by the Yjs core's tests: hex, fixtures, the dojo layout's texts, the reference tools. */
object Fixtures {
    /** The repository root (set by surefire; the tests run in mobile/sdk). */
    val repoRoot: Path = Paths.get(System.getProperty("pocdojo.repoRoot") ?: "../..").toAbsolutePath().normalize()

    fun hex(bytes: ByteArray): String = bytes.joinToString("") { "%02x".format(it.toInt() and 0xFF) }

    fun unhex(s: String): ByteArray = ByteArray(s.length / 2) { s.substring(it * 2, it * 2 + 2).toInt(16).toByte() }

    fun resource(name: String): JsonObject {
        val stream = Fixtures::class.java.getResourceAsStream("/$name") ?: error("test resource $name is missing")
        return Json.parseToJsonElement(stream.use { it.readBytes().decodeToString() }).jsonObject
    }

    /** The dojo layout's content as the generators write it: files by path (null: not a text), and "text". */
    fun texts(doc: Doc): JsonObject {
        val files = doc.getMap("files")
        val byPath = sortedMapOf<String, JsonElement>()
        for (key in files.keys) byPath[key] = files.getText(key)?.let { JsonPrimitive(it.toString()) } ?: JsonNull
        return JsonObject(mapOf("files" to JsonObject(byPath), "text" to JsonPrimitive(doc.getText("text").toString())))
    }

    fun expectedTexts(session: JsonObject): JsonObject {
        val files = session.getValue("files").jsonObject
        return JsonObject(mapOf("files" to JsonObject(files.toSortedMap()), "text" to session.getValue("text")))
    }

    fun str(element: JsonElement?): String = element!!.jsonPrimitive.content

    /**
     * Runs a reference tool (node or the project's Python) with [args] and returns its standard output.
     * A missing tool is a failure that says how to install it, never a skip.
     */
    fun run(
        args: List<String>,
        hint: String,
    ): String {
        val exe = Paths.get(args[0])
        if (exe.isAbsolute && !Files.isExecutable(exe)) error("${args[0]} is missing: $hint")
        val out = Files.createTempFile("yjs-tool-out", ".json")
        val err = Files.createTempFile("yjs-tool-err", ".txt")
        try {
            val process =
                ProcessBuilder(args)
                    .directory(repoRoot.toFile())
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .start()
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly()
                error("${args.joinToString(" ")} did not finish in 120 s")
            }
            check(process.exitValue() == 0) { "${args.joinToString(" ")} failed ($hint):\n${Files.readString(err)}" }
            return Files.readString(out)
        } finally {
            Files.deleteIfExists(out)
            Files.deleteIfExists(err)
        }
    }

    fun node(vararg args: String): String {
        val modules = repoRoot.resolve("tests/js/node_modules/yjs")
        check(Files.isDirectory(modules)) { "tests/js/node_modules is missing: run `make install-node`" }
        return run(listOf("node") + args, "install Node.js 20 and run `make install-node`")
    }

    fun python(vararg args: String): String =
        run(listOf(repoRoot.resolve(".venv/bin/python").toString()) + args, "run `make install` (the project .venv has pycrdt)")
}
