package dev.pocdojo.sdk.api

import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.serialization.json.JsonNull
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import kotlinx.serialization.json.putJsonArray
import okhttp3.HttpUrl
import okhttp3.Request

/** The POC catalogue: CRUD and search with cursors. */
public class PocsApi internal constructor(
    private val transport: Transport,
    private val sessions: SessionManager,
) {
    private val pocPage = Page.serializer(Poc.serializer())

    /** Registers a POC owned by the caller. 422 lists every invalid field; 409 names the existing POC. */
    public suspend fun create(poc: NewPoc): Poc {
        val body = transport.json.encodeToString(NewPoc.serializer(), poc).toJsonBody()
        return call(Request.Builder().url(transport.url("v1", "pocs").build()).post(body))
    }

    public suspend fun get(id: String): Poc = call(Request.Builder().url(transport.url("v1", "pocs", id).build()).get())

    /** Changes the given fields (owner or tenant admin; others get [ForbiddenException]). */
    public suspend fun update(id: String, patch: PocPatch): Poc {
        val body = buildJsonObject {
            patch.name?.let { put("name", it) }
            patch.githubUrl?.let { put("github_url", it) }
            patch.language?.let { put("language", it) }
            patch.tags?.let { tags -> putJsonArray("tags") { tags.forEach { add(JsonPrimitive(it)) } } }
            when {
                patch.clearDescription -> put("description", JsonNull)
                patch.description != null -> put("description", patch.description)
            }
        }
        return call(Request.Builder().url(transport.url("v1", "pocs", id).build()).patch(body.toString().toJsonBody()))
    }

    public suspend fun delete(id: String) {
        sessions.send(Request.Builder().url(transport.url("v1", "pocs", id).build()).delete().build())
    }

    /** One page of the search; pass the previous page's `nextCursor` as [cursor] (with the same query). */
    public suspend fun search(query: PocQuery = PocQuery(), cursor: String? = null): Page<Poc> {
        val url = transport.url("v1", "pocs").addQuery(query)
        cursor?.let { url.addQueryParameter("cursor", it) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), pocPage)
    }

    /** Every page of the search, fetched as the collector asks for more (cold: each collection restarts). */
    public fun pages(query: PocQuery = PocQuery()): Flow<Page<Poc>> =
        flow {
            var cursor: String? = null
            do {
                val page = search(query, cursor)
                emit(page)
                cursor = page.nextCursor
            } while (cursor != null)
        }

    /** Every POC of the search, in order: the endless scroll as a flow (take as many as shown). */
    public fun all(query: PocQuery = PocQuery()): Flow<Poc> =
        flow { pages(query).collect { page -> page.items.forEach { emit(it) } } }

    /**
     * Counts per language and tag of the POCs [query]'s filters find (for filter chips): the [top] most
     * frequent of each (the server's default when null), most frequent first. The query's sort and limit
     * do not apply and are not sent.
     */
    public suspend fun facets(query: PocQuery = PocQuery(), top: Int? = null): PocFacets {
        val url = transport.url("v1", "pocs", "facets").addQuery(query.copy(sort = null, limit = null))
        top?.let { url.addQueryParameter("top", it.toString()) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), PocFacets.serializer())
    }

    private suspend fun call(builder: Request.Builder): Poc = transport.decode(sessions.send(builder.build()), Poc.serializer())

    private fun HttpUrl.Builder.addQuery(query: PocQuery): HttpUrl.Builder =
        apply {
            query.text?.let { addQueryParameter("q", it) }
            query.language?.let { addQueryParameter("language", it) }
            query.tags.forEach { addQueryParameter("tag", it) }
            query.owner?.let { addQueryParameter("owner", it) }
            query.createdFrom?.let { addQueryParameter("created_from", it.toString()) }
            query.createdTo?.let { addQueryParameter("created_to", it.toString()) }
            query.sort?.let { addQueryParameter("sort", it.wire) }
            query.limit?.let { addQueryParameter("limit", it.toString()) }
        }
}
