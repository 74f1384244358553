package dev.pocdojo.app.core.gateway

/** The server the app talks to, e.g. `https://pocdojo.example.com` or `http://192.168.0.10:8000`. */
@JvmInline
value class ServerUrl(val value: String)

/** A password sign-in into one tenant (`POST /v1/auth/token`, grant_type=password). */
data class Credentials(val server: ServerUrl, val tenant: String, val email: String, val password: String) {
    override fun toString(): String = "Credentials(server=$server, tenant=$tenant, email=$email, password=***)"
}

/** A self-signup (`POST /v1/auth/register`); [invitation] is the code an administrator sent, if any. */
data class Registration(
    val server: ServerUrl,
    val tenant: String,
    val email: String,
    val password: String,
    val invitation: String?,
) {
    override fun toString(): String =
        "Registration(server=$server, tenant=$tenant, email=$email, password=***, invitation=${invitation != null})"
}

/** The signed-in account (`GET /v1/auth/me`). */
data class Account(val id: String, val email: String, val tenant: String, val roles: Set<String>)

/** Identity calls the sign-in screen needs. Failures are [GatewayException]s. */
interface AuthGateway {
    /** Signs in (tokens kept by the implementation's session) and returns the account. */
    suspend fun signIn(credentials: Credentials): Account

    /**
     * Asks for an account. The server answers the same whatever happened (created, unknown tenant,
     * self-signup off, address taken...), so this only fails on input invalid for any tenant (a password
     * the policy refuses, a malformed address: [GatewayException.Invalid]) or on the usual transport errors.
     */
    suspend fun register(registration: Registration)

    /**
     * Ends this sign-in: the server revokes it (its refresh token and every one rotated from it) and the
     * session kept on the device is forgotten. It is forgotten even when the server cannot be told; the
     * failure is raised afterwards (the sign-in then stays valid on the server until it expires).
     */
    suspend fun signOut()
}
