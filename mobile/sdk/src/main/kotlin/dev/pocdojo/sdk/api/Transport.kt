package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.http.RetryPolicy
import dev.pocdojo.sdk.http.await
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.withContext
import kotlinx.serialization.DeserializationStrategy
import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json
import okhttp3.Headers
import okhttp3.HttpUrl
import okhttp3.OkHttpClient
import okhttp3.Request
import java.io.IOException
import java.time.Duration as JavaDuration
import java.time.Instant
import java.time.ZonedDateTime
import java.time.format.DateTimeFormatter
import java.time.format.DateTimeParseException
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.toKotlinDuration

/** A successful answer, read whole. */
internal class RawResponse(val status: Int, val headers: Headers, val body: String)

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

    suspend fun send(request: Request): RawResponse {
        val idempotent = RetryPolicy.isIdempotent(request.method, request.header(IDEMPOTENCY_KEY))
        var attempt = 1
        while (true) {
            val retriesLeft = idempotent && attempt < retryPolicy.maxAttempts
            val answer = try {
                execute(request)
            } catch (e: IOException) {
                if (!retriesLeft) {
                    throw NetworkException("${request.method} ${request.url.encodedPath}: ${e.message ?: e}", e)
                }
                sleep(retryPolicy.backoff(attempt, random))
                attempt++
                continue
            }
            if (answer.status in 200..299) return answer
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

    private suspend fun execute(request: Request): RawResponse {
        val response = http.newCall(request).await()
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
