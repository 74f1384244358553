package dev.pocdojo.app.core.signin

import dev.pocdojo.app.core.gateway.Account
import dev.pocdojo.app.core.text.UiMessage

/** The sign-in screen shows one form in two modes. */
enum class SignInMode { SIGN_IN, REGISTER }

/** The form's fields; a field error is shown on its field. */
enum class SignInField { SERVER, TENANT, EMAIL, PASSWORD, INVITATION }

data class SignInState(
    val mode: SignInMode = SignInMode.SIGN_IN,
    val server: String = "",
    val tenant: String = "",
    val email: String = "",
    val password: String = "",
    val invitation: String = "",
    val fieldErrors: Map<SignInField, UiMessage> = emptyMap(),
    /** An error no single field takes (wrong credentials, server unreachable...). */
    val formError: UiMessage? = null,
    /** A notice after a registration was sent (the server answers alike whatever happened). */
    val notice: UiMessage? = null,
    val submitting: Boolean = false,
    /** The device has no network (the banner). */
    val offline: Boolean = false,
    /** Set once signed in: the screen moves on to the POC list. */
    val signedIn: Account? = null,
) {
    override fun toString(): String =
        "SignInState(mode=$mode, server=$server, tenant=$tenant, email=$email, password=***, " +
            "fieldErrors=$fieldErrors, formError=$formError, notice=$notice, submitting=$submitting, " +
            "offline=$offline, signedIn=$signedIn)"
}

sealed interface SignInEvent {
    data class Edited(val field: SignInField, val value: String) : SignInEvent

    data class ModeChosen(val mode: SignInMode) : SignInEvent

    data object Submitted : SignInEvent
}
