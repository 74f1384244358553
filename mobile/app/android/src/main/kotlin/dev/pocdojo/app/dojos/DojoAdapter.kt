package dev.pocdojo.app.dojos

import android.view.LayoutInflater
import android.view.View
import android.view.ViewGroup
import android.widget.BaseAdapter
import android.widget.TextView
import dev.pocdojo.app.R
import dev.pocdojo.app.core.gateway.Dojo
import dev.pocdojo.app.shownTime

/** The active dojos' rows; the one being joined shows a spinner. */
class DojoAdapter(private val inflater: LayoutInflater) : BaseAdapter() {
    private var items: List<Dojo> = emptyList()
    private var joining: String? = null

    fun show(items: List<Dojo>, joining: String?) {
        if (items === this.items && joining == this.joining) return
        this.items = items
        this.joining = joining
        notifyDataSetChanged()
    }

    override fun getCount(): Int = items.size

    override fun getItem(position: Int): Dojo = items[position]

    override fun getItemId(position: Int): Long = position.toLong()

    override fun getView(position: Int, convertView: View?, parent: ViewGroup): View {
        val row = convertView ?: inflater.inflate(R.layout.item_dojo, parent, false)
        val dojo = items[position]
        row.findViewById<TextView>(R.id.title).text = dojo.title
        val started = row.context.getString(R.string.dojo_started, row.context.shownTime(dojo.startedAt))
        row.findViewById<TextView>(R.id.details).text =
            when {
                !dojo.active -> "$started · ${row.context.getString(R.string.dojo_ended_replay)}"
                dojo.lobby -> row.context.getString(R.string.dojo_details_lobby, started)
                else -> started
            }
        row.findViewById<View>(R.id.joining).visibility = if (dojo.id == joining) View.VISIBLE else View.GONE
        return row
    }
}
