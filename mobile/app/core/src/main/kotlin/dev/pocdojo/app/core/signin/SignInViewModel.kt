package dev.pocdojo.app.core.signin

import dev.pocdojo.app.core.gateway.AuthGateway
import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.Credentials
import dev.pocdojo.app.core.gateway.FieldError
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.Registration
import dev.pocdojo.app.core.gateway.ServerUrl
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import dev.pocdojo.app.core.text.toUiMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/**
 * Sign in, or ask for an account. Events in ([onEvent]), [state] out; calls run in [scope], which the
 * screen's owner cancels when the screen goes away for good.
 */
class SignInViewModel(
    private val auth: AuthGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    initial: SignInState = SignInState(),
    private val rules: PasswordRules = PasswordRules(),
) {
    private val mutableState = MutableStateFlow(initial)
    val state: StateFlow<SignInState> = mutableState.asStateFlow()

    init {
        scope.launch { connectivity.online.collect { online -> mutableState.update { it.copy(offline = !online) } } }
    }

    fun onEvent(event: SignInEvent) {
        when (event) {
            is SignInEvent.Edited -> mutableState.update { edited(it, event.field, event.value) }
            is SignInEvent.ModeChosen ->
                mutableState.update {
                    if (it.submitting || it.mode == event.mode) it else it.copy(mode = event.mode, fieldErrors = emptyMap(), formError = null)
                }
            SignInEvent.Submitted -> submit()
        }
    }

    private fun submit() {
        val current = mutableState.value
        if (current.submitting) return
        val errors = validate(current)
        if (errors.isNotEmpty()) {
            mutableState.update { it.copy(fieldErrors = errors, formError = null, notice = null) }
            return
        }
        mutableState.update { it.copy(submitting = true, fieldErrors = emptyMap(), formError = null, notice = null) }
        scope.launch {
            val server = ServerUrl(current.server.trim().trimEnd('/'))
            try {
                when (current.mode) {
                    SignInMode.SIGN_IN -> {
                        val account =
                            auth.signIn(Credentials(server, current.tenant.trim(), current.email.trim(), current.password))
                        mutableState.update { it.copy(submitting = false, password = "", signedIn = account) }
                    }
                    SignInMode.REGISTER -> {
                        val invitation = current.invitation.trim().ifEmpty { null }
                        auth.register(
                            Registration(server, current.tenant.trim(), current.email.trim(), current.password, invitation),
                        )
                        mutableState.update {
                            it.copy(
                                submitting = false,
                                mode = SignInMode.SIGN_IN,
                                notice = MessageKey.REGISTER_ACCEPTED.message(),
                            )
                        }
                    }
                }
            } catch (failure: GatewayException) {
                mutableState.update { failed(it, failure) }
            }
        }
    }

    private fun validate(state: SignInState): Map<SignInField, UiMessage> =
        buildMap {
            val server = state.server.trim()
            when {
                server.isEmpty() -> put(SignInField.SERVER, MessageKey.REQUIRED.message())
                !SERVER_URL.matches(server) -> put(SignInField.SERVER, MessageKey.SERVER_URL_INVALID.message())
            }
            if (state.tenant.isBlank()) put(SignInField.TENANT, MessageKey.REQUIRED.message())
            val email = state.email.trim()
            when {
                email.isEmpty() -> put(SignInField.EMAIL, MessageKey.REQUIRED.message())
                !EMAIL.matches(email) -> put(SignInField.EMAIL, MessageKey.EMAIL_INVALID.message())
            }
            if (state.password.isEmpty()) {
                put(SignInField.PASSWORD, MessageKey.REQUIRED.message())
            } else if (state.mode == SignInMode.REGISTER) {
                rules.check(state.password, email, state.tenant.trim())?.let { put(SignInField.PASSWORD, it) }
            }
        }

    private fun failed(state: SignInState, failure: GatewayException): SignInState {
        val base = state.copy(submitting = false)
        if (failure !is GatewayException.Invalid) return base.copy(formError = failure.toUiMessage())
        val onFields = LinkedHashMap<SignInField, UiMessage>()
        val elsewhere = mutableListOf<FieldError>()
        for (error in failure.fieldErrors) {
            val field = FIELDS[error.field]
            when {
                field == null -> elsewhere += error
                field !in onFields -> onFields[field] = fieldMessage(field, error)
            }
        }
        val formError =
            elsewhere.firstOrNull()?.let { UiMessage.FromServer("${it.field}: ${it.message}") }
                ?: if (onFields.isEmpty()) failure.toUiMessage() else null
        return base.copy(fieldErrors = onFields, formError = formError)
    }

    private fun fieldMessage(field: SignInField, error: FieldError): UiMessage =
        when {
            error.code == "missing" -> MessageKey.REQUIRED.message()
            field == SignInField.PASSWORD -> rules.messageFor(error.code) ?: UiMessage.FromServer(error.message)
            field == SignInField.EMAIL && error.code == "invalid_email" -> MessageKey.EMAIL_INVALID.message()
            else -> UiMessage.FromServer(error.message)
        }

    private fun edited(state: SignInState, field: SignInField, value: String): SignInState {
        val changed =
            when (field) {
                SignInField.SERVER -> state.copy(server = value)
                SignInField.TENANT -> state.copy(tenant = value)
                SignInField.EMAIL -> state.copy(email = value)
                SignInField.PASSWORD -> state.copy(password = value)
                SignInField.INVITATION -> state.copy(invitation = value)
            }
        return changed.copy(fieldErrors = state.fieldErrors - field)
    }

    private companion object {
        val SERVER_URL = Regex("""https?://[^\s/?#]+(/[^\s?#]*)?""", RegexOption.IGNORE_CASE)
        val EMAIL = Regex("""[^\s@]+@[^\s@]+""")

        /** The backend's field names (the token endpoint calls the e-mail `username`). */
        val FIELDS =
            mapOf(
                "server" to SignInField.SERVER,
                "tenant" to SignInField.TENANT,
                "email" to SignInField.EMAIL,
                "username" to SignInField.EMAIL,
                "password" to SignInField.PASSWORD,
                "invitation" to SignInField.INVITATION,
            )
    }
}
