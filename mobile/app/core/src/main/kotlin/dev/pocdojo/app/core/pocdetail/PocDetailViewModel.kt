package dev.pocdojo.app.core.pocdetail

import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.gateway.PocGateway
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.toUiMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

data class PocDetailState(
    val poc: Poc? = null,
    val loading: Boolean = true,
    /** Delete was tapped: the screen asks for confirmation. */
    val confirmingDelete: Boolean = false,
    val deleting: Boolean = false,
    /** Deleted (or found gone): the screen closes. */
    val deleted: Boolean = false,
    val error: UiMessage? = null,
    val offline: Boolean = false,
    val signedOut: Boolean = false,
)

sealed interface PocDetailEvent {
    data object DeleteTapped : PocDetailEvent

    data object DeleteConfirmed : PocDetailEvent

    data object DeleteCancelled : PocDetailEvent

    /** Reload (after a failure, or on coming back from the editor). */
    data object Reload : PocDetailEvent
}

/** One POC, and its deletion after a confirmation. */
class PocDetailViewModel(
    private val pocs: PocGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    private val pocId: String,
) {
    private val mutableState = MutableStateFlow(PocDetailState())
    val state: StateFlow<PocDetailState> = mutableState.asStateFlow()

    init {
        scope.launch { connectivity.online.collect { online -> mutableState.update { it.copy(offline = !online) } } }
        load()
    }

    fun onEvent(event: PocDetailEvent) {
        when (event) {
            PocDetailEvent.DeleteTapped ->
                mutableState.update { if (it.poc == null || it.deleting) it else it.copy(confirmingDelete = true) }
            PocDetailEvent.DeleteCancelled -> mutableState.update { it.copy(confirmingDelete = false) }
            PocDetailEvent.DeleteConfirmed -> delete()
            PocDetailEvent.Reload -> load()
        }
    }

    private fun load() {
        mutableState.update { it.copy(loading = true, error = null) }
        scope.launch {
            try {
                val poc = pocs.get(pocId)
                mutableState.update { it.copy(poc = poc, loading = false) }
            } catch (failure: GatewayException) {
                mutableState.update { failed(it.copy(loading = false), failure) }
            }
        }
    }

    private fun delete() {
        val current = mutableState.value
        if (!current.confirmingDelete || current.deleting) return
        mutableState.update { it.copy(confirmingDelete = false, deleting = true, error = null) }
        scope.launch {
            try {
                pocs.delete(pocId)
                mutableState.update { it.copy(deleting = false, deleted = true) }
            } catch (failure: GatewayException) {
                mutableState.update { failed(it.copy(deleting = false), failure) }
            }
        }
    }

    private fun failed(state: PocDetailState, failure: GatewayException): PocDetailState =
        state.copy(
            error = failure.toUiMessage(),
            // Someone else deleted it: nothing left to show or delete.
            deleted = state.deleted || failure is GatewayException.NotFound,
            signedOut = state.signedOut || failure is GatewayException.SignedOut,
        )
}
