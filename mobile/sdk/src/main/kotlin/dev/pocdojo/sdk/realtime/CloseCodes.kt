package dev.pocdojo.sdk.realtime

/** WebSocket close codes the POC Dojo servers send (README "Close codes", docs/signaling.md). */
object CloseCodes {
    const val NORMAL = 1000

    /** Sent by this client when the server's frame was not a valid message (RFC 6455 1002). */
    const val PROTOCOL_ERROR = 1002

    /** Sent by this client when a frame held data it cannot use, e.g. an undecodable update (1007). */
    const val INVALID_DATA = 1007
    const val UNAUTHORIZED = 4401
    const val FORBIDDEN = 4403
    const val NOT_FOUND = 4404

    /** 4400-4499: the server decided that reconnecting cannot help (y-websocket 3.1's rule). */
    fun isTerminal(code: Int): Boolean = code in 4400..4499
}
