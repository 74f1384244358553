package dev.pocdojo.sdk.realtime

import kotlin.random.Random
import kotlin.time.Duration

/**
 * Capped exponential backoff with jitter: after the n-th failure in a row wait a random time between
 * half and all of `min(max, initial * 2^(n-1))`, so that clients cut off together do not come back
 * together (the server plans for reconnect storms).
 */
internal class Backoff(
    private val initial: Duration,
    private val max: Duration,
    private val random: Random = Random.Default,
) {
    init {
        require(initial.isPositive() && max >= initial) { "need 0 < initial <= max, got $initial and $max" }
    }

    fun delayFor(failures: Int): Duration {
        require(failures >= 1) { "failures must be at least 1" }
        val exponent = minOf(failures - 1, 30)
        val capped = if (initial * (1 shl exponent).toDouble() > max) max else initial * (1 shl exponent).toDouble()
        return capped * (0.5 + random.nextDouble() * 0.5)
    }
}
