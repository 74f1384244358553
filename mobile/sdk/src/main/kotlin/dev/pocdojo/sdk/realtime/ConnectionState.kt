package dev.pocdojo.sdk.realtime

import kotlin.time.Duration

/**
 * Where a [YWebsocketProvider] is. Transitions:
 * `Idle → Connecting → Syncing → Synced`; a dropped connection (1xxx close, network error, 30 s of
 * silence) → `Offline` → `Connecting` (after a backoff, with fresh credentials); a 4400-4499 close →
 * `Stopped`; a frame the client cannot use → `Failed`; [YWebsocketProvider.disconnect] → `Disconnected`.
 * `Stopped`, `Failed` and `Disconnected` last until [YWebsocketProvider.connect] is called again.
 */
sealed interface ConnectionState {
    /** Created, never connected. */
    data object Idle : ConnectionState

    /** Getting credentials and opening the socket. */
    data object Connecting : ConnectionState

    /** The socket is open; waiting for the server's sync step 2. Local edits are already sent. */
    data object Syncing : ConnectionState

    /** The document holds everything the server had when it answered; updates flow both ways. */
    data object Synced : ConnectionState

    /** No connection; [retryIn] until the next attempt. Local edits keep applying and are sent on reconnect. */
    data class Offline(
        val reason: String,
        val retryIn: Duration,
    ) : ConnectionState

    /** The server closed with a 4400-4499 code ([closeCode]): reconnecting cannot help (kicked, ended...). */
    data class Stopped(
        val closeCode: Int,
        val reason: String,
    ) : ConnectionState

    /** The server sent something this client cannot use; the socket was closed (see [RealtimeException]). */
    data class Failed(
        val error: RealtimeException,
    ) : ConnectionState

    /** The application disconnected. */
    data object Disconnected : ConnectionState
}

/** The server refused this connection's edits (y-protocols' permission-denied message). */
data class ReadOnly(
    val reason: String,
)
