package dev.pocdojo.app

import android.content.Context
import dev.pocdojo.app.core.gateway.AuthGateway
import dev.pocdojo.app.core.gateway.DojoGateway
import dev.pocdojo.app.core.gateway.PocGateway
import dev.pocdojo.app.core.gateway.ReplayGateway
import dev.pocdojo.app.core.gateway.ReportGateway
import dev.pocdojo.app.core.gateway.VideoGateway
import dev.pocdojo.app.core.room.Rooms
import dev.pocdojo.app.core.sdk.SdkBackend
import dev.pocdojo.app.core.sdk.StoredSession

/** The backend as the screens see it; [signedIn]: a session is kept on the device. */
class Gateways(
    val auth: AuthGateway,
    val pocs: PocGateway,
    val dojos: DojoGateway,
    /** The dojo room's realtime and REST side; null where there is none (screenshots of other screens). */
    val rooms: Rooms? = null,
    /** The Reports screen's calls; null where there are none. */
    val reports: ReportGateway? = null,
    /** The "My year" screen's calls; null where there are none. */
    val videos: VideoGateway? = null,
    /** The dojo replay screen's calls; null where there are none. */
    val replays: ReplayGateway? = null,
    private val hasSession: () -> Boolean,
) {
    val signedIn: Boolean get() = hasSession()
}

/**
 * The one place that binds the view-models' gateways to the SDK's API client (`dev.pocdojo.sdk.api`),
 * with the session kept in the app's private preferences so that the app stays signed in.
 */
internal fun bindGateways(context: Context): Gateways {
    val backend = SdkBackend(StoredSession(PreferencesStore(context.getSharedPreferences(SESSION_FILE, Context.MODE_PRIVATE))))
    return Gateways(backend, backend, backend, backend, backend.reports, backend.videos, backend.replays) { backend.signedIn }
}

private const val SESSION_FILE = "session"
