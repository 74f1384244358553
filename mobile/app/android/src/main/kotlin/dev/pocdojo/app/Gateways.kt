package dev.pocdojo.app

import dev.pocdojo.app.core.gateway.Account
import dev.pocdojo.app.core.gateway.AuthGateway
import dev.pocdojo.app.core.gateway.Credentials
import dev.pocdojo.app.core.gateway.Facets
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.gateway.PocChanges
import dev.pocdojo.app.core.gateway.PocDraft
import dev.pocdojo.app.core.gateway.PocGateway
import dev.pocdojo.app.core.gateway.PocPage
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.Registration

/** The backend as the screens see it. */
class Gateways(val auth: AuthGateway, val pocs: PocGateway)

/**
 * The one place that binds the view-models' gateways to the SDK's API client (`dev.pocdojo.sdk.api`,
 * being written beside this app). Until that binding lands, every call fails with an explicit
 * [GatewayException.Unreachable] that the screens show as "server cannot be reached": the APK runs,
 * and nothing pretends to talk to a server.
 */
internal fun bindGateways(): Gateways = Gateways(Unbound, Unbound)

private object Unbound : AuthGateway, PocGateway {
    private fun unbound(): Nothing =
        throw GatewayException.Unreachable("This build's gateways are not bound to the SDK's API client yet.")

    override suspend fun signIn(credentials: Credentials): Account = unbound()

    override suspend fun register(registration: Registration) = unbound()

    override suspend fun search(query: PocQuery, cursor: String?, limit: Int): PocPage = unbound()

    override suspend fun facets(query: PocQuery): Facets = unbound()

    override suspend fun get(id: String): Poc = unbound()

    override suspend fun create(draft: PocDraft): Poc = unbound()

    override suspend fun update(id: String, changes: PocChanges): Poc = unbound()

    override suspend fun delete(id: String) = unbound()
}
