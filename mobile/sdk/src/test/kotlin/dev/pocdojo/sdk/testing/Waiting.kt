package dev.pocdojo.sdk.testing

import kotlinx.coroutines.delay
import kotlinx.coroutines.withTimeoutOrNull
import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

private class Box<T>(
    val value: T,
)

/** Waits until [condition] holds for what [probe] returns (polling); fails naming [what] and the last value. */
suspend fun <T> waitUntil(
    what: String,
    timeout: Duration = 20.seconds,
    probe: suspend () -> T,
    condition: (T) -> Boolean,
): T {
    var last: Box<T>? = null
    val found =
        withTimeoutOrNull(timeout) {
            var box = Box(probe())
            last = box
            while (!condition(box.value)) {
                delay(50.milliseconds)
                box = Box(probe())
                last = box
            }
            box
        }
    // the value waited for may be null: only a missing box is a timeout
    if (found == null) throw AssertionError("timed out after $timeout waiting for $what; last seen: ${last?.value}")
    return found.value
}
