package dev.pocdojo.sdk.testing

import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds
import kotlin.time.TimeSource

/** Waits for [condition] to hold, checking every few milliseconds; fails naming [what] after [within]. */
fun waitUntil(what: String, within: Duration = 5.seconds, condition: () -> Boolean) {
    val deadline = TimeSource.Monotonic.markNow() + within
    while (!condition()) {
        if (deadline.hasPassedNow()) throw AssertionError("not met within $within: $what")
        Thread.sleep(POLL_MILLIS)
    }
}

private const val POLL_MILLIS = 10L
