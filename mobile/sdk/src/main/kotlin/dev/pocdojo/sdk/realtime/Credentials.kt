package dev.pocdojo.sdk.realtime

import okhttp3.Request

/**
 * How a websocket proves who it is. Asked again before every connection attempt, so a reconnect never
 * presents a stale ticket.
 */
sealed interface Credentials {
    /**
     * A short-lived ticket for the `?ticket=` query parameter (`POST /v1/dojos/{id}/tickets` or
     * `POST /v1/collab/tickets`). [source] must fetch a fresh one on each call.
     */
    class Ticket(
        val source: suspend () -> String,
    ) : Credentials

    /**
     * An access token for the `Authorization: Bearer` header (native clients). [source] gets
     * `refresh = true` after the server refused the last token (close code 4401): refresh it then.
     */
    class Bearer(
        val source: suspend (refresh: Boolean) -> String,
    ) : Credentials
}

/** The upgrade request for `baseUrl/room` with these credentials (a fresh ticket or token). */
internal suspend fun Credentials.request(
    baseUrl: String,
    room: String,
    refresh: Boolean,
): Request {
    val url = baseUrl.trimEnd('/') + "/" + room
    return when (this) {
        is Credentials.Ticket -> Request.Builder().url(url + "?ticket=" + java.net.URLEncoder.encode(source(), Charsets.UTF_8)).build()
        is Credentials.Bearer -> Request.Builder().url(url).header("Authorization", "Bearer " + source(refresh)).build()
    }
}

private val ROOM = Regex("[A-Za-z0-9._:-]{1,128}")

/** Rooms are 1-128 of `A-Z a-z 0-9 . _ : -` (the server refuses anything else with 4400). */
internal fun requireRoomName(room: String) {
    require(ROOM.matches(room)) { "a room name is 1-128 letters, digits, '.', '_', ':' or '-': '$room'" }
}
