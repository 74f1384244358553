package dev.pocdojo.app.dojos

import android.app.Activity
import android.app.AlertDialog
import android.content.Context
import android.content.Intent
import android.graphics.Color
import android.os.Bundle
import android.text.Editable
import android.text.Spanned
import android.text.TextWatcher
import android.text.method.KeyListener
import android.text.style.BackgroundColorSpan
import android.view.Menu
import android.view.MenuItem
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.ListView
import android.widget.Spinner
import android.widget.TextView
import android.widget.Toast
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JoinedDojo
import dev.pocdojo.app.core.room.DojoRoomState
import dev.pocdojo.app.core.room.DojoRoomViewModel
import dev.pocdojo.app.core.room.HostAction
import dev.pocdojo.app.core.room.RoomParticipant
import dev.pocdojo.app.core.room.ReadOnlyReason
import dev.pocdojo.app.core.room.RemoteCursor
import dev.pocdojo.app.core.room.RoomConnection
import dev.pocdojo.app.core.room.RoomEvent
import dev.pocdojo.app.core.room.StopReason
import dev.pocdojo.app.graph
import dev.pocdojo.app.retained
import dev.pocdojo.app.show
import dev.pocdojo.app.text
import dev.pocdojo.app.core.room.Rooms
import kotlin.coroutines.CoroutineContext
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.flow.flatMapLatest
import kotlinx.coroutines.launch

/**
 * The dojo room: one file of the shared document in a monospace editor (local edits go to the
 * view-model as range replacements; remote changes are applied as the smallest replacement, so the
 * local cursor stays put), the others' cursors and selections in their colours, the file list, the
 * participants, randori, chat, and a banner for connecting / offline / stopped.
 */
class DojoRoomActivity : Activity() {
    private lateinit var screen: Retained<RoomHolder>
    private lateinit var views: CoroutineScope
    private lateinit var editor: CodeEditor
    private var editorKeys: KeyListener? = null
    private var applying = false
    private val cursorSpans = mutableListOf<Any>()
    private lateinit var files: ArrayAdapter<String>
    private lateinit var chat: ArrayAdapter<String>
    private lateinit var participants: ArrayAdapter<String>
    private var people: List<RoomParticipant> = emptyList()
    private var hostMenu = false
    private var lockedShown = false
    private var lobbyShown = false
    private var randoriShown = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_dojo_room)
        val dojoId = intent.getStringExtra(DOJO_ID).orEmpty()
        findViewById<TextView>(R.id.title).text = intent.getStringExtra(TITLE)
        val rooms = graph.gateways.rooms
        val main = graph.main
        screen = retained { scope -> RoomHolder(dojoId, rooms, main, scope) }
        editor = findViewById(R.id.editor)
        editorKeys = editor.keyListener
        editor.addTextChangedListener(
            object : TextWatcher {
                override fun beforeTextChanged(s: CharSequence, start: Int, count: Int, after: Int) = Unit

                override fun onTextChanged(s: CharSequence, start: Int, before: Int, count: Int) {
                    if (applying) return
                    send(RoomEvent.Edit(start, start + before, s.subSequence(start, start + count).toString()))
                }

                override fun afterTextChanged(s: Editable) = Unit
            },
        )
        editor.onSelection = { start, end -> if (!applying) send(RoomEvent.MoveCursor(start, end)) }
        files = ArrayAdapter(this, R.layout.item_file, mutableListOf<String>())
        files.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item)
        findViewById<Spinner>(R.id.files).apply {
            adapter = files
            onItemSelectedListener =
                object : AdapterView.OnItemSelectedListener {
                    override fun onItemSelected(parent: AdapterView<*>, view: View?, position: Int, id: Long) {
                        val path = files.getItem(position) ?: return
                        if (path != screen.viewModel.current()?.state?.value?.openFile) send(RoomEvent.OpenFile(path))
                    }

                    override fun onNothingSelected(parent: AdapterView<*>) = Unit
                }
        }
        findViewById<Button>(R.id.new_file).setOnClickListener {
            val input = findViewById<EditText>(R.id.new_file_path)
            send(RoomEvent.NewFile(input.text.toString().trim()))
            input.text.clear()
        }
        participants = ArrayAdapter(this, R.layout.item_room_line, mutableListOf<String>())
        findViewById<ListView>(R.id.participants).apply {
            adapter = participants
            setOnItemClickListener { _, _, position, _ -> people.getOrNull(position)?.let(::hostControls) }
        }
        chat = ArrayAdapter(this, R.layout.item_room_line, mutableListOf<String>())
        findViewById<ListView>(R.id.chat).adapter = chat
        findViewById<Button>(R.id.send).setOnClickListener {
            val input = findViewById<EditText>(R.id.chat_input)
            send(RoomEvent.SendChat(input.text.toString()))
            input.text.clear()
        }
        findViewById<Button>(R.id.reconnect).setOnClickListener { send(RoomEvent.Reconnect) }
        views = CoroutineScope(SupervisorJob() + graph.main)
        showStatus(getString(R.string.room_entering), reconnect = false)
        views.launch {
            screen.viewModel.failure.collect { failure -> if (failure != null) showStatus(failure, reconnect = false) }
        }
        @OptIn(kotlinx.coroutines.ExperimentalCoroutinesApi::class)
        views.launch { screen.viewModel.room.filterNotNull().flatMapLatest { it.state }.collect(::render) }
    }

    /** The host's choices for one participant. */
    private fun hostControls(person: RoomParticipant) {
        if (!hostMenu || person.userId == screen.viewModel.current()?.state?.value?.me) return
        val actions =
            buildList {
                if (person.waiting) add(R.string.room_admit to HostAction.Admit(person.userId))
                for ((role, label) in listOf("driver" to R.string.room_make_driver, "navigator" to R.string.room_make_navigator, "observer" to R.string.room_make_observer)) {
                    if (person.role != role) add(label to HostAction.SetRole(person.userId, role))
                }
                add(R.string.room_kick to HostAction.Kick(person.userId))
            }
        AlertDialog
            .Builder(this)
            .setTitle(person.name)
            .setItems(actions.map { getString(it.first) }.toTypedArray()) { _, which -> send(RoomEvent.Host(actions[which].second)) }
            .show()
    }

    override fun onCreateOptionsMenu(menu: Menu): Boolean {
        if (!hostMenu) return false
        menuInflater.inflate(R.menu.dojo_room, menu)
        menu.findItem(R.id.lock).isChecked = lockedShown
        menu.findItem(R.id.lobby).isChecked = lobbyShown
        menu.findItem(R.id.randori_start).isVisible = !randoriShown
        menu.findItem(R.id.randori_stop).isVisible = randoriShown
        return true
    }

    override fun onOptionsItemSelected(item: MenuItem): Boolean {
        val action =
            when (item.itemId) {
                R.id.lock -> HostAction.Lock(!lockedShown)
                R.id.lobby -> HostAction.Lobby(!lobbyShown)
                R.id.randori_start -> HostAction.Randori(RANDORI_SECONDS)
                R.id.randori_stop -> HostAction.Randori(null)
                else -> return super.onOptionsItemSelected(item)
            }
        send(RoomEvent.Host(action))
        return true
    }

    private fun send(event: RoomEvent) {
        screen.viewModel.current()?.onEvent(event)
    }

    private fun render(state: DojoRoomState) {
        if (state.title.isNotEmpty()) findViewById<TextView>(R.id.title).text = state.title
        renderConnection(state.connection)
        renderEditor(state)
        findViewById<TextView>(R.id.read_only).apply {
            text = state.readOnly?.let(::readOnlyText)
            visibility = if (state.readOnly == null) View.GONE else View.VISIBLE
        }
        findViewById<TextView>(R.id.randori).apply {
            val randori = state.randori
            text = randori?.let { getString(R.string.room_randori, it.driverName ?: it.driverId.orEmpty(), (it.secondsLeft ?: 0L).toInt()) }
            visibility = if (randori == null) View.GONE else View.VISIBLE
        }
        people = state.participants
        val lines =
            state.participants.map { p ->
                val line = getString(R.string.participant_line, p.name, roleName(p.role))
                val hosted = if (p.host) getString(R.string.participant_host, line) else line
                when {
                    p.waiting -> getString(R.string.participant_waiting, p.name)
                    p.online -> "$hosted · ${getString(R.string.room_online)}"
                    else -> hosted
                }
            }
        if (lines != (0 until participants.count).map { participants.getItem(it) }) {
            participants.clear()
            participants.addAll(lines)
        }
        if (state.iAmHost != hostMenu || state.locked != lockedShown || state.lobby != lobbyShown || (state.randori != null) != randoriShown) {
            hostMenu = state.iAmHost
            lockedShown = state.locked
            lobbyShown = state.lobby
            randoriShown = state.randori != null
            invalidateOptionsMenu()
        }
        if (files.count != state.files.size || (0 until files.count).any { files.getItem(it) != state.files[it] }) {
            files.clear()
            files.addAll(state.files)
        }
        state.openFile?.let { findViewById<Spinner>(R.id.files).setSelection(state.files.indexOf(it)) }
        findViewById<View>(R.id.new_file).isEnabled = state.canEdit
        findViewById<View>(R.id.new_file_path).isEnabled = state.canEdit
        findViewById<TextView>(R.id.refresh_error).show(state.refreshError?.let { getString(R.string.room_refresh_failed, text(it)) })
        val messages = state.chat.map { getString(R.string.room_chat_line, state.nameOf(it.authorId), it.text) }
        if (messages != (0 until chat.count).map { chat.getItem(it) }) {
            chat.clear()
            chat.addAll(messages)
        }
        val notice = state.refused?.let(::readOnlyText) ?: state.error?.let { text(it) }
        if (notice != null) {
            Toast.makeText(this, notice, Toast.LENGTH_SHORT).show()
            send(RoomEvent.Dismiss)
        }
    }

    /** Applies the view-model's text as the smallest replacement (the local cursor stays), then the others' cursors. */
    private fun renderEditor(state: DojoRoomState) {
        applying = true
        try {
            val shown = editor.text
            val wanted = state.text
            if (shown.toString() != wanted) {
                var prefix = 0
                val max = minOf(shown.length, wanted.length)
                while (prefix < max && shown[prefix] == wanted[prefix]) prefix++
                var suffix = 0
                while (suffix < max - prefix && shown[shown.length - 1 - suffix] == wanted[wanted.length - 1 - suffix]) suffix++
                shown.replace(prefix, shown.length - suffix, wanted, prefix, wanted.length - suffix)
            }
            val selection = state.selection
            if (editor.selectionStart != selection.start || editor.selectionEnd != selection.end) {
                editor.setSelection(selection.anchor.coerceIn(0, shown.length), selection.head.coerceIn(0, shown.length))
            }
            editor.keyListener = if (state.canEdit) editorKeys else null
            cursorSpans.forEach { shown.removeSpan(it) }
            cursorSpans.clear()
            state.remoteCursors.forEach { addCursor(shown, it) }
        } finally {
            applying = false
        }
    }

    /** A selection as a light background in the person's colour; a caret as the character after it, stronger. */
    private fun addCursor(text: Editable, cursor: RemoteCursor) {
        val color = Color.parseColor(cursor.color)
        val start = cursor.selection.start.coerceIn(0, text.length)
        val end = cursor.selection.end.coerceIn(0, text.length)
        val (from, to, alpha) =
            when {
                end > start -> Triple(start, end, SELECTION_ALPHA)
                text.isEmpty() -> return
                start < text.length -> Triple(start, start + 1, CARET_ALPHA)
                else -> Triple(start - 1, start, CARET_ALPHA)
            }
        val span = BackgroundColorSpan(Color.argb(alpha, Color.red(color), Color.green(color), Color.blue(color)))
        text.setSpan(span, from, to, Spanned.SPAN_EXCLUSIVE_EXCLUSIVE)
        cursorSpans += span
    }

    private fun renderConnection(connection: RoomConnection) {
        when (connection) {
            RoomConnection.Synced -> findViewById<View>(R.id.status_bar).visibility = View.GONE
            RoomConnection.Connecting -> showStatus(getString(R.string.room_connecting), reconnect = false)
            is RoomConnection.Offline ->
                showStatus(getString(R.string.room_offline, ((connection.retryInMillis + 999) / 1000).toInt()), reconnect = false)
            is RoomConnection.Stopped ->
                showStatus(
                    when (connection.reason) {
                        StopReason.KICKED -> getString(R.string.room_kicked)
                        StopReason.ENDED -> getString(R.string.room_ended)
                        StopReason.OTHER -> getString(R.string.room_stopped, connection.closeCode, connection.detail)
                    },
                    reconnect = connection.reason == StopReason.OTHER,
                )
            is RoomConnection.Failed -> showStatus(getString(R.string.room_failed, connection.detail), reconnect = true)
        }
    }

    private fun showStatus(text: String, reconnect: Boolean) {
        findViewById<View>(R.id.status_bar).visibility = View.VISIBLE
        findViewById<TextView>(R.id.status).text = text
        findViewById<View>(R.id.reconnect).visibility = if (reconnect) View.VISIBLE else View.GONE
    }

    private fun readOnlyText(reason: ReadOnlyReason): String =
        when (reason) {
            ReadOnlyReason.Observer -> getString(R.string.room_read_only_observer)
            is ReadOnlyReason.NotDriver -> getString(R.string.room_read_only_driver, reason.driverName.orEmpty())
            is ReadOnlyReason.Server -> getString(R.string.room_read_only_server, reason.detail)
            ReadOnlyReason.Closed -> getString(R.string.room_read_only_closed)
        }

    private fun roleName(role: String): String =
        when (role) {
            "driver" -> getString(R.string.role_driver)
            "navigator" -> getString(R.string.role_navigator)
            "observer" -> getString(R.string.role_observer)
            else -> role
        }

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        views.cancel()
        if (!isChangingConfigurations) {
            screen.viewModel.current()?.close()
            screen.close()
        }
        super.onDestroy()
    }

    /** Enters the room (who I am, a ticket, the socket) in the retained scope, then holds its view-model. */
    private class RoomHolder(
        dojoId: String,
        rooms: Rooms?,
        main: CoroutineContext,
        scope: CoroutineScope,
    ) {
        val room = MutableStateFlow<DojoRoomViewModel?>(null)

        /** Entering failed: the server's or the client's words. */
        val failure = MutableStateFlow<String?>(if (rooms == null) "This build has no room backend." else null)

        init {
            if (rooms != null) {
                scope.launch {
                    try {
                        val entry = rooms.enter(dojoId, scope, main)
                        room.value = DojoRoomViewModel(dojoId, entry.me, entry.myName, entry.link, entry.gateway, scope)
                    } catch (refused: GatewayException) {
                        failure.value = refused.message ?: refused.toString()
                    }
                }
            }
        }

        fun current(): DojoRoomViewModel? = room.value
    }

    companion object {
        private const val DOJO_ID = "dev.pocdojo.app.dojo.ID"
        private const val TITLE = "dev.pocdojo.app.dojo.TITLE"
        private const val SELECTION_ALPHA = 0x55
        private const val CARET_ALPHA = 0xB0
        private const val RANDORI_SECONDS = 300

        fun intent(context: Context, joined: JoinedDojo): Intent =
            Intent(context, DojoRoomActivity::class.java)
                .putExtra(DOJO_ID, joined.dojo.id)
                .putExtra(TITLE, joined.dojo.title)
    }
}
