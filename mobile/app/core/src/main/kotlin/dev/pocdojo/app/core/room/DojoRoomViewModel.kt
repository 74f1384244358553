package dev.pocdojo.app.core.room

import dev.pocdojo.app.core.dojos.toDojoMessage
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.sdk.realtime.CloseCodes
import dev.pocdojo.sdk.realtime.ConnectionState
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.isActive
import kotlinx.coroutines.launch
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.intOrNull
import kotlinx.serialization.json.put
import kotlinx.serialization.json.putJsonObject

/**
 * The dojo room: the files of the shared document (map `files`, path to `Y.Text`), the open file's text
 * and cursors, the participants, randori, chat and the connection.
 *
 * Threading: [scope] must run on the document's thread (on Android both are the main thread), so that
 * an edit reaches the document at once, in the order typed, and remote changes arrive between edits,
 * never during one.
 *
 * Presence (awareness) is `{"user": {"id", "name", "color"}, "cursor": {"file", "anchor", "head"}}`;
 * positions are absolute UTF-16 indexes (the Yjs core has no relative positions yet).
 */
class DojoRoomViewModel(
    private val dojoId: String,
    private val me: String,
    private val myName: String,
    private val link: RoomLink,
    private val gateway: RoomGateway,
    private val scope: CoroutineScope,
    private val clock: () -> Long = System::currentTimeMillis,
    private val refreshEveryMillis: Long = REFRESH_EVERY_MILLIS,
) {
    private val mutableState = MutableStateFlow(DojoRoomState(me = me))
    val state: StateFlow<DojoRoomState> = mutableState.asStateFlow()
    private var info: RoomInfo? = null
    private var serverReadOnly: String? = null
    private var lastFetched: String? = null
    private val subscription = link.onChange { documentChanged() }

    init {
        documentChanged()
        scope.launch { link.connection.collect { connection -> connectionChanged(connection) } }
        scope.launch {
            link.readOnly.collect { readOnly ->
                serverReadOnly = readOnly?.reason
                mutableState.update { withReadOnly(it) }
            }
        }
        scope.launch { link.peers.collect { peers -> mutableState.update { it.copy(remoteCursors = cursors(peers, it.openFile)) } } }
        scope.launch { loadChat() }
        scope.launch { refreshLoop() }
        link.connect()
        publishPresence()
    }

    fun onEvent(event: RoomEvent) {
        when (event) {
            is RoomEvent.OpenFile -> open(event.path)
            is RoomEvent.NewFile -> newFile(event.path)
            is RoomEvent.Edit -> edit(event)
            is RoomEvent.MoveCursor -> {
                mutableState.update { it.copy(selection = clamp(Selection(event.anchor, event.head), it.text.length)) }
                publishPresence()
            }
            is RoomEvent.SendChat -> sendChat(event.text)
            RoomEvent.Dismiss -> mutableState.update { it.copy(refused = null, error = null) }
            RoomEvent.Reconnect -> link.connect()
            is RoomEvent.Host -> host(event.action)
        }
    }

    /** Leaves the room (presence cleared, socket closed); the screen's owner cancels [scope]. */
    fun close() {
        subscription.close()
        link.close()
    }

    private fun open(path: String) {
        val text = link.edit { doc -> doc.getMap(FILES).getText(path)?.toString() } ?: return
        mutableState.update { it.copy(openFile = path, text = text, selection = Selection(0, 0), remoteCursors = cursors(link.peers.value, path)) }
        publishPresence()
    }

    private fun newFile(path: String) {
        val current = mutableState.value
        val blocked = current.readOnly
        if (blocked != null) {
            mutableState.update { it.copy(refused = blocked) }
            return
        }
        if (path.isBlank() || path in current.files) return
        link.edit { doc -> doc.getMap(FILES).setText(path) }
        open(path)
    }

    private fun edit(event: RoomEvent.Edit) {
        val current = mutableState.value
        val blocked = current.readOnly ?: if (current.openFile == null) ReadOnlyReason.Closed else null
        if (blocked != null) {
            // the screen shows current.text again: the refused keystrokes go away
            mutableState.update { it.copy(refused = blocked) }
            return
        }
        val path = current.openFile ?: return
        val start = event.start.coerceIn(0, current.text.length)
        val end = event.end.coerceIn(start, current.text.length)
        link.edit { doc ->
            val text = doc.getMap(FILES).getText(path) ?: return@edit
            if (end > start) text.delete(start, end - start)
            if (event.text.isNotEmpty()) text.insert(start, event.text)
        }
        // after the change (which moved the old selection as if someone else made it): after the new text
        val caret = start + event.text.length
        mutableState.update { it.copy(selection = clamp(Selection(caret, caret), it.text.length)) }
        publishPresence()
    }

    /** Reads the files and the open text again; keeps the local selection where it was in the text. */
    private fun documentChanged() {
        val (files, opened) =
            link.edit { doc ->
                val map = doc.getMap(FILES)
                val files = map.keys.filter { map.getText(it) != null }.sorted()
                val path = mutableState.value.openFile?.takeIf { it in files } ?: files.firstOrNull()
                files to (path?.let { it to map.getText(it).toString() })
            }
        mutableState.update { current ->
            val path = opened?.first
            val text = opened?.second ?: ""
            val selection =
                if (path == current.openFile) shifted(current.selection, current.text, text) else Selection(0, 0)
            current.copy(files = files, openFile = path, text = text, selection = selection, remoteCursors = cursors(link.peers.value, path))
        }
    }

    private fun connectionChanged(connection: ConnectionState) {
        val room =
            when (connection) {
                ConnectionState.Synced -> RoomConnection.Synced
                is ConnectionState.Offline -> RoomConnection.Offline(connection.retryIn.inWholeMilliseconds)
                is ConnectionState.Stopped ->
                    RoomConnection.Stopped(
                        when (connection.closeCode) {
                            CloseCodes.FORBIDDEN -> StopReason.KICKED
                            CloseCodes.NOT_FOUND -> StopReason.ENDED
                            else -> StopReason.OTHER
                        },
                        connection.closeCode,
                        connection.reason,
                    )
                is ConnectionState.Failed -> RoomConnection.Failed(connection.error.message ?: connection.error.toString())
                ConnectionState.Disconnected -> RoomConnection.Stopped(StopReason.OTHER, CloseCodes.NORMAL, "")
                ConnectionState.Idle, ConnectionState.Connecting, ConnectionState.Syncing -> RoomConnection.Connecting
            }
        mutableState.update { withReadOnly(it.copy(connection = room)) }
    }

    private suspend fun refreshLoop() {
        while (scope.isActive) {
            try {
                val fresh = gateway.info(dojoId)
                info = fresh
                mutableState.update { withReadOnly(withInfo(it, fresh)).copy(refreshError = null) }
                if (fresh.ended) {
                    mutableState.update { withReadOnly(it.copy(connection = RoomConnection.Stopped(StopReason.ENDED, CloseCodes.NOT_FOUND, ""))) }
                    return
                }
                if (mutableState.value.connection is RoomConnection.Stopped) return
                newMessages()
            } catch (failure: GatewayException) {
                if (failure is GatewayException.NotFound) {
                    mutableState.update { withReadOnly(it.copy(connection = RoomConnection.Stopped(StopReason.ENDED, CloseCodes.NOT_FOUND, ""))) }
                    return
                }
                if (failure is GatewayException.Forbidden) {
                    mutableState.update { withReadOnly(it.copy(connection = RoomConnection.Stopped(StopReason.KICKED, CloseCodes.FORBIDDEN, ""))) }
                    return
                }
                // unreachable or failing: said on screen; the document keeps syncing, the next refresh tries again
                mutableState.update { it.copy(refreshError = failure.toDojoMessage()) }
            }
            // the countdown ticks each second between refreshes
            val until = clock() + refreshEveryMillis
            while (clock() < until) {
                delay(minOf(TICK_MILLIS, until - clock()))
                info?.let { i -> mutableState.update { it.copy(randori = randori(i, it)) } }
            }
        }
    }

    private fun host(action: HostAction) {
        if (!mutableState.value.iAmHost) return
        scope.launch {
            try {
                val fresh = gateway.host(dojoId, action)
                info = fresh
                mutableState.update { withReadOnly(withInfo(it, fresh)) }
            } catch (failure: GatewayException) {
                mutableState.update { it.copy(error = failure.toDojoMessage()) }
            }
        }
    }

    private fun withInfo(state: DojoRoomState, info: RoomInfo): DojoRoomState {
        val mine = info.participants.firstOrNull { it.userId == me }
        return state.copy(
            title = info.title,
            participants = info.participants,
            myRole = mine?.role ?: state.myRole,
            iAmHost = info.hostId == me,
            locked = info.locked,
            lobby = info.lobby,
            randori = randori(info, state),
        )
    }

    private fun randori(info: RoomInfo, state: DojoRoomState): Randori? {
        val next = info.nextRotationAtMillis
        if (info.randoriDriverId == null && next == null) return null
        val left = next?.let { maxOf(0L, (it - clock() + 999) / 1000) }
        return Randori(info.randoriDriverId, info.randoriDriverId?.let { id -> info.participants.firstOrNull { it.userId == id }?.name ?: state.nameOf(id) }, left)
    }

    private fun withReadOnly(state: DojoRoomState): DojoRoomState {
        val info = info
        val mine = info?.participants?.firstOrNull { it.userId == me }
        val reason =
            when {
                state.connection is RoomConnection.Stopped || state.connection is RoomConnection.Failed -> ReadOnlyReason.Closed
                mine?.role == OBSERVER -> ReadOnlyReason.Observer
                info?.randoriDriverId != null && info.randoriDriverId != me ->
                    ReadOnlyReason.NotDriver(info.participants.firstOrNull { it.userId == info.randoriDriverId }?.name)
                serverReadOnly != null -> ReadOnlyReason.Server(serverReadOnly.orEmpty())
                else -> null
            }
        return state.copy(readOnly = reason)
    }

    private suspend fun loadChat() {
        try {
            val history = gateway.chatHistory(dojoId)
            history.lastOrNull()?.let { lastFetched = it.id }
            mutableState.update { it.copy(chat = merged(it.chat, history)) }
        } catch (failure: GatewayException) {
            mutableState.update { it.copy(error = failure.toDojoMessage()) }
        }
    }

    private suspend fun newMessages() {
        // after the last message read from the server, not the last one sent from here: others may
        // have written before it
        val last = lastFetched ?: return loadChat()
        val fresh = gateway.chatSince(dojoId, last)
        fresh.lastOrNull()?.let { lastFetched = it.id }
        if (fresh.isNotEmpty()) mutableState.update { it.copy(chat = merged(it.chat, fresh)) }
    }

    private fun sendChat(text: String) {
        val trimmed = text.trim()
        if (trimmed.isEmpty()) return
        scope.launch {
            try {
                val sent = gateway.sendChat(dojoId, trimmed)
                mutableState.update { it.copy(chat = merged(it.chat, listOf(sent))) }
            } catch (failure: GatewayException) {
                mutableState.update { it.copy(error = failure.toDojoMessage()) }
            }
        }
    }

    private fun merged(shown: List<ChatLine>, more: List<ChatLine>): List<ChatLine> =
        (shown + more.filter { m -> shown.none { it.id == m.id } }).sortedWith(compareBy({ it.sentAtMillis }, { it.id }))

    private fun publishPresence() {
        val current = mutableState.value
        link.setPresence(
            buildJsonObject {
                putJsonObject("user") {
                    put("id", me)
                    put("name", myName)
                    put("color", colorOf(me))
                }
                current.openFile?.let { file ->
                    putJsonObject("cursor") {
                        put("file", file)
                        put("anchor", current.selection.anchor)
                        put("head", current.selection.head)
                    }
                }
            },
        )
    }

    private fun cursors(peers: Map<Long, JsonElement>, file: String?): List<RemoteCursor> =
        peers.entries
            .filter { it.key != link.clientId }
            .mapNotNull { (client, value) ->
                val state = value as? JsonObject ?: return@mapNotNull null
                val user = state["user"] as? JsonObject
                val cursor = state["cursor"] as? JsonObject ?: return@mapNotNull null
                if (cursor["file"]?.stringOrNull() != file) return@mapNotNull null
                val anchor = cursor["anchor"]?.intOrNullSafe() ?: return@mapNotNull null
                val head = cursor["head"]?.intOrNullSafe() ?: anchor
                val userId = user?.get("id")?.stringOrNull()
                RemoteCursor(
                    client,
                    userId,
                    user?.get("name")?.stringOrNull() ?: userId ?: client.toString(),
                    user?.get("color")?.stringOrNull()?.takeIf { COLOR.matches(it) } ?: colorOf(userId ?: client.toString()),
                    Selection(anchor, head),
                )
            }.sortedBy { it.clientId }

    companion object {
        const val FILES = "files"
        const val OBSERVER = "observer"
        private const val REFRESH_EVERY_MILLIS = 5_000L
        private const val TICK_MILLIS = 1_000L
        private val COLOR = Regex("#[0-9a-fA-F]{6}")
        private val PALETTE = listOf("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#9a6324", "#800000")

        /** A participant's colour: the same on every device for the same user id. */
        fun colorOf(userId: String): String = PALETTE[Math.floorMod(userId.hashCode(), PALETTE.size)]

        /** Where [selection] of [before] is in [after]: text changed before it moves it, after it does not. */
        internal fun shifted(selection: Selection, before: String, after: String): Selection {
            if (before == after) return selection
            var prefix = 0
            val max = minOf(before.length, after.length)
            while (prefix < max && before[prefix] == after[prefix]) prefix++
            var suffix = 0
            while (suffix < max - prefix && before[before.length - 1 - suffix] == after[after.length - 1 - suffix]) suffix++
            val changedEnd = before.length - suffix
            val delta = after.length - before.length

            fun move(index: Int): Int =
                when {
                    index <= prefix -> index
                    index >= changedEnd -> index + delta
                    else -> after.length - suffix // inside the replaced part: after the new text
                }
            return clamp(Selection(move(selection.anchor), move(selection.head)), after.length)
        }

        private fun clamp(selection: Selection, length: Int) = Selection(selection.anchor.coerceIn(0, length), selection.head.coerceIn(0, length))

        private fun JsonElement.stringOrNull(): String? = (this as? JsonPrimitive)?.takeIf { it.isString }?.content

        private fun JsonElement.intOrNullSafe(): Int? = (this as? JsonPrimitive)?.takeIf { !it.isString }?.intOrNull
    }
}
