package dev.pocdojo.app.screens

import dev.pocdojo.app.AppGraph
import dev.pocdojo.app.Gateways
import dev.pocdojo.app.ImageLoader
import dev.pocdojo.app.PocDojoApp
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.room.RoomEntry
import dev.pocdojo.app.core.room.Rooms
import dev.pocdojo.app.core.testing.FakeAuthGateway
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakeDojoGateway
import dev.pocdojo.app.core.testing.FakePocGateway
import dev.pocdojo.app.core.testing.FakeReplayGateway
import dev.pocdojo.app.core.testing.FakeReportGateway
import dev.pocdojo.app.core.testing.FakeRooms
import dev.pocdojo.app.core.testing.FakeVideoGateway
import kotlinx.coroutines.CoroutineScope
import kotlin.coroutines.CoroutineContext

/** The app with the view-models' in-memory gateways (core's test fakes) instead of the backend. */
class ScreensApp : PocDojoApp() {
    val auth = FakeAuthGateway()
    val pocs = FakePocGateway(Catalogue.pocs)
    val dojos = FakeDojoGateway(Catalogue.dojos)
    val connectivity = FakeConnectivity(online = true)
    val reports = FakeReportGateway(Catalogue.reports)

    /** No video until a rendering adds one. */
    val videos = FakeVideoGateway()

    /** The ended dojo's history; its replay videos go into [videos]. */
    val replays = FakeReplayGateway(ReplayCatalogue.timeline, videos, ReplayCatalogue::frame)

    /** The room the dojo room screen enters (set before launching it). */
    var rooms: FakeRooms = Catalogue.rooms

    // Signed out: every rendering starts at the sign-in screen, as a fresh install does.
    override fun createGraph(): AppGraph {
        val current =
            object : Rooms {
                override suspend fun enter(dojoId: String, scope: CoroutineScope, docContext: CoroutineContext): RoomEntry =
                    rooms.enter(dojoId, scope, docContext)
            }
        return AppGraph(Gateways(auth, pocs, dojos, current, reports, videos, replays) { false }, connectivity, mainDispatcher(), ImageLoader { Catalogue.thumbnail(it) })
    }

    /** The device loses its network: the banner shows and the next search fails as it would. */
    fun goOffline() {
        connectivity.online.value = false
        pocs.failNextSearch(GatewayException.Unreachable("offline"))
    }
}
