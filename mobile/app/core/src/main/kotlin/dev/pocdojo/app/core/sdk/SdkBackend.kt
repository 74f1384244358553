package dev.pocdojo.app.core.sdk

import dev.pocdojo.app.core.gateway.Account
import dev.pocdojo.app.core.gateway.AuthGateway
import dev.pocdojo.app.core.gateway.Credentials
import dev.pocdojo.app.core.gateway.Dojo
import dev.pocdojo.app.core.gateway.DojoDraft
import dev.pocdojo.app.core.gateway.DojoGateway
import dev.pocdojo.app.core.gateway.DojoPage
import dev.pocdojo.app.core.gateway.DojoParticipant
import dev.pocdojo.app.core.gateway.FacetCount
import dev.pocdojo.app.core.gateway.Facets
import dev.pocdojo.app.core.gateway.FieldError
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.JoinedDojo
import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.gateway.PocChanges
import dev.pocdojo.app.core.gateway.PocDraft
import dev.pocdojo.app.core.gateway.PocGateway
import dev.pocdojo.app.core.gateway.PocPage
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.Registration
import dev.pocdojo.app.core.gateway.ReplayGateway
import dev.pocdojo.app.core.gateway.ReportGateway
import dev.pocdojo.app.core.gateway.VideoGateway
import dev.pocdojo.app.core.room.ChatLine
import dev.pocdojo.app.core.room.HostAction
import dev.pocdojo.sdk.api.DojoSettingsChange
import dev.pocdojo.sdk.api.RandoriChange
import dev.pocdojo.app.core.room.ProviderLink
import dev.pocdojo.app.core.room.RoomGateway
import dev.pocdojo.app.core.room.RoomInfo
import dev.pocdojo.app.core.room.RoomParticipant
import dev.pocdojo.app.core.room.RoomEntry
import dev.pocdojo.app.core.room.Rooms
import dev.pocdojo.sdk.api.ChatMessage
import dev.pocdojo.sdk.api.DojoRole
import dev.pocdojo.sdk.realtime.Credentials as SocketCredentials
import dev.pocdojo.sdk.realtime.YWebsocketProvider
import dev.pocdojo.sdk.yjs.Doc
import kotlinx.coroutines.CoroutineScope
import kotlin.coroutines.CoroutineContext
import dev.pocdojo.sdk.api.AuthState
import dev.pocdojo.sdk.api.DojoStatus
import dev.pocdojo.sdk.api.InMemorySessionStore
import dev.pocdojo.sdk.api.NewDojo
import dev.pocdojo.sdk.api.NewPoc
import dev.pocdojo.sdk.api.ParticipantStatus
import dev.pocdojo.sdk.api.PocDojoClient
import dev.pocdojo.sdk.api.PocPatch
import dev.pocdojo.sdk.api.SessionStore
import okhttp3.OkHttpClient
import dev.pocdojo.sdk.api.Dojo as SdkDojo
import dev.pocdojo.sdk.api.Poc as SdkPoc
import dev.pocdojo.sdk.api.PocQuery as SdkPocQuery
import dev.pocdojo.sdk.api.Registration as SdkRegistration

/**
 * The app's gateways over the SDK's [PocDojoClient]: one client for the server of the current session,
 * made at sign-in (the server is part of the sign-in form) and, after a restart, from the [session]
 * stored on the device. Every SDK failure reaches the view-models as a [GatewayException].
 */
class SdkBackend(
    private val session: StoredSession,
    private val http: OkHttpClient = OkHttpClient(),
) : AuthGateway, PocGateway, DojoGateway, RoomGateway, Rooms {
    @Volatile
    private var client: PocDojoClient? = session.server?.let { PocDojoClient(it, session, http) }

    /** The Reports screen's calls, with the signed-in client. */
    val reports: ReportGateway = SdkReports(::signedInClient)

    /** The "My year" screen's calls, with the signed-in client. */
    val videos: VideoGateway = SdkVideos(::signedInClient)

    /** The dojo replay screen's calls. */
    val replays: ReplayGateway = SdkReplay(::signedInClient)

    /** A session is stored and has not been refused: the app opens on the list, not on sign-in. */
    val signedIn: Boolean get() = client?.authState?.value == AuthState.SignedIn

    override suspend fun signIn(credentials: Credentials): Account {
        val server = credentials.server.value
        // Only a successful sign-in replaces the stored session (and its server).
        val pending = InMemorySessionStore()
        val trial = clientFor(server, pending)
        gatewayCall { trial.auth.signIn(credentials.tenant, credentials.email, credentials.password) }
        session.startOver(server)
        session.save(pending.load())
        val bound = clientFor(server, session)
        client = bound
        val me = gatewayCall { bound.auth.me() }
        return Account(me.id, me.email, me.tenant ?: credentials.tenant, me.roles.toSet())
    }

    override suspend fun register(registration: Registration) {
        val anonymous = clientFor(registration.server.value, InMemorySessionStore())
        gatewayCall {
            anonymous.auth.register(
                SdkRegistration(registration.tenant, registration.email, registration.password, registration.invitation),
            )
        }
    }

    override suspend fun signOut() {
        val current = client ?: return
        gatewayCall { current.auth.signOut() }
    }

    override suspend fun search(query: PocQuery, cursor: String?, limit: Int): PocPage {
        val page = gatewayCall { signedInClient().pocs.search(query.toSdk(limit), cursor) }
        return PocPage(page.items.map { it.toApp() }, page.nextCursor)
    }

    override suspend fun facets(query: PocQuery): Facets {
        val facets = gatewayCall { signedInClient().pocs.facets(query.toSdk(null)) }
        return Facets(
            facets.languages.map { FacetCount(it.value, it.count) },
            facets.tags.map { FacetCount(it.value, it.count) },
        )
    }

    override suspend fun get(id: String): Poc = gatewayCall { signedInClient().pocs.get(id) }.toApp()

    override suspend fun create(draft: PocDraft): Poc =
        gatewayCall {
            signedInClient().pocs.create(
                NewPoc(draft.name, draft.githubUrl, draft.language, draft.tags, draft.description.ifEmpty { null }),
            )
        }.toApp()

    override suspend fun update(id: String, changes: PocChanges): Poc {
        val patch =
            PocPatch(
                name = changes.name,
                githubUrl = changes.githubUrl,
                language = changes.language,
                tags = changes.tags,
                description = changes.description?.ifEmpty { null },
                clearDescription = changes.description?.isEmpty() == true,
            )
        return gatewayCall { signedInClient().pocs.update(id, patch) }.toApp()
    }

    override suspend fun delete(id: String) = gatewayCall { signedInClient().pocs.delete(id) }

    override suspend fun recent(cursor: String?, limit: Int): DojoPage {
        val page = gatewayCall { signedInClient().dojos.list(status = null, limit = limit, cursor = cursor) }
        return DojoPage(page.items.map { it.toApp() }, page.nextCursor)
    }

    override suspend fun create(draft: DojoDraft): Dojo =
        gatewayCall { signedInClient().dojos.create(NewDojo(draft.title, draft.pocId)) }.toApp()

    override suspend fun join(id: String): JoinedDojo {
        val client = signedInClient()
        val ticket = gatewayCall { client.dojos.ticket(id) }
        val dojo = gatewayCall { client.dojos.get(id) }
        return JoinedDojo(dojo.toApp(), ticket.room, ticket.role.name.lowercase(), ticket.canEdit)
    }

    override suspend fun info(dojoId: String): RoomInfo {
        val dojo = gatewayCall { signedInClient().dojos.get(dojoId) }
        val driver = dojo.randori.driverId.takeIf { dojo.randori.enabled }
        return RoomInfo(
            title = dojo.title,
            hostId = dojo.hostId,
            participants =
                dojo.participants.map {
                    RoomParticipant(
                        userId = it.userId,
                        name = it.displayName ?: it.userId,
                        role = it.role.name.lowercase(),
                        host = it.host,
                        online = it.online ?: false,
                        waiting = it.status == ParticipantStatus.WAITING,
                        canEdit = it.role != DojoRole.OBSERVER && it.status == ParticipantStatus.ADMITTED && (driver == null || driver == it.userId),
                    )
                },
            locked = dojo.settings.locked,
            lobby = dojo.settings.lobby,
            ended = dojo.status == DojoStatus.ENDED,
            randoriDriverId = driver,
            nextRotationAtMillis = dojo.randori.nextRotationAt?.toEpochMilli()?.takeIf { dojo.randori.enabled },
        )
    }

    override suspend fun chatHistory(dojoId: String): List<ChatLine> =
        gatewayCall { signedInClient().chat.history(dojoId) }.items.map { it.toLine() }.sortedBy { it.sentAtMillis }

    override suspend fun chatSince(dojoId: String, afterId: String): List<ChatLine> =
        gatewayCall { signedInClient().chat.since(dojoId, afterId) }.map { it.toLine() }

    override suspend fun sendChat(dojoId: String, text: String): ChatLine = gatewayCall { signedInClient().chat.send(dojoId, text) }.toLine()

    override suspend fun host(dojoId: String, action: HostAction): RoomInfo {
        val dojos = signedInClient().dojos
        gatewayCall {
            when (action) {
                is HostAction.SetRole -> dojos.setRole(dojoId, action.userId, DojoRole.valueOf(action.role.uppercase()))
                is HostAction.Admit -> dojos.admit(dojoId, action.userId)
                is HostAction.Kick -> dojos.kick(dojoId, action.userId)
                is HostAction.Lock -> dojos.configure(dojoId, DojoSettingsChange(locked = action.locked))
                is HostAction.Lobby -> dojos.configure(dojoId, DojoSettingsChange(lobby = action.on))
                is HostAction.Randori ->
                    dojos.configure(dojoId, DojoSettingsChange(randori = action.seconds?.let { RandoriChange.Every(it) } ?: RandoriChange.Off))
            }
        }
        return info(dojoId)
    }

    /** The dojo's shared document over its collab socket (a fresh ticket for each connection), not connected yet. */
    override suspend fun enter(dojoId: String, scope: CoroutineScope, docContext: CoroutineContext): RoomEntry {
        val client = signedInClient()
        val user = gatewayCall { client.auth.me() }
        val first = gatewayCall { client.dojos.ticket(dojoId) }
        val credentials = SocketCredentials.Ticket { client.dojos.ticket(dojoId).ticket }
        val provider = YWebsocketProvider(scope, first.collabUrl, first.room, Doc(), credentials, docContext, http)
        return RoomEntry(user.id, user.displayName ?: user.email, ProviderLink(provider), this)
    }

    private fun ChatMessage.toLine() = ChatLine(id, userId, text, sentAt.toEpochMilli())

    private fun clientFor(server: String, store: SessionStore): PocDojoClient =
        try {
            PocDojoClient(server, store, http)
        } catch (invalid: IllegalArgumentException) {
            throw GatewayException.Invalid(
                listOf(FieldError("server", "invalid", invalid.message.orEmpty())),
                "Not a server address: $server",
            )
        }

    private fun signedInClient(): PocDojoClient = client ?: throw GatewayException.SignedOut("Not signed in.")

    private fun PocQuery.toSdk(limit: Int?): SdkPocQuery =
        SdkPocQuery(text = text.trim().ifEmpty { null }, language = language, tags = tags.toList(), limit = limit)

    private fun SdkPoc.toApp(): Poc =
        Poc(
            id = id,
            name = name,
            description = description.orEmpty(),
            githubUrl = githubUrl,
            language = language,
            tags = tags,
            ownerId = ownerId,
            createdAt = createdAt.toString(),
            updatedAt = updatedAt.toString(),
        )

    private fun SdkDojo.toApp(): Dojo =
        Dojo(
            id = id,
            title = title,
            pocId = pocId,
            hostId = hostId,
            active = status == DojoStatus.ACTIVE,
            startedAt = startedAt.toString(),
            participants =
                participants.map {
                    DojoParticipant(
                        userId = it.userId,
                        name = it.displayName ?: it.userId,
                        role = it.role.name.lowercase(),
                        host = it.host,
                        waiting = it.status == ParticipantStatus.WAITING,
                    )
                },
            lobby = settings.lobby,
        )
}
