package dev.pocdojo.sdk.api

import okhttp3.Request

/**
 * People of the caller's tenant: the member directory (`GET /v1/members`, any member) and the
 * administrators' account management (`/v1/users`).
 */
public class MembersApi internal constructor(
    private val transport: Transport,
    private val sessions: SessionManager,
) {
    private val memberPage = Page.serializer(Member.serializer())
    private val userPage = Page.serializer(User.serializer())

    /**
     * The member directory in id order, optionally narrowed by [query] (part of a display name, any case;
     * for admins also of an e-mail) and to the accounts [ids] (at most 100: resolving the participants,
     * chat authors or POC owners another call returned).
     */
    public suspend fun list(
        query: String? = null,
        limit: Int? = null,
        cursor: String? = null,
        ids: List<String> = emptyList(),
    ): Page<Member> {
        val url = transport.url("v1", "members")
        query?.let { url.addQueryParameter("q", it) }
        ids.forEach { url.addQueryParameter("id", it) }
        limit?.let { url.addQueryParameter("limit", it.toString()) }
        cursor?.let { url.addQueryParameter("cursor", it) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), memberPage)
    }

    public suspend fun get(id: String): Member {
        val request = Request.Builder().url(transport.url("v1", "members", id).build()).get().build()
        return transport.decode(sessions.send(request), Member.serializer())
    }

    /** Administrators: create an account in the tenant. */
    public suspend fun createUser(user: NewUser): User {
        val body = transport.json.encodeToString(NewUser.serializer(), user).toJsonBody()
        val request = Request.Builder().url(transport.url("v1", "users").build()).post(body).build()
        return transport.decode(sessions.send(request), User.serializer())
    }

    /** Administrators: the tenant's accounts. */
    public suspend fun users(limit: Int? = null, cursor: String? = null): Page<User> {
        val url = transport.url("v1", "users")
        limit?.let { url.addQueryParameter("limit", it.toString()) }
        cursor?.let { url.addQueryParameter("cursor", it) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), userPage)
    }

    /** Administrators: delete an account (its sessions stop working). */
    public suspend fun deleteUser(id: String) {
        sessions.send(Request.Builder().url(transport.url("v1", "users", id).build()).delete().build())
    }
}
