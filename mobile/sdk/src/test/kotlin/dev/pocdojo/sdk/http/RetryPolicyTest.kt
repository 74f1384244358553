package dev.pocdojo.sdk.http

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import kotlin.random.Random
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

class RetryPolicyTest {
    private val policy = RetryPolicy(initialDelay = 100.milliseconds, maxDelay = 1.seconds, multiplier = 2.0, jitter = 0.5)

    @Test
    fun `backoff doubles up to the cap and jitter only shortens it by up to its share`() {
        val random = Random(7)
        val bases = listOf(100, 200, 400, 800, 1000, 1000).map { it.milliseconds }
        repeat(200) {
            bases.forEachIndexed { index, base ->
                val wait = policy.backoff(index + 1, random)
                assertTrue(wait <= base && wait >= base * 0.5, "retry ${index + 1}: $wait outside [${base * 0.5}, $base]")
            }
        }
    }

    @Test
    fun `jitter spreads the waits of clients that failed together`() {
        val random = Random(11)
        val waits = List(50) { policy.backoff(3, random) }.toSet()
        assertTrue(waits.size > 40, "50 clients drew only ${waits.size} distinct waits")
    }

    @Test
    fun `without jitter the backoff is exact`() {
        val exact = policy.copy(jitter = 0.0)
        assertEquals(listOf(100, 200, 400, 800, 1000).map { it.milliseconds }, (1..5).map { exact.backoff(it) })
    }

    @Test
    fun `only idempotent methods, or requests carrying an idempotency key, are idempotent`() {
        for (method in listOf("GET", "HEAD", "PUT", "DELETE", "OPTIONS", "get")) {
            assertTrue(RetryPolicy.isIdempotent(method, null), method)
        }
        assertFalse(RetryPolicy.isIdempotent("POST", null))
        assertFalse(RetryPolicy.isIdempotent("PATCH", null))
        assertFalse(RetryPolicy.isIdempotent("POST", ""))
        assertTrue(RetryPolicy.isIdempotent("POST", "3f1c..."))
    }
}
