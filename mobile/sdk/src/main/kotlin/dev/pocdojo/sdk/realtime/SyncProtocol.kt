package dev.pocdojo.sdk.realtime

import dev.pocdojo.sdk.yjs.Lib0Decoder
import dev.pocdojo.sdk.yjs.Lib0Encoder
import dev.pocdojo.sdk.yjs.YjsException

/**
 * The y-websocket wire protocol as functions over bytes (no I/O): one message per binary frame,
 * `varUint(type) • body` (ARCHITECTURE §2, crdt/protocol.py on the server).
 *
 * Decoding is strict: a frame must hold exactly one complete message of a known type, else
 * [ProtocolViolationException]. Our server never sends anything else, so anything else is a fault to
 * report, not to guess around.
 */
internal object SyncProtocol {
    const val MESSAGE_SYNC = 0
    const val MESSAGE_AWARENESS = 1
    const val MESSAGE_AUTH = 2
    const val MESSAGE_QUERY_AWARENESS = 3
    const val SYNC_STEP1 = 0
    const val SYNC_STEP2 = 1
    const val SYNC_UPDATE = 2
    const val AUTH_PERMISSION_DENIED = 0

    sealed interface Message {
        /** "Send me what I lack": the peer's state vector. */
        class SyncStep1(
            val stateVector: ByteArray,
        ) : Message

        /** The answer to a step1: everything the asker lacks (the client is synced once it arrives). */
        class SyncStep2(
            val update: ByteArray,
        ) : Message

        class Update(
            val update: ByteArray,
        ) : Message

        /** An awareness payload (`varUint n`, then n × `clientID, clock, varString(JSON)`). */
        class Awareness(
            val payload: ByteArray,
        ) : Message

        class PermissionDenied(
            val reason: String,
        ) : Message

        data object QueryAwareness : Message
    }

    fun decode(frame: ByteArray): Message {
        val decoder = Lib0Decoder(frame)
        val message =
            try {
                when (val type = decoder.readVarUint()) {
                    MESSAGE_SYNC.toLong() ->
                        when (val sub = decoder.readVarUint()) {
                            SYNC_STEP1.toLong() -> Message.SyncStep1(decoder.readVarUint8Array())
                            SYNC_STEP2.toLong() -> Message.SyncStep2(decoder.readVarUint8Array())
                            SYNC_UPDATE.toLong() -> Message.Update(decoder.readVarUint8Array())
                            else -> throw ProtocolViolationException("unknown sync message type $sub")
                        }
                    MESSAGE_AWARENESS.toLong() -> Message.Awareness(decoder.readVarUint8Array())
                    MESSAGE_AUTH.toLong() ->
                        when (val sub = decoder.readVarUint()) {
                            AUTH_PERMISSION_DENIED.toLong() -> Message.PermissionDenied(decoder.readVarString())
                            else -> throw ProtocolViolationException("unknown auth message type $sub")
                        }
                    MESSAGE_QUERY_AWARENESS.toLong() -> Message.QueryAwareness
                    else -> throw ProtocolViolationException("unknown message type $type")
                }
            } catch (e: YjsException) {
                throw ProtocolViolationException("a malformed frame of ${frame.size} bytes: ${e.message}", e)
            }
        if (decoder.hasContent()) {
            throw ProtocolViolationException("${decoder.remaining} trailing bytes after a complete message")
        }
        return message
    }

    fun syncStep1(stateVector: ByteArray): ByteArray = sync(SYNC_STEP1, stateVector)

    fun syncStep2(update: ByteArray): ByteArray = sync(SYNC_STEP2, update)

    fun update(update: ByteArray): ByteArray = sync(SYNC_UPDATE, update)

    fun awareness(payload: ByteArray): ByteArray =
        Lib0Encoder(payload.size + 8)
            .apply {
                writeVarUint(MESSAGE_AWARENESS)
                writeVarUint8Array(payload)
            }.toByteArray()

    private fun sync(
        sub: Int,
        body: ByteArray,
    ): ByteArray =
        Lib0Encoder(body.size + 8)
            .apply {
                writeVarUint(MESSAGE_SYNC)
                writeVarUint(sub)
                writeVarUint8Array(body)
            }.toByteArray()
}
