package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.http.RetryPolicy
import dev.pocdojo.sdk.http.await
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.delay
import kotlinx.coroutines.withContext
import kotlinx.serialization.DeserializationStrategy
import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json
import okhttp3.Headers
import okhttp3.HttpUrl
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.ResponseBody
import java.io.IOException
import java.time.Duration as JavaDuration
import java.time.Instant
import java.time.ZonedDateTime
import java.time.format.DateTimeFormatter
import java.time.format.DateTimeParseException
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toJavaDuration
import kotlin.time.toKotlinDuration

/** A successful answer, read whole. */
internal class RawResponse(val status: Int, val headers: Headers, val body: String)

/**
 * How one call differs from the client's defaults: [followRedirects] false answers a 3xx as it is (its
 * `Location` for the caller to follow); [readTimeout] for a long-poll that the server holds open.
 */
internal data class CallOptions(val followRedirects: Boolean = true, val readTimeout: Duration? = null) {
    companion object {
        val DEFAULT: CallOptions = CallOptions()
    }
}

/**
 * Sends requests, retries the idempotent ones as [retryPolicy] allows, and turns error answers into
 * [HttpException]s and failures into [NetworkException]. Knows nothing about tokens.
 */
internal class Transport(
    http: OkHttpClient,
    val baseUrl: HttpUrl,
    private val retryPolicy: RetryPolicy,
    val json: Json,
    private val random: Random,
    private val clock: () -> Instant,
    private val sleep: suspend (Duration) -> Unit = { delay(it) },
) {
    /**
     * OkHttp's own silent retry of failed connections is off: it would send a POST again where this
     * class's rules forbid it. Retries are decided here only.
     */
    private val http: OkHttpClient = http.newBuilder().retryOnConnectionFailure(false).build()

    fun url(vararg segments: String): HttpUrl.Builder {
        val builder = baseUrl.newBuilder()
        segments.forEach { builder.addPathSegment(it) }
        return builder
    }

    suspend fun send(request: Request, options: CallOptions = CallOptions.DEFAULT): RawResponse {
        val client = clientFor(options)
        val idempotent = RetryPolicy.isIdempotent(request.method, request.header(IDEMPOTENCY_KEY))
        var attempt = 1
        while (true) {
            val retriesLeft = idempotent && attempt < retryPolicy.maxAttempts
            val answer = try {
                execute(client, request)
            } catch (e: IOException) {
                if (!retriesLeft) {
                    throw NetworkException("${request.method} ${request.url.encodedPath}: ${e.message ?: e}", e)
                }
                sleep(retryPolicy.backoff(attempt, random))
                attempt++
                continue
            }
            if (answer.status in 200..299) return answer
            if (!options.followRedirects && answer.status in 300..399) return answer
            val retryAfter = retryAfter(answer.headers)
            val wait = when {
                !retriesLeft -> null
                answer.status == 429 || answer.status in RetryPolicy.RETRYABLE_STATUSES ->
                    when {
                        retryAfter == null -> retryPolicy.backoff(attempt, random)
                        retryAfter <= retryPolicy.maxRetryAfter -> retryAfter
                        else -> null
                    }
                else -> null
            }
            if (wait == null) throw httpException(Problem.parse(answer.status, answer.body, json), retryAfter)
            sleep(wait)
            attempt++
        }
    }

    fun <T> decode(response: RawResponse, deserializer: DeserializationStrategy<T>): T =
        try {
            json.decodeFromString(deserializer, response.body)
        } catch (e: SerializationException) {
            throw MalformedResponseException("unexpected answer (HTTP ${response.status}): ${e.message}", e)
        } catch (e: IllegalArgumentException) {
            throw MalformedResponseException("unexpected answer (HTTP ${response.status}): ${e.message}", e)
        }

    /**
     * GETs [request] (a URL that needs no token, such as a signed download link) and hands the open body
     * to [consume] on the IO dispatcher. An error status is raised as an [HttpException] (its body read as
     * a problem), no answer or a broken body as a [NetworkException]. Not retried: [consume] may have
     * written part of the body already. Cancelling the coroutine cancels the call, mid-body too.
     */
    suspend fun <T> stream(request: Request, consume: (ResponseBody) -> T): T {
        val call = http.newCall(request)
        val what = "${request.method} ${request.url.encodedPath}"
        val response = try {
            call.await()
        } catch (e: IOException) {
            throw NetworkException("$what: ${e.message ?: e}", e)
        }
        return response.use {
            if (it.code !in 200..299) {
                val body = withContext(Dispatchers.IO) { it.body.string() }
                throw httpException(Problem.parse(it.code, body, json), retryAfter(it.headers))
            }
            val job = currentCoroutineContext()[Job]
            val cancelling = job?.invokeOnCompletion { cause -> if (cause != null) call.cancel() }
            try {
                withContext(Dispatchers.IO) {
                    try {
                        consume(it.body)
                    } catch (e: IOException) {
                        ensureActive() // a cancellation closed the socket: that is not a network failure
                        throw NetworkException("$what: ${e.message ?: e}", e)
                    }
                }
            } finally {
                cancelling?.dispose()
            }
        }
    }

    private fun clientFor(options: CallOptions): OkHttpClient {
        if (options == CallOptions.DEFAULT) return http
        val builder = http.newBuilder().followRedirects(options.followRedirects).followSslRedirects(options.followRedirects)
        options.readTimeout?.let { wait ->
            builder.readTimeout(wait.toJavaDuration())
            if (http.callTimeoutMillis > 0 && http.callTimeoutMillis < wait.inWholeMilliseconds) {
                builder.callTimeout(wait.toJavaDuration())
            }
        }
        return builder.build()
    }

    private suspend fun execute(client: OkHttpClient, request: Request): RawResponse {
        val response = client.newCall(request).await()
        return response.use {
            val body = withContext(Dispatchers.IO) { it.body.string() }
            RawResponse(it.code, it.headers, body)
        }
    }

    /** `Retry-After` as delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
    private fun retryAfter(headers: Headers): Duration? {
        val value = headers["Retry-After"]?.trim() ?: return null
        value.toLongOrNull()?.let { return if (it >= 0) it.seconds else null }
        return try {
            val at = ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant()
            JavaDuration.between(clock(), at).toKotlinDuration().coerceAtLeast(Duration.ZERO)
        } catch (e: DateTimeParseException) {
            null
        }
    }

    companion object {
        const val IDEMPOTENCY_KEY: String = "Idempotency-Key"
    }
}
