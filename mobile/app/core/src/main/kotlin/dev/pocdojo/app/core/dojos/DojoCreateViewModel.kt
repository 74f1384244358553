package dev.pocdojo.app.core.dojos

import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.Dojo
import dev.pocdojo.app.core.gateway.DojoDraft
import dev.pocdojo.app.core.gateway.DojoGateway
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JoinedDojo
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** The POC a new dojo works on (chosen on the POC's screen). */
data class DojoPoc(val id: String, val name: String)

data class DojoCreateState(
    val title: String = "",
    /** Optional: the dojo works on this POC; the person may remove it. */
    val poc: DojoPoc? = null,
    val titleError: UiMessage? = null,
    val formError: UiMessage? = null,
    val submitting: Boolean = false,
    /** Created but not joined yet (the join failed): submitting again only joins. */
    val created: Dojo? = null,
    /** Created and joined: the screen opens the dojo and closes. */
    val joined: JoinedDojo? = null,
    val offline: Boolean = false,
    val signedOut: Boolean = false,
)

sealed interface DojoCreateEvent {
    data class TitleEdited(val value: String) : DojoCreateEvent

    data object PocRemoved : DojoCreateEvent

    data object Submitted : DojoCreateEvent
}

/** Starts a dojo (title, optional POC) hosted by the caller, then joins it. */
class DojoCreateViewModel(
    private val dojos: DojoGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    poc: DojoPoc? = null,
) {
    private val mutableState = MutableStateFlow(DojoCreateState(poc = poc))
    val state: StateFlow<DojoCreateState> = mutableState.asStateFlow()

    init {
        scope.launch { connectivity.online.collect { online -> mutableState.update { it.copy(offline = !online) } } }
    }

    fun onEvent(event: DojoCreateEvent) {
        when (event) {
            is DojoCreateEvent.TitleEdited -> mutableState.update { it.copy(title = event.value, titleError = null) }
            DojoCreateEvent.PocRemoved -> mutableState.update { if (it.created == null) it.copy(poc = null) else it }
            DojoCreateEvent.Submitted -> submit()
        }
    }

    private fun submit() {
        val current = mutableState.value
        if (current.submitting || current.joined != null) return
        val title = current.title.trim()
        val titleError =
            when {
                title.isEmpty() -> MessageKey.REQUIRED.message()
                title.length > TITLE_MAX -> MessageKey.TOO_LONG.message(TITLE_MAX)
                else -> null
            }
        if (current.created == null && titleError != null) {
            mutableState.update { it.copy(titleError = titleError, formError = null) }
            return
        }
        mutableState.update { it.copy(submitting = true, titleError = null, formError = null) }
        scope.launch {
            try {
                val dojo = current.created ?: dojos.create(DojoDraft(title, current.poc?.id))
                mutableState.update { it.copy(created = dojo) }
                val joined = dojos.join(dojo.id)
                mutableState.update { it.copy(submitting = false, joined = joined) }
            } catch (failure: GatewayException) {
                mutableState.update { failed(it.copy(submitting = false), failure) }
            }
        }
    }

    private fun failed(state: DojoCreateState, failure: GatewayException): DojoCreateState =
        when {
            failure is GatewayException.Invalid && failure.fieldErrors.any { it.field == "title" } ->
                state.copy(
                    titleError = UiMessage.FromServer(failure.fieldErrors.first { it.field == "title" }.message),
                    formError = failure.fieldErrors.firstOrNull { it.field != "title" }?.let { UiMessage.FromServer(it.message) },
                )
            else -> state.copy(formError = failure.toDojoMessage(), signedOut = failure is GatewayException.SignedOut)
        }

    private companion object {
        /** dojo/dojos_api.py's limit. */
        const val TITLE_MAX = 200
    }
}
