package dev.pocdojo.sdk.api

import kotlinx.serialization.DeserializationStrategy
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import kotlinx.serialization.json.putJsonObject
import okhttp3.HttpUrl
import okhttp3.Request

/** Realtime dojos: sessions, tickets for their websockets, and the host's moderation. */
public class DojosApi internal constructor(
    private val transport: Transport,
    private val sessions: SessionManager,
) {
    private val dojoPage = Page.serializer(Dojo.serializer())
    private val participantPage = Page.serializer(Participant.serializer())

    /** Starts a dojo hosted by the caller (who drives first). */
    public suspend fun create(dojo: NewDojo): Dojo {
        val body = buildJsonObject {
            put("title", dojo.title)
            dojo.pocId?.let { put("poc_id", it) }
            dojo.language?.let { put("language", it) }
            putJsonObject("settings") {
                put("locked", dojo.locked)
                put("lobby", dojo.lobby)
                put("randori_seconds", dojo.randoriSeconds)
            }
        }
        return dojoCall(post(body, "v1", "dojos"))
    }

    /** The tenant's dojos, newest first; [status] narrows to active or ended ones. */
    public suspend fun list(status: DojoStatus? = null, limit: Int? = null, cursor: String? = null): Page<Dojo> {
        val url = transport.url("v1", "dojos")
        status?.let { url.addQueryParameter("status", if (it == DojoStatus.ACTIVE) "active" else "ended") }
        limit?.let { url.addQueryParameter("limit", it.toString()) }
        cursor?.let { url.addQueryParameter("cursor", it) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), dojoPage)
    }

    /** One dojo with its participants, and its snapshot once ended. */
    public suspend fun get(id: String): Dojo = dojoCall(Request.Builder().url(transport.url("v1", "dojos", id).build()).get().build())

    /**
     * Joins the dojo (or waits in its lobby: [ForbiddenException] with `problem.slug == "dojo-lobby"`)
     * and returns a short-lived ticket for its websockets. Ask for a fresh one on every (re)connection.
     */
    public suspend fun ticket(id: String): DojoTicket =
        transport.decode(sessions.send(post(JsonObject(emptyMap()), "v1", "dojos", id, "tickets")), DojoTicket.serializer())

    /** Host or tenant admin: ends it for everyone; the answer carries the snapshot. */
    public suspend fun end(id: String): Dojo = dojoCall(post(JsonObject(emptyMap()), "v1", "dojos", id, "end"))

    /** Host: lock, lobby, randori. */
    public suspend fun configure(id: String, change: DojoSettingsChange): Dojo {
        val body = buildJsonObject {
            change.locked?.let { put("locked", it) }
            change.lobby?.let { put("lobby", it) }
            when (val randori = change.randori) {
                RandoriChange.Off -> put("randori_seconds", JsonNull)
                is RandoriChange.Every -> put("randori_seconds", randori.seconds)
                null -> Unit
            }
        }
        val url = transport.url("v1", "dojos", id, "settings").build()
        return dojoCall(Request.Builder().url(url).patch(body.toString().toJsonBody()).build())
    }

    public suspend fun participants(id: String): List<Participant> {
        val request = Request.Builder().url(transport.url("v1", "dojos", id, "participants").build()).get().build()
        return transport.decode(sessions.send(request), participantPage).items
    }

    /** Host: change a participant's editing role (applies to their open connections at once). */
    public suspend fun setRole(id: String, userId: String, role: DojoRole): Dojo {
        val body = buildJsonObject { put("role", role.name.lowercase()) }
        val url = transport.url("v1", "dojos", id, "participants", userId, "role").build()
        return dojoCall(Request.Builder().url(url).put(body.toString().toJsonBody()).build())
    }

    /** Host: admit someone waiting in the lobby. */
    public suspend fun admit(id: String, userId: String): Dojo =
        dojoCall(post(JsonObject(emptyMap()), "v1", "dojos", id, "participants", userId, "admit"))

    /** Host: remove a participant for good (their sockets close, their tickets stop working). */
    public suspend fun kick(id: String, userId: String): Dojo =
        dojoCall(post(JsonObject(emptyMap()), "v1", "dojos", id, "participants", userId, "kick"))

    /** Host (or a tenant admin when the host is gone): hand the host role to an admitted participant. */
    public suspend fun handOver(id: String, userId: String): Dojo =
        dojoCall(post(buildJsonObject { put("user_id", userId) }, "v1", "dojos", id, "host"))

    /**
     * The dojo's timeline (`GET /v1/dojos/{id}/history`): files, authors with their colours, checkpoints,
     * edit bursts, randori rotations, chat and idle stretches. Participants and tenant admins only (anyone
     * else: [NotFoundException]); a tenant with history off: [ConflictException] with slug `history-off`.
     */
    public suspend fun history(id: String): DojoHistory = read(transport.url("v1", "dojos", id, "history"), DojoHistory.serializer())

    /** Every file's text at [at] (null: the end, or now while it runs); before the start is a [ValidationException] on `at`. */
    public suspend fun state(id: String, at: HistoryInstant? = null): DojoState {
        val url = transport.url("v1", "dojos", id, "state")
        at?.let { url.addQueryParameter("at", it.wire) }
        return read(url, DojoState.serializer())
    }

    /** The files changed between [from] and [to], each as a unified diff (unchanged files left out). */
    public suspend fun diff(id: String, from: HistoryInstant, to: HistoryInstant): DojoDiff {
        val url = transport.url("v1", "dojos", id, "diff")
            .addQueryParameter("from", from.wire)
            .addQueryParameter("to", to.wire)
        return read(url, DojoDiff.serializer())
    }

    /** Who wrote each range of every file's text at [at] (null: the end, or now). */
    public suspend fun blame(id: String, at: HistoryInstant? = null): DojoBlame {
        val url = transport.url("v1", "dojos", id, "blame")
        at?.let { url.addQueryParameter("at", it.wire) }
        return read(url, DojoBlame.serializer())
    }

    private suspend fun <T> read(url: HttpUrl.Builder, deserializer: DeserializationStrategy<T>): T =
        transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), deserializer)

    private fun post(body: JsonObject, vararg segments: String): Request =
        Request.Builder().url(transport.url(*segments).build()).post(body.toString().toJsonBody()).build()

    private suspend fun dojoCall(request: Request): Dojo = transport.decode(sessions.send(request), Dojo.serializer())
}
