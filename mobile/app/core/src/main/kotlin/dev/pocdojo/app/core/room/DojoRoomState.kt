package dev.pocdojo.app.core.room

import dev.pocdojo.app.core.text.UiMessage

/** A selection in the open file, UTF-16 indexes; a caret when [anchor] == [head]. */
data class Selection(val anchor: Int, val head: Int) {
    val start: Int get() = minOf(anchor, head)
    val end: Int get() = maxOf(anchor, head)
}

/** Another participant's cursor in the open file, from awareness; [color] is `#rrggbb`. */
data class RemoteCursor(val clientId: Long, val userId: String?, val name: String, val color: String, val selection: Selection)

/** Why this person may not edit now. */
sealed interface ReadOnlyReason {
    data object Observer : ReadOnlyReason

    /** Randori: only the driver edits. */
    data class NotDriver(val driverName: String?) : ReadOnlyReason

    /** The server refused this connection's edits (its words). */
    data class Server(val detail: String) : ReadOnlyReason

    /** The room was left (kicked, ended, failed). */
    data object Closed : ReadOnlyReason
}

enum class StopReason { KICKED, ENDED, OTHER }

sealed interface RoomConnection {
    data object Connecting : RoomConnection

    data object Synced : RoomConnection

    /** No connection; edits stay on the device and are sent on reconnect. */
    data class Offline(val retryInMillis: Long) : RoomConnection

    data class Stopped(val reason: StopReason, val closeCode: Int, val detail: String) : RoomConnection

    /** The server sent something the client cannot use; [RoomEvent.Reconnect] tries again. */
    data class Failed(val detail: String) : RoomConnection
}

data class Randori(val driverId: String?, val driverName: String?, val secondsLeft: Long?)

data class DojoRoomState(
    val title: String = "",
    val me: String = "",
    val myRole: String = "",
    val iAmHost: Boolean = false,
    /** Paths of the `files` map, sorted. */
    val files: List<String> = emptyList(),
    val openFile: String? = null,
    val text: String = "",
    val selection: Selection = Selection(0, 0),
    /** Others' cursors in [openFile]. */
    val remoteCursors: List<RemoteCursor> = emptyList(),
    val participants: List<RoomParticipant> = emptyList(),
    val readOnly: ReadOnlyReason? = null,
    /** The last edit refused, with why: the screen puts the text back and says so. */
    val refused: ReadOnlyReason? = null,
    val connection: RoomConnection = RoomConnection.Connecting,
    val randori: Randori? = null,
    val locked: Boolean = false,
    val lobby: Boolean = false,
    val chat: List<ChatLine> = emptyList(),
    val error: UiMessage? = null,
    /**
     * The dojo's state (participants, randori, chat) could not be read the last time (a 5xx, no answer):
     * shown until a read succeeds; the shared document is not affected.
     */
    val refreshError: UiMessage? = null,
) {
    val canEdit: Boolean get() = readOnly == null
    val offline: Boolean get() = connection is RoomConnection.Offline

    fun nameOf(userId: String): String = participants.firstOrNull { it.userId == userId }?.name ?: userId
}

sealed interface RoomEvent {
    data class OpenFile(val path: String) : RoomEvent

    /** A new, empty file (editors only). */
    data class NewFile(val path: String) : RoomEvent

    /** The person replaced [start] until [end] of the open file with [text]. */
    data class Edit(val start: Int, val end: Int, val text: String) : RoomEvent

    data class MoveCursor(val anchor: Int, val head: Int) : RoomEvent

    data class SendChat(val text: String) : RoomEvent

    /** The screen has shown [DojoRoomState.refused] / [DojoRoomState.error]. */
    data object Dismiss : RoomEvent

    data object Reconnect : RoomEvent

    /** A host control; ignored unless I am the host. */
    data class Host(val action: HostAction) : RoomEvent
}
