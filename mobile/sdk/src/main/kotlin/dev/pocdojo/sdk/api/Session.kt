package dev.pocdojo.sdk.api

import java.time.Instant

/**
 * A signed-in session: the short-lived access token, when it expires, and the refresh token that
 * replaces both. Refresh tokens rotate: each refresh returns a new one and the old one stops working
 * (presenting it again revokes the whole sign-in on the server).
 */
public data class Session(
    val accessToken: String,
    val refreshToken: String,
    val accessTokenExpiresAt: Instant,
) {
    override fun toString(): String = "Session(accessTokenExpiresAt=$accessTokenExpiresAt)"
}

/**
 * Where the client keeps its session between runs (on Android: encrypted preferences, say).
 *
 * The client calls [save] after every sign-in and refresh (the refresh token has rotated: the old one
 * is useless from then on) and with `null` when the session ends. Calls come from one coroutine at a
 * time; implementations should be quick and must not throw for ordinary use.
 */
public interface SessionStore {
    public fun load(): Session?

    public fun save(session: Session?)
}

/** A [SessionStore] that forgets everything when the process ends. */
public class InMemorySessionStore(initial: Session? = null) : SessionStore {
    @Volatile
    private var session: Session? = initial

    override fun load(): Session? = session

    override fun save(session: Session?) {
        this.session = session
    }
}

/** Why the client is signed out. */
public enum class SignOutReason {
    /** No session was ever stored. */
    NOT_SIGNED_IN,

    /** [AuthApi.signOut] was called. */
    SIGNED_OUT,

    /**
     * The server refused the refresh token: revoked (signed out elsewhere, an administrator, a reused
     * token that revoked the family), expired, or the account is gone. Signing in again is the way out.
     */
    SESSION_REVOKED,
}

/** Whether the client holds a session; observe [PocDojoClient.authState]. */
public sealed interface AuthState {
    public data object SignedIn : AuthState

    /** [detail] is the server's explanation when it refused the session. */
    public data class SignedOut(val reason: SignOutReason, val detail: String? = null) : AuthState
}
