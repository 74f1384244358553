package dev.pocdojo.sdk.testing

import dev.pocdojo.sdk.api.InMemorySessionStore
import dev.pocdojo.sdk.api.NewTenant
import dev.pocdojo.sdk.api.NewUser
import dev.pocdojo.sdk.api.PocDojoClient
import dev.pocdojo.sdk.api.SessionStore
import dev.pocdojo.sdk.http.RetryPolicy
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import okhttp3.OkHttpClient
import okhttp3.Request
import java.io.IOException
import java.net.ServerSocket
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.nio.file.attribute.PosixFilePermissions
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlin.time.Duration.Companion.seconds

/** The repository root (set by surefire; the tests run in mobile/sdk). */
val repoRoot: Path = Paths.get(System.getProperty("pocdojo.repoRoot") ?: "../..").toAbsolutePath().normalize()

/**
 * The real POC Dojo backend for the integration tests: `pocdojo dev` from the repository's `.venv`
 * (every service in one process, embedded PostgreSQL) on 127.0.0.1, a free port and a temporary state
 * directory. [close] stops it and its PostgreSQL, and removes the state directory.
 */
class Backend private constructor(
    private val process: Process,
    private val stateDir: Path,
    private val python: Path,
    val port: Int,
) : AutoCloseable {
    val baseUrl = "http://127.0.0.1:$port"

    /** Plain REST calls for the realtime tests (the SDK's own client is [client]). */
    val api: TestApi by lazy { TestApi(baseUrl) }

    /** The demo tenant's administrator, created by `pocdojo dev`. */
    val demo: Login by lazy {
        val json = Json.parseToJsonElement(Files.readString(stateDir.resolve("demo-login.json"))).jsonObject
        fun field(key: String) = json.getValue(key).jsonPrimitive.content
        Login(field("tenant"), field("username"), field("password"))
    }

    /** The operator token `pocdojo dev` generated into its state directory (for `POST /v1/tenants`). */
    val operatorToken: String = Files.readString(stateDir.resolve("operator-token")).trim()

    private val tenants = AtomicInteger()
    private val http = OkHttpClient.Builder().callTimeout(30, TimeUnit.SECONDS).build()

    /** A client of this backend with its own in-memory session. */
    fun client(store: SessionStore = InMemorySessionStore(), retryPolicy: RetryPolicy = RetryPolicy()): PocDojoClient =
        PocDojoClient(baseUrl, store, http, retryPolicy)

    /** A new tenant (unique slug) with its first administrator, created with the operator token. */
    fun newTenant(): TestTenant {
        val n = tenants.incrementAndGet()
        val slug = "sdk-${ProcessHandle.current().pid()}-$n"
        val admin = TestUser(this, slug, "admin@$slug.test", "admin-password-$n-${System.nanoTime()}")
        runBlocking { client().tenants.create(operatorToken, NewTenant(slug, "SDK tenant $n", admin.email, admin.password)) }
        return TestTenant(this, slug, admin)
    }

    override fun close() {
        process.destroy() // SIGTERM: `pocdojo dev` shuts down and stops the PostgreSQL it started
        if (!process.waitFor(STOP_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly()
            process.waitFor(STOP_SECONDS, TimeUnit.SECONDS)
        }
        // Whatever happened above, no database outlives the run (a no-op when it stopped already).
        val stop = ProcessBuilder(
            python.toString(),
            "-c",
            "import sys; from pathlib import Path; from runtime.embedded_pg import EmbeddedPostgres; " +
                "EmbeddedPostgres(Path(sys.argv[1])).stop()",
            stateDir.resolve("pg").toString(),
        ).directory(repoRoot.toFile()).redirectErrorStream(true).redirectOutput(stateDir.resolve("pg-stop.log").toFile())
            .start()
        check(stop.waitFor(STOP_SECONDS, TimeUnit.SECONDS) && stop.exitValue() == 0) {
            "stopping the embedded PostgreSQL failed: ${Files.readString(stateDir.resolve("pg-stop.log"))}"
        }
        stateDir.toFile().deleteRecursively()
    }

    companion object {
        private const val STOP_SECONDS = 60L
        private val START_TIMEOUT = 180.seconds

        /** Starts the backend and waits until `GET /readyz` answers 200. */
        fun start(): Backend {
            val pocdojo = repoRoot.resolve(".venv/bin/pocdojo")
            val python = repoRoot.resolve(".venv/bin/python")
            check(Files.isExecutable(pocdojo)) {
                "$pocdojo is missing: run `make install install-node` in $repoRoot first (the integration tests " +
                    "start the real backend from the repository's .venv)"
            }
            val stateDir = Files.createTempDirectory("pocdojo-sdk-")
            Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwxr-xr-x"))
            val port = ServerSocket(0).use { it.localPort }
            val builder = ProcessBuilder(
                pocdojo.toString(), "dev", "--host", "127.0.0.1", "--port", port.toString(),
                "--state-dir", stateDir.toString(),
            ).directory(repoRoot.toFile()).redirectErrorStream(true)
                .redirectOutput(stateDir.resolve("backend.log").toFile())
            val env = builder.environment()
            env.keys.removeIf { it.startsWith("POCDOJO_") || it == "DATABASE_URL" || it == "REDIS_URL" }
            env["POCDOJO_LOG_LEVEL"] = "WARNING"
            val process = builder.start()
            val baseUrl = "http://127.0.0.1:$port"
            val backend = try {
                awaitReady(process, baseUrl, stateDir)
                Backend(process, stateDir, python, port)
            } catch (e: Throwable) {
                process.destroy()
                process.waitFor(STOP_SECONDS, TimeUnit.SECONDS)
                throw e
            }
            return backend
        }

        private fun awaitReady(process: Process, baseUrl: String, stateDir: Path) {
            val probe = OkHttpClient.Builder().callTimeout(2, TimeUnit.SECONDS).build()
            val log = stateDir.resolve("backend.log")
            waitUntil("the backend at $baseUrl is ready (log: $log)", START_TIMEOUT) {
                check(process.isAlive) { "pocdojo dev exited with ${process.exitValue()}:\n${Files.readString(log)}" }
                try {
                    probe.newCall(Request.Builder().url("$baseUrl/readyz").build()).execute().use { it.code == 200 } &&
                        Files.exists(stateDir.resolve("operator-token"))
                } catch (e: IOException) {
                    false // not listening yet
                }
            }
        }
    }
}

/** A login of the test backend (the demo tenant's administrator). */
data class Login(
    val tenant: String,
    val username: String,
    val password: String,
)

/** A tenant made for a test, with its administrator. */
class TestTenant(private val backend: Backend, val slug: String, val admin: TestUser) {
    private val users = AtomicInteger()

    /** A new member (or administrator) of this tenant, created by its administrator. */
    fun newUser(roles: List<String> = listOf("member")): TestUser {
        val n = users.incrementAndGet()
        val user = TestUser(backend, slug, "user$n@$slug.test", "user-password-$n-${System.nanoTime()}")
        runBlocking { admin.signedIn().members.createUser(NewUser(user.email, user.password, roles)) }
        return user
    }
}

/** An account of a test tenant. */
class TestUser(private val backend: Backend, val tenant: String, val email: String, val password: String) {
    /** A new client signed in as this user. */
    fun signedIn(store: SessionStore = InMemorySessionStore()): PocDojoClient {
        val client = backend.client(store)
        runBlocking { client.auth.signIn(tenant, email, password) }
        return client
    }
}
