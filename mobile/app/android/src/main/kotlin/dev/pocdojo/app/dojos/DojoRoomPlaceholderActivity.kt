package dev.pocdojo.app.dojos

import android.app.Activity
import android.content.Context
import android.content.Intent
import android.os.Bundle
import android.widget.ArrayAdapter
import android.widget.ListView
import android.widget.TextView
import dev.pocdojo.app.R
import dev.pocdojo.app.core.gateway.JoinedDojo

/**
 * NOT the dojo room: a placeholder shown once the person has joined a dojo, with its title, their role
 * and the participants at the moment of joining. The room itself (shared editor over the realtime
 * provider, chat, calls) is not written yet; the screen says so.
 */
class DojoRoomPlaceholderActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_dojo_room_placeholder)
        findViewById<TextView>(R.id.title).text = intent.getStringExtra(TITLE)
        findViewById<TextView>(R.id.role).text = getString(R.string.dojo_your_role, roleName(intent.getStringExtra(ROLE).orEmpty()))
        val names = intent.getStringArrayExtra(NAMES).orEmpty()
        val roles = intent.getStringArrayExtra(ROLES).orEmpty()
        val hosts = intent.getBooleanArrayExtra(HOSTS) ?: BooleanArray(0)
        val waiting = intent.getBooleanArrayExtra(WAITING) ?: BooleanArray(0)
        val lines =
            names.indices.map { i ->
                val line = getString(R.string.participant_line, names[i], roleName(roles.getOrElse(i) { "" }))
                when {
                    waiting.getOrElse(i) { false } -> getString(R.string.participant_waiting, names[i])
                    hosts.getOrElse(i) { false } -> getString(R.string.participant_host, line)
                    else -> line
                }
            }
        findViewById<ListView>(R.id.participants).adapter = ArrayAdapter(this, android.R.layout.simple_list_item_1, lines)
    }

    private fun roleName(role: String): String =
        when (role) {
            "driver" -> getString(R.string.role_driver)
            "navigator" -> getString(R.string.role_navigator)
            "observer" -> getString(R.string.role_observer)
            else -> role
        }

    companion object {
        private const val TITLE = "dev.pocdojo.app.dojo.TITLE"
        private const val ROLE = "dev.pocdojo.app.dojo.ROLE"
        private const val NAMES = "dev.pocdojo.app.dojo.NAMES"
        private const val ROLES = "dev.pocdojo.app.dojo.ROLES"
        private const val HOSTS = "dev.pocdojo.app.dojo.HOSTS"
        private const val WAITING = "dev.pocdojo.app.dojo.WAITING"

        fun intent(context: Context, joined: JoinedDojo): Intent {
            val people = joined.dojo.participants
            return Intent(context, DojoRoomPlaceholderActivity::class.java)
                .putExtra(TITLE, joined.dojo.title)
                .putExtra(ROLE, joined.role)
                .putExtra(NAMES, people.map { it.name }.toTypedArray())
                .putExtra(ROLES, people.map { it.role }.toTypedArray())
                .putExtra(HOSTS, people.map { it.host }.toBooleanArray())
                .putExtra(WAITING, people.map { it.waiting }.toBooleanArray())
        }
    }
}
