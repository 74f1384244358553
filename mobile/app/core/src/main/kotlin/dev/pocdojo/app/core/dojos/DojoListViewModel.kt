package dev.pocdojo.app.core.dojos

import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.Dojo
import dev.pocdojo.app.core.gateway.DojoGateway
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JoinedDojo
import dev.pocdojo.app.core.text.UiMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

data class DojoListState(
    val items: List<Dojo> = emptyList(),
    /** The next page's cursor; null on the last page. */
    val nextCursor: String? = null,
    val loading: Boolean = true,
    val loadingMore: Boolean = false,
    val error: UiMessage? = null,
    /** The dojo being joined. */
    val joining: String? = null,
    /** Joined: the screen opens the dojo, then sends [DojoListEvent.Opened]. */
    val joined: JoinedDojo? = null,
    /** An ended dojo tapped: the screen opens its replay, then sends [DojoListEvent.Opened]. */
    val replay: String? = null,
    val offline: Boolean = false,
    val signedOut: Boolean = false,
) {
    val empty: Boolean get() = !loading && error == null && items.isEmpty()
}

sealed interface DojoListEvent {
    /** Reload from the first page (pull, retry, coming back to the screen). */
    data object Refresh : DojoListEvent

    /** The last rows are in view: the next page, if any. */
    data object NearEnd : DojoListEvent

    /** A dojo tapped: a running one is joined, an ended one opens on its replay. */
    data class Join(val dojoId: String) : DojoListEvent

    /** The screen has opened [DojoListState.joined] or [DojoListState.replay]. */
    data object Opened : DojoListEvent
}

/** The tenant's dojos, newest first: joining a running one, replaying an ended one. */
class DojoListViewModel(
    private val dojos: DojoGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    private val pageSize: Int = PAGE_SIZE,
) {
    private val mutableState = MutableStateFlow(DojoListState())
    val state: StateFlow<DojoListState> = mutableState.asStateFlow()
    private var loadJob: Job? = null

    init {
        scope.launch { connectivity.online.collect { online -> mutableState.update { it.copy(offline = !online) } } }
        load(cursor = null)
    }

    fun onEvent(event: DojoListEvent) {
        when (event) {
            DojoListEvent.Refresh -> load(cursor = null)
            DojoListEvent.NearEnd -> {
                val current = mutableState.value
                if (!current.loading && !current.loadingMore && current.error == null && current.nextCursor != null) {
                    load(current.nextCursor)
                }
            }
            is DojoListEvent.Join -> join(event.dojoId)
            DojoListEvent.Opened -> mutableState.update { it.copy(joined = null, replay = null) }
        }
    }

    private fun load(cursor: String?) {
        loadJob?.cancel() // a refresh replaces a load under way: an older answer never lands after it
        val first = cursor == null
        mutableState.update { it.copy(loading = first, loadingMore = !first, error = null) }
        loadJob =
            scope.launch {
                try {
                    val page = dojos.recent(cursor, pageSize)
                    mutableState.update {
                        it.copy(
                            items = if (first) page.items else appended(it.items, page.items),
                            nextCursor = page.nextCursor,
                            loading = false,
                            loadingMore = false,
                        )
                    }
                } catch (failure: GatewayException) {
                    mutableState.update { failed(it.copy(loading = false, loadingMore = false), failure) }
                }
            }
    }

    /** A dojo started meanwhile shifts the pages: one already shown is not shown twice. */
    private fun appended(shown: List<Dojo>, page: List<Dojo>): List<Dojo> = shown + page.filter { new -> shown.none { it.id == new.id } }

    private fun join(dojoId: String) {
        if (mutableState.value.joining != null) return
        if (mutableState.value.items.any { it.id == dojoId && !it.active }) {
            mutableState.update { it.copy(replay = dojoId, error = null) }
            return
        }
        mutableState.update { it.copy(joining = dojoId, error = null) }
        scope.launch {
            try {
                val joined = dojos.join(dojoId)
                mutableState.update { it.copy(joining = null, joined = joined) }
            } catch (failure: GatewayException) {
                mutableState.update {
                    val state = failed(it.copy(joining = null), failure)
                    // Ended or gone since the list was read: drop it from the list.
                    if (failure is GatewayException.NotFound) state.copy(items = state.items.filter { d -> d.id != dojoId }) else state
                }
            }
        }
    }

    private fun failed(state: DojoListState, failure: GatewayException): DojoListState =
        state.copy(error = failure.toDojoMessage(), signedOut = state.signedOut || failure is GatewayException.SignedOut)

    private companion object {
        const val PAGE_SIZE = 30
    }
}
