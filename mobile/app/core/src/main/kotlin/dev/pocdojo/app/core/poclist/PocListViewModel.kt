package dev.pocdojo.app.core.poclist

import dev.pocdojo.app.core.gateway.AuthGateway
import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.Facets
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.PocGateway
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.message
import dev.pocdojo.app.core.text.toUiMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Job
import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** Page size and how long typing must pause before the text is searched. */
data class PocListSettings(val pageSize: Int = 20, val debounceMillis: Long = 300)

/**
 * The POC list: search as you type, language and tag chips with counts, endless scroll. Events in
 * ([onEvent]), [state] out. One load runs at a time: a new query cancels the load of the old one, so a
 * late answer never overwrites a newer one. Work runs in [scope], cancelled by the screen's owner.
 */
class PocListViewModel(
    private val pocs: PocGateway,
    private val auth: AuthGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    private val settings: PocListSettings = PocListSettings(),
) {
    private val mutableState = MutableStateFlow(PocListState(loading = true))
    val state: StateFlow<PocListState> = mutableState.asStateFlow()

    /** The load in flight (first page, debounce wait or next page). */
    private var load: Job? = null

    /** The query whose pages [items][PocListState.items] holds, and where its next page starts. */
    private var loaded: PocQuery? = null
    private var nextCursor: String? = null

    /** Whether the failed load was a next page (retry loads it again) rather than a first page. */
    private var failedMore = false

    init {
        scope.launch {
            connectivity.online.collect { online ->
                val wasOffline = mutableState.value.offline
                mutableState.update { it.copy(offline = !online) }
                if (online && wasOffline && mutableState.value.error != null) retry()
            }
        }
        search(debounce = false)
    }

    fun onEvent(event: PocListEvent) {
        when (event) {
            is PocListEvent.TextChanged -> {
                val before = mutableState.value.query
                mutableState.update { it.copy(text = event.text) }
                if (mutableState.value.query != before) search(debounce = true)
            }
            is PocListEvent.LanguageToggled -> {
                mutableState.update { it.copy(language = if (it.language == event.language) null else event.language) }
                search(debounce = false)
            }
            is PocListEvent.TagToggled -> {
                mutableState.update { it.copy(tags = if (event.tag in it.tags) it.tags - event.tag else it.tags + event.tag) }
                search(debounce = false)
            }
            PocListEvent.NearEnd -> loadMore()
            PocListEvent.Retry -> retry()
            PocListEvent.Refresh -> search(debounce = false)
            PocListEvent.SignOut -> signOut()
        }
    }

    private fun signOut() {
        if (mutableState.value.signingOut || mutableState.value.signedOut) return
        load?.cancel()
        mutableState.update { it.copy(signingOut = true) }
        scope.launch {
            val warning =
                try {
                    auth.signOut()
                    null
                } catch (failure: GatewayException) {
                    // the device has forgotten the session all the same: say that the server was not told
                    MessageKey.SIGN_OUT_NOT_CONFIRMED.message()
                }
            mutableState.update { it.copy(signingOut = false, signedOut = true, signOutWarning = warning) }
        }
    }

    private fun retry() {
        if (failedMore) loadMore(afterFailure = true) else search(debounce = false)
    }

    /** Loads the first page of the current query (after the typing pause when [debounce]). */
    private fun search(debounce: Boolean) {
        load?.cancel()
        failedMore = false
        mutableState.update { it.copy(loading = true, loadingMore = false, error = null) }
        load =
            scope.launch {
                if (debounce) delay(settings.debounceMillis)
                val query = mutableState.value.query
                try {
                    val (page, facets) =
                        coroutineScope {
                            val facets = async { facetsOrFailure(query) }
                            pocs.search(query, cursor = null, limit = settings.pageSize) to facets.await()
                        }
                    loaded = query
                    nextCursor = page.nextCursor
                    mutableState.update {
                        it.copy(
                            items = page.items,
                            facets = facets.getOrDefault(it.facets),
                            facetsError = (facets.exceptionOrNull() as GatewayException?)?.toUiMessage(),
                            loading = false,
                            endReached = page.nextCursor == null,
                        )
                    }
                } catch (failure: GatewayException) {
                    fail(failure)
                }
            }
    }

    private fun loadMore(afterFailure: Boolean = false) {
        val current = mutableState.value
        val cursor = nextCursor
        val busy = current.loading || current.loadingMore || (current.error != null && !afterFailure)
        if (busy || cursor == null || loaded != current.query) return
        mutableState.update { it.copy(loadingMore = true, error = null) }
        failedMore = false
        load =
            scope.launch {
                try {
                    val page = pocs.search(current.query, cursor, settings.pageSize)
                    nextCursor = page.nextCursor
                    mutableState.update { state ->
                        val known = state.items.mapTo(HashSet()) { it.id }
                        state.copy(
                            items = state.items + page.items.filter { it.id !in known },
                            loadingMore = false,
                            endReached = page.nextCursor == null,
                        )
                    }
                } catch (failure: GatewayException) {
                    failedMore = true
                    fail(failure)
                }
            }
    }

    /** Facet counts are an aid: when they fail the list still shows, with the chips it had and a note. */
    private suspend fun facetsOrFailure(query: PocQuery): Result<Facets> =
        try {
            Result.success(pocs.facets(query))
        } catch (failure: GatewayException) {
            Result.failure(failure)
        }

    private fun fail(failure: GatewayException) {
        mutableState.update {
            it.copy(
                loading = false,
                loadingMore = false,
                error = failure.toUiMessage(),
                signedOut = it.signedOut || failure is GatewayException.SignedOut,
            )
        }
    }
}
