package dev.pocdojo.app.poclist

import android.view.LayoutInflater
import android.view.View
import android.view.ViewGroup
import android.widget.BaseAdapter
import android.widget.TextView
import dev.pocdojo.app.R
import dev.pocdojo.app.core.gateway.Poc

/** The list's rows: one per POC, then a progress row while the next page loads. */
class PocAdapter(private val inflater: LayoutInflater) : BaseAdapter() {
    private var items: List<Poc> = emptyList()
    private var loadingMore = false

    fun show(items: List<Poc>, loadingMore: Boolean) {
        if (items === this.items && loadingMore == this.loadingMore) return
        this.items = items
        this.loadingMore = loadingMore
        notifyDataSetChanged()
    }

    override fun getCount(): Int = items.size + if (loadingMore) 1 else 0

    override fun getItem(position: Int): Any? = items.getOrNull(position)

    override fun getItemId(position: Int): Long = position.toLong()

    override fun getViewTypeCount(): Int = 2

    override fun getItemViewType(position: Int): Int = if (position < items.size) ROW else LOADING

    override fun isEnabled(position: Int): Boolean = position < items.size

    override fun getView(position: Int, convertView: View?, parent: ViewGroup): View {
        if (getItemViewType(position) == LOADING) {
            return convertView ?: inflater.inflate(R.layout.item_loading, parent, false)
        }
        val row = convertView ?: inflater.inflate(R.layout.item_poc, parent, false)
        val poc = items[position]
        row.findViewById<TextView>(R.id.name).text = poc.name
        row.findViewById<TextView>(R.id.details).text =
            if (poc.tags.isEmpty()) {
                poc.language
            } else {
                row.context.getString(R.string.poc_language_and_tags, poc.language, poc.tags.joinToString(", "))
            }
        row.findViewById<TextView>(R.id.description).apply {
            text = poc.description
            visibility = if (poc.description.isEmpty()) View.GONE else View.VISIBLE
        }
        return row
    }

    private companion object {
        const val ROW = 0
        const val LOADING = 1
    }
}
