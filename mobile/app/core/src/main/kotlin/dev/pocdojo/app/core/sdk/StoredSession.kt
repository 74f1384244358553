package dev.pocdojo.app.core.sdk

import dev.pocdojo.sdk.api.Session
import dev.pocdojo.sdk.api.SessionStore
import java.time.Instant

/**
 * The SDK's [SessionStore] over the device's [KeyValueStore], with the server the session belongs to: the
 * app stays signed in across restarts. The client saves here after every sign-in and refresh (the refresh
 * token rotates) and clears it when the session ends.
 */
class StoredSession(private val store: KeyValueStore) : SessionStore {
    /** The server of the stored session, e.g. `http://10.0.2.2:8000`. */
    val server: String? get() = store.get(SERVER)

    override fun load(): Session? {
        val access = store.get(ACCESS) ?: return null
        val refresh = store.get(REFRESH) ?: return null
        val expiresAt = store.get(EXPIRES_AT)?.toLongOrNull()?.let(Instant::ofEpochMilli) ?: return null
        return Session(access, refresh, expiresAt)
    }

    override fun save(session: Session?) {
        store.put(
            mapOf(
                ACCESS to session?.accessToken,
                REFRESH to session?.refreshToken,
                EXPIRES_AT to session?.accessTokenExpiresAt?.toEpochMilli()?.toString(),
            ),
        )
    }

    /** Forgets the session and remembers [server] as the one the next session belongs to. */
    fun startOver(server: String) {
        store.put(mapOf(SERVER to server, ACCESS to null, REFRESH to null, EXPIRES_AT to null))
    }

    private companion object {
        const val SERVER = "session.server"
        const val ACCESS = "session.access_token"
        const val REFRESH = "session.refresh_token"
        const val EXPIRES_AT = "session.access_expires_at_ms"
    }
}
