package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.http.RetryPolicy
import kotlinx.coroutines.flow.StateFlow
import kotlinx.serialization.json.Json
import okhttp3.HttpUrl
import okhttp3.HttpUrl.Companion.toHttpUrl
import okhttp3.OkHttpClient
import java.time.Instant
import kotlin.random.Random
import kotlin.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * The POC Dojo API client. Every call is a suspend function (cancelling the coroutine cancels the HTTP
 * call) and raises an [ApiException] on failure.
 *
 * ```
 * val client = PocDojoClient("https://api.example.com", sessionStore)
 * client.auth.signIn("acme", "dev@acme.com.br", password)
 * val page = client.pocs.search(PocQuery(text = "pix", language = "go"))
 * ```
 *
 * @param baseUrl the API's root, e.g. `http://127.0.0.1:8000` (a path prefix is kept).
 * @param sessionStore where the session lives between runs; read once here.
 * @param httpClient an OkHttp client to share connection pools with (its timeouts apply).
 * @param retryPolicy retries of idempotent requests; [RetryPolicy.NONE] turns them off.
 * @param refreshBefore the access token is refreshed this long before it expires.
 */
public class PocDojoClient(
    baseUrl: String,
    sessionStore: SessionStore = InMemorySessionStore(),
    httpClient: OkHttpClient = OkHttpClient(),
    retryPolicy: RetryPolicy = RetryPolicy(),
    refreshBefore: Duration = 30.seconds,
    clock: () -> Instant = Instant::now,
    random: Random = Random.Default,
) {
    /** The API root, normalized. */
    public val baseUrl: HttpUrl = baseUrl.toHttpUrl().let { url ->
        if (url.pathSegments.lastOrNull() == "") url.newBuilder().removePathSegment(url.pathSize - 1).build() else url
    }

    private val transport = Transport(httpClient, this.baseUrl, retryPolicy, JSON, random, clock)
    private val sessions = SessionManager(transport, sessionStore, clock, refreshBefore)

    public val auth: AuthApi = AuthApi(transport, sessions)
    public val pocs: PocsApi = PocsApi(transport, sessions)
    public val dojos: DojosApi = DojosApi(transport, sessions)
    public val chat: ChatApi = ChatApi(transport, sessions)
    public val members: MembersApi = MembersApi(transport, sessions)
    public val reports: ReportsApi = ReportsApi(transport, sessions)
    public val videos: VideosApi = VideosApi(transport, sessions)
    public val tenants: TenantsApi = TenantsApi(transport)

    /** Signed in or out; becomes [AuthState.SignedOut] when the server refuses the session. */
    public val authState: StateFlow<AuthState> get() = sessions.state

    internal companion object {
        val JSON: Json = Json {
            ignoreUnknownKeys = true
            explicitNulls = false
            encodeDefaults = true
        }
    }
}
