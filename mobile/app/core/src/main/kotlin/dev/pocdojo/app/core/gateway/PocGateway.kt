package dev.pocdojo.app.core.gateway

/** A POC as the backend returns it (`GET /v1/pocs`, normalized values). */
data class Poc(
    val id: String,
    val name: String,
    val description: String,
    val githubUrl: String,
    val language: String,
    val tags: List<String>,
    val ownerId: String,
    val createdAt: String,
    val updatedAt: String,
)

/** The search filters the list screen sets: `q`, `language`, `tag` (every tag must match). */
data class PocQuery(val text: String = "", val language: String? = null, val tags: Set<String> = emptySet())

/** One page of results; [nextCursor] is null on the last page. */
data class PocPage(val items: List<Poc>, val nextCursor: String?)

/** How many POCs of the current query carry a language or a tag (`GET /v1/pocs/facets`). */
data class FacetCount(val value: String, val count: Int)

data class Facets(val languages: List<FacetCount>, val tags: List<FacetCount>) {
    companion object {
        val NONE = Facets(emptyList(), emptyList())
    }
}

/** A new POC (`POST /v1/pocs`); the server normalizes the URL, the language and the tags. */
data class PocDraft(
    val name: String,
    val githubUrl: String,
    val language: String,
    val tags: List<String>,
    val description: String,
)

/** What a `PATCH /v1/pocs/{id}` changes: null fields stay as they are (an empty description clears it). */
data class PocChanges(
    val name: String? = null,
    val githubUrl: String? = null,
    val language: String? = null,
    val tags: List<String>? = null,
    val description: String? = null,
) {
    val isEmpty: Boolean get() = this == PocChanges()
}

/** POC calls the screens need. Failures are [GatewayException]s. */
interface PocGateway {
    /** One page of `GET /v1/pocs` for [query], from [cursor] (null: the first page). */
    suspend fun search(query: PocQuery, cursor: String?, limit: Int): PocPage

    /** Counts per language and tag for [query] (its own language and tags included). */
    suspend fun facets(query: PocQuery): Facets

    /** `GET /v1/pocs/{id}`. */
    suspend fun get(id: String): Poc

    /** `POST /v1/pocs`: the stored POC. */
    suspend fun create(draft: PocDraft): Poc

    /** `PATCH /v1/pocs/{id}` (owner or admin): the stored POC. */
    suspend fun update(id: String, changes: PocChanges): Poc

    /** `DELETE /v1/pocs/{id}` (owner or admin). */
    suspend fun delete(id: String)
}
