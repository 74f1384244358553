package dev.pocdojo.sdk.realtime

import kotlin.time.Duration
import kotlin.time.Duration.Companion.milliseconds
import kotlin.time.Duration.Companion.seconds

/** Timings of a [YWebsocketProvider]; the defaults follow y-websocket 3.x and y-protocols. */
data class ProviderOptions(
    /** First reconnect delay; doubles with each failure in a row up to [maxBackoff] (jittered). */
    val initialBackoff: Duration = 250.milliseconds,
    val maxBackoff: Duration = 10.seconds,
    /** A connection that hears nothing this long is closed and reopened (the server echoes awareness). */
    val silenceTimeout: Duration = 30.seconds,
    /** The local awareness state is re-sent this often (others drop states older than [awarenessTimeout]). */
    val awarenessRenewal: Duration = 15.seconds,
    val awarenessTimeout: Duration = 30.seconds,
    val awarenessCheckInterval: Duration = 3.seconds,
    /** Frames received but not yet applied, per connection; the socket stops reading when it is full. */
    val inboundQueue: Int = 256,
) {
    init {
        require(initialBackoff.isPositive() && maxBackoff >= initialBackoff) { "need 0 < initialBackoff <= maxBackoff" }
        require(silenceTimeout.isPositive() && awarenessRenewal.isPositive() && awarenessTimeout.isPositive())
        require(awarenessCheckInterval.isPositive() && inboundQueue > 0)
    }
}
