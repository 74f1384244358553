package dev.pocdojo.app.core.jobs

import dev.pocdojo.app.core.gateway.GatewayException
import kotlinx.coroutines.delay

/**
 * Long-polls a media job from [first] while [active] says it will change: [poll] asks the server (waiting
 * for the next change), [onChange] gets each answer. A failed poll (offline, the server failing: the job
 * goes on without us) waits [retryDelayMillis] and asks again. Returns the finished job; a job gone
 * ([GatewayException.NotFound]) or an ended session ([GatewayException.SignedOut]) is thrown to the caller.
 * Runs until then or until its coroutine is cancelled (the screen's scope).
 */
suspend fun <T> followJob(
    first: T,
    active: (T) -> Boolean,
    retryDelayMillis: Long,
    poll: suspend (T) -> T,
    onChange: (T) -> Unit,
): T {
    var current = first
    while (active(current)) {
        current = try {
            poll(current)
        } catch (failure: GatewayException.NotFound) {
            throw failure
        } catch (failure: GatewayException.SignedOut) {
            throw failure
        } catch (failure: GatewayException) {
            delay(retryDelayMillis)
            continue
        }
        onChange(current)
    }
    return current
}
