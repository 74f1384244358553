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

/** POC calls the list screen needs. Failures are [GatewayException]s. */
interface PocGateway {
    /** One page of `GET /v1/pocs` for [query], from [cursor] (null: the first page). */
    suspend fun search(query: PocQuery, cursor: String?, limit: Int): PocPage

    /** Counts per language and tag for [query] (its own language and tags included). */
    suspend fun facets(query: PocQuery): Facets
}
