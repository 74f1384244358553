package dev.pocdojo.app.core.poclist

import dev.pocdojo.app.core.gateway.FacetCount
import dev.pocdojo.app.core.gateway.Facets
import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.text.UiMessage

/** A filter chip: a language or a tag, its count for the current query, and whether it is on. */
data class Chip(val value: String, val count: Int?, val selected: Boolean)

data class PocListState(
    /** The search box as typed (searched after a pause in typing). */
    val text: String = "",
    val language: String? = null,
    val tags: Set<String> = emptySet(),
    val items: List<Poc> = emptyList(),
    val facets: Facets = Facets.NONE,
    /** The counts could not be loaded for the current query (the chips keep the last ones). */
    val facetsError: UiMessage? = null,
    /** The first page of the current query is loading. */
    val loading: Boolean = false,
    /** The next page is loading (endless scroll). */
    val loadingMore: Boolean = false,
    /** The last page has arrived. */
    val endReached: Boolean = false,
    /** The last load failed: shown with a retry. */
    val error: UiMessage? = null,
    /** The device has no network (the banner). */
    val offline: Boolean = false,
    /** The session ended (or the person signed out): the screen goes back to sign-in. */
    val signedOut: Boolean = false,
    /** A sign-out is under way (the server is being told). */
    val signingOut: Boolean = false,
    /** Signed out on this device, but the server could not be told (shown once, on the way to sign-in). */
    val signOutWarning: UiMessage? = null,
) {
    /** The query the filters describe (the text trimmed). */
    val query: PocQuery get() = PocQuery(text.trim(), language, tags)

    /** Nothing matches (and nothing is loading or failed): the empty-result message. */
    val empty: Boolean get() = items.isEmpty() && endReached && !loading && error == null

    /** Language chips: the facets' languages, the selected one first even when the facets lack it. */
    val languageChips: List<Chip> get() = chips(facets.languages, setOfNotNull(language))

    /** Tag chips: the facets' tags, the selected ones first. */
    val tagChips: List<Chip> get() = chips(facets.tags, tags)

    private fun chips(counts: List<FacetCount>, selected: Set<String>): List<Chip> {
        val byValue = counts.associateBy { it.value }
        val on = selected.sorted().map { Chip(it, byValue[it]?.count, selected = true) }
        val off = counts.filter { it.value !in selected }.map { Chip(it.value, it.count, selected = false) }
        return on + off
    }
}

sealed interface PocListEvent {
    data class TextChanged(val text: String) : PocListEvent

    /** A language chip was tapped: it becomes the filter, or stops being it. */
    data class LanguageToggled(val language: String) : PocListEvent

    data class TagToggled(val tag: String) : PocListEvent

    /** The list was scrolled near its end: load the next page if there is one. */
    data object NearEnd : PocListEvent

    /** Retry the load that failed. */
    data object Retry : PocListEvent

    /** Reload the first page (pull to refresh). */
    data object Refresh : PocListEvent

    /** The menu's sign-out: the server revokes the sign-in, the device forgets it, back to sign-in. */
    data object SignOut : PocListEvent
}
