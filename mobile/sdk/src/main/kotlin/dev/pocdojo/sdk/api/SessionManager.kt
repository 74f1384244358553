package dev.pocdojo.sdk.api

import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.sync.Mutex
import kotlinx.coroutines.sync.withLock
import okhttp3.FormBody
import okhttp3.Request
import java.time.Instant
import kotlin.time.Duration
import kotlin.time.toJavaDuration

/**
 * Holds the session and sends authenticated requests.
 *
 * The access token is refreshed once before it expires (within [refreshBefore] of its expiry) or when
 * the server answers 401. Refreshes are single-flight: a caller that finds its token already replaced
 * by a refresh that finished while it waited for the lock uses the new one, so any number of concurrent
 * calls cause one refresh. The refresh grant is never retried automatically (a refresh token must not
 * be presented twice: the server would revoke the whole sign-in). When the server refuses the refresh
 * token, the session ends and [state] becomes [AuthState.SignedOut] with [SignOutReason.SESSION_REVOKED].
 */
internal class SessionManager(
    private val transport: Transport,
    private val store: SessionStore,
    private val clock: () -> Instant,
    private val refreshBefore: Duration,
) {
    private val lock = Mutex()

    @Volatile
    private var session: Session? = store.load()

    private val _state = MutableStateFlow(
        if (session != null) AuthState.SignedIn else AuthState.SignedOut(SignOutReason.NOT_SIGNED_IN),
    )
    val state: StateFlow<AuthState> = _state.asStateFlow()

    /** Sends [request] with the session's access token; refreshes it once on a 401 and tries again. */
    suspend fun send(request: Request, options: CallOptions = CallOptions.DEFAULT): RawResponse {
        val token = accessToken()
        try {
            return transport.send(request.withBearer(token), options)
        } catch (e: UnauthorizedException) {
            val fresh = refresh(staleAccessToken = token)
            return transport.send(request.withBearer(fresh.accessToken), options)
        }
    }

    /** Signs in with a password grant and keeps the new session. */
    suspend fun signIn(form: FormBody) {
        val tokens = requestTokens(form)
        lock.withLock { replace(tokens.toSession(), AuthState.SignedIn) }
    }

    /**
     * Revokes the refresh token on the server (which ends every token of this sign-in) and forgets the
     * session. The session is forgotten even when the server could not be told; that error is rethrown.
     */
    suspend fun signOut() {
        val ending = lock.withLock {
            val ending = session
            replace(null, AuthState.SignedOut(SignOutReason.SIGNED_OUT))
            ending
        } ?: return
        val body = transport.json.encodeToString(RevokeRequest.serializer(), RevokeRequest(ending.refreshToken))
        transport.send(Request.Builder().url(transport.url("v1", "auth", "revoke").build()).post(body.toJsonBody()).build())
    }

    private suspend fun accessToken(): String {
        val current = session ?: throw signedOut()
        val refreshAt = current.accessTokenExpiresAt.minus(refreshBefore.toJavaDuration())
        return if (clock().isBefore(refreshAt)) current.accessToken else refresh(current.accessToken).accessToken
    }

    private suspend fun refresh(staleAccessToken: String): Session =
        lock.withLock {
            val current = session ?: throw signedOut()
            if (current.accessToken != staleAccessToken) return current
            val form = FormBody.Builder()
                .add("grant_type", "refresh_token")
                .add("refresh_token", current.refreshToken)
                .build()
            val tokens = try {
                requestTokens(form)
            } catch (e: InvalidGrantException) {
                replace(null, AuthState.SignedOut(SignOutReason.SESSION_REVOKED, e.problem.detail))
                throw signedOut()
            } catch (e: UnauthorizedException) {
                replace(null, AuthState.SignedOut(SignOutReason.SESSION_REVOKED, e.problem.detail))
                throw signedOut()
            }
            val next = tokens.toSession()
            replace(next, AuthState.SignedIn)
            next
        }

    private suspend fun requestTokens(form: FormBody): TokenResponse {
        val request = Request.Builder().url(transport.url("v1", "auth", "token").build()).post(form).build()
        return transport.decode(transport.send(request), TokenResponse.serializer())
    }

    private fun replace(next: Session?, state: AuthState) {
        store.save(next)
        session = next
        _state.value = state
    }

    private fun TokenResponse.toSession(): Session =
        Session(accessToken, refreshToken, clock().plusSeconds(expiresIn))

    private fun signedOut(): SignedOutException {
        val state = _state.value
        val reason = (state as? AuthState.SignedOut)?.reason ?: SignOutReason.NOT_SIGNED_IN
        val detail = (state as? AuthState.SignedOut)?.detail
        return SignedOutException(reason, "signed out (${reason.name.lowercase()})" + (detail?.let { ": $it" } ?: ""))
    }

    private fun Request.withBearer(token: String): Request = newBuilder().header("Authorization", "Bearer $token").build()
}
