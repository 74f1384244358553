package dev.pocdojo.sdk.realtime

import dev.pocdojo.sdk.yjs.DocumentIntegrityException
import dev.pocdojo.sdk.yjs.YjsException

/**
 * Every failure the realtime client reports. A provider that meets one of these closes its socket,
 * enters [ConnectionState.Failed] and does not reconnect by itself: reconnecting would only meet the
 * same bytes again. Local edits stay in the document and are sent by the next successful sync.
 */
sealed class RealtimeException(
    message: String,
    cause: Throwable? = null,
) : RuntimeException(message, cause)

/** The server sent a frame that is not a y-websocket message (unknown type, truncated, bad JSON...). */
class ProtocolViolationException(
    message: String,
    cause: Throwable? = null,
) : RealtimeException(message, cause)

/**
 * The server sent a document update the Yjs core cannot decode or apply. Nothing is applied for a
 * decoding error; after a [DocumentIntegrityException] the document may be partly updated and should be
 * discarded and synced again ([needsResync]).
 */
class UndecodableUpdateException(
    cause: YjsException,
) : RealtimeException("the server sent an update this client cannot apply: ${cause.message}", cause) {
    val needsResync: Boolean get() = cause is DocumentIntegrityException
}
