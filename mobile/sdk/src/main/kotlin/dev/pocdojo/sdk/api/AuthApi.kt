package dev.pocdojo.sdk.api

import kotlinx.coroutines.flow.StateFlow
import okhttp3.FormBody
import okhttp3.Request

/** Identity: sign in and out, registration, the caller's account. */
public class AuthApi internal constructor(
    private val transport: Transport,
    private val sessions: SessionManager,
) {
    /** [AuthState.SignedIn] while the client holds a session; becomes SignedOut when it ends. */
    public val state: StateFlow<AuthState> get() = sessions.state

    /**
     * Signs in to the tenant [tenant] (its slug) and keeps the session in the client's [SessionStore].
     * Wrong credentials raise [InvalidGrantException]; too many attempts raise [RateLimitedException]
     * with the wait. Never retried automatically.
     */
    public suspend fun signIn(tenant: String, email: String, password: String) {
        sessions.signIn(
            FormBody.Builder()
                .add("grant_type", "password")
                .add("tenant", tenant)
                .add("username", email)
                .add("password", password)
                .build(),
        )
    }

    /**
     * Revokes this sign-in on the server (every token of it stops working) and forgets it here. The
     * session is forgotten even when the server cannot be told; that error is then raised.
     */
    public suspend fun signOut() {
        sessions.signOut()
    }

    /**
     * Asks for an account. The answer is the same whether or not it was created (see
     * [RegistrationAccepted]); 422 for a malformed address or a weak password, with field errors.
     */
    public suspend fun register(registration: Registration): RegistrationAccepted {
        val body = transport.json.encodeToString(Registration.serializer(), registration).toJsonBody()
        val request = Request.Builder().url(transport.url("v1", "auth", "register").build()).post(body).build()
        return transport.decode(transport.send(request), RegistrationAccepted.serializer())
    }

    /** The signed-in account. */
    public suspend fun me(): User {
        val request = Request.Builder().url(transport.url("v1", "auth", "me").build()).get().build()
        return transport.decode(sessions.send(request), User.serializer())
    }
}
