package dev.pocdojo.sdk.http

import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/**
 * When and how long to wait before trying a request again.
 *
 * Only idempotent requests are retried (see [RetryPolicy.isIdempotent]): GET, HEAD, PUT, DELETE and OPTIONS,
 * and a POST or PATCH that carries an `Idempotency-Key` header. They are retried after a network failure,
 * after 502, 503 or 504, and after 429 when its `Retry-After` is at most [maxRetryAfter]. The wait before
 * retry `n` (1-based) is `initialDelay * multiplier^(n-1)`, capped at [maxDelay], with "equal jitter":
 * a random share of up to [jitter] of it is taken off, so that clients that failed together do not
 * come back together. A `Retry-After` is honoured as given (never shortened).
 */
public data class RetryPolicy(
    /** Attempts in all, the first included; 1 turns retries off. */
    val maxAttempts: Int = 3,
    val initialDelay: Duration = 250.milliseconds,
    val maxDelay: Duration = 5.seconds,
    val multiplier: Double = 2.0,
    /** The share of each backoff delay that is random, 0.0 to 1.0. */
    val jitter: Double = 0.5,
    /** A 429 asking to wait longer than this is not retried: the caller gets RateLimitedException. */
    val maxRetryAfter: Duration = 10.seconds,
) {
    init {
        require(maxAttempts >= 1) { "maxAttempts must be at least 1, got $maxAttempts" }
        require(multiplier >= 1.0) { "multiplier must be at least 1, got $multiplier" }
        require(jitter in 0.0..1.0) { "jitter must be within 0..1, got $jitter" }
        require(!initialDelay.isNegative() && !maxDelay.isNegative()) { "delays must not be negative" }
    }

    /** The backoff before retry number [retry] (1 for the first retry), jittered with [random]. */
    public fun backoff(retry: Int, random: Random = Random.Default): Duration {
        require(retry >= 1) { "retry numbers start at 1, got $retry" }
        var base = initialDelay
        repeat(retry - 1) {
            base = (base * multiplier).coerceAtMost(maxDelay)
        }
        base = base.coerceAtMost(maxDelay)
        return base * (1.0 - jitter * random.nextDouble())
    }

    public companion object {
        /** No retries at all. */
        public val NONE: RetryPolicy = RetryPolicy(maxAttempts = 1)

        private val IDEMPOTENT_METHODS = setOf("GET", "HEAD", "PUT", "DELETE", "OPTIONS")

        /** Whether a request with this method (and these headers) may be sent twice without harm. */
        public fun isIdempotent(method: String, idempotencyKey: String?): Boolean =
            method.uppercase() in IDEMPOTENT_METHODS || !idempotencyKey.isNullOrEmpty()

        /** HTTP statuses that say "try again later" without the request having been applied. */
        public val RETRYABLE_STATUSES: Set<Int> = setOf(502, 503, 504)
    }
}
