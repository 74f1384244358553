package dev.pocdojo.sdk.realtime.testing

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.extension.ExtensionContext
import org.junit.jupiter.api.extension.ParameterContext
import org.junit.jupiter.api.extension.ParameterResolver
import java.net.ServerSocket
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.util.concurrent.TimeUnit

/** The repository root (set by surefire; the tests run in mobile/sdk). */
val repoRoot: Path = Paths.get(System.getProperty("pocdojo.repoRoot") ?: "../..").toAbsolutePath().normalize()

/**
 * The real backend, `pocdojo dev` on 127.0.0.1 and a free port with a temporary state dir (embedded
 * PostgreSQL), started once per test run by [BackendExtension] and stopped (SIGTERM: it stops its
 * PostgreSQL too) when the run ends, whatever happened.
 */
class Backend private constructor(
    private val process: Process,
    private val stateDir: Path,
    val port: Int,
) : AutoCloseable {
    val baseUrl = "http://127.0.0.1:$port"
    val api = TestApi(baseUrl)

    /** The demo tenant's administrator (created by `pocdojo dev`). */
    val demo: Login by lazy {
        val json = Json.parseToJsonElement(Files.readString(stateDir.resolve("demo-login.json"))).jsonObject
        Login(json.getValue("tenant").jsonPrimitive.content, json.getValue("username").jsonPrimitive.content, json.getValue("password").jsonPrimitive.content)
    }

    override fun close() {
        process.destroy()
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(10, TimeUnit.SECONDS)
        }
        stateDir.toFile().deleteRecursively()
        Files.deleteIfExists(logFile(stateDir))
    }

    companion object {
        private fun logFile(stateDir: Path): Path = stateDir.resolveSibling(stateDir.fileName.toString() + ".log")

        fun start(): Backend {
            val pocdojo = repoRoot.resolve(".venv/bin/pocdojo")
            check(Files.isExecutable(pocdojo)) { "$pocdojo is missing: run `make install install-node` in the repository root" }
            check(Files.isDirectory(repoRoot.resolve("tests/js/node_modules/y-websocket"))) {
                "tests/js/node_modules is missing: run `make install-node` in the repository root"
            }
            val port = ServerSocket(0).use { it.localPort }
            val stateDir = Files.createTempDirectory("pocdojo-sdk-rt")
            val log = logFile(stateDir)
            val process =
                ProcessBuilder(pocdojo.toString(), "dev", "--host", "127.0.0.1", "--port", "$port", "--state-dir", stateDir.toString())
                    .directory(repoRoot.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start()
            val backend = Backend(process, stateDir, port)
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120)
            while (!backend.api.healthy()) {
                if (!process.isAlive) error("pocdojo dev exited with ${process.exitValue()}:\n${Files.readString(log)}")
                if (System.nanoTime() > deadline) {
                    backend.close()
                    error("pocdojo dev did not answer /healthz in 120 s:\n${Files.readString(log)}")
                }
                Thread.sleep(200)
            }
            return backend
        }
    }
}

data class Login(
    val tenant: String,
    val username: String,
    val password: String,
)

/** Injects the one [Backend] of the test run (started on first use, closed when the run ends). */
class BackendExtension : ParameterResolver {
    override fun supportsParameter(
        parameterContext: ParameterContext,
        extensionContext: ExtensionContext,
    ): Boolean = parameterContext.parameter.type == Backend::class.java

    override fun resolveParameter(
        parameterContext: ParameterContext,
        extensionContext: ExtensionContext,
    ): Any =
        extensionContext.root
            .getStore(ExtensionContext.Namespace.create(BackendExtension::class.java))
            .getOrComputeIfAbsent("backend", { Backend.start() }, Backend::class.java)
}
