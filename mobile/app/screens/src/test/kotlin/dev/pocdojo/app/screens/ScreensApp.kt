package dev.pocdojo.app.screens

import dev.pocdojo.app.AppGraph
import dev.pocdojo.app.Gateways
import dev.pocdojo.app.PocDojoApp
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.testing.FakeAuthGateway
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakeDojoGateway
import dev.pocdojo.app.core.testing.FakePocGateway

/** The app with the view-models' in-memory gateways (core's test fakes) instead of the backend. */
class ScreensApp : PocDojoApp() {
    val auth = FakeAuthGateway()
    val pocs = FakePocGateway(Catalogue.pocs)
    val dojos = FakeDojoGateway()
    val connectivity = FakeConnectivity(online = true)

    // Signed out: every rendering starts at the sign-in screen, as a fresh install does.
    override fun createGraph(): AppGraph =
        AppGraph(Gateways(auth, pocs, dojos, Catalogue.rooms) { false }, connectivity, mainDispatcher())

    /** The device loses its network: the banner shows and the next search fails as it would. */
    fun goOffline() {
        connectivity.online.value = false
        pocs.failNextSearch(GatewayException.Unreachable("offline"))
    }
}
