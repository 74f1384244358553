package dev.pocdojo.app.core.jobs

import dev.pocdojo.app.core.gateway.GatewayException

/**
 * The idempotency key of a media job's request ([R]: what is asked for) until the server answers it: a
 * request that got no answer (network, 5xx) may have made the job, so asking again for the same thing
 * sends the same key and the server answers that job instead of making a second one. An answered or
 * refused request forgets its key. Not thread-safe: the view-model's scope calls it.
 */
class RequestKeys<R>(private val newKey: () -> String) {
    private var pending: Pair<R, String>? = null

    /** The key to send [request] with: the unanswered one's when it asked for the same, else a new one. */
    fun keyFor(request: R): String {
        val key = pending?.takeIf { it.first == request }?.second ?: newKey()
        pending = request to key
        return key
    }

    /** The request ended: answered ([failure] null) or failed; only a failure without an answer keeps the key. */
    fun ended(failure: GatewayException? = null) {
        if (failure !is GatewayException.Unreachable && failure !is GatewayException.ServerFailure) pending = null
    }
}
