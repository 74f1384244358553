package dev.pocdojo.sdk.api

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import java.time.Instant

/** A proof of concept of the caller's tenant. */
@Serializable
public data class Poc(
    val id: String,
    val name: String,
    val description: String? = null,
    @SerialName("github_url") val githubUrl: String,
    val language: String,
    val tags: List<String> = emptyList(),
    @SerialName("owner_id") val ownerId: String,
    @SerialName("created_at") @Serializable(InstantSerializer::class) val createdAt: Instant,
    @SerialName("updated_at") @Serializable(InstantSerializer::class) val updatedAt: Instant,
)

/** `POST /v1/pocs`; the server normalizes the URL, language and tags (see the README's rules). */
@Serializable
public data class NewPoc(
    val name: String,
    @SerialName("github_url") val githubUrl: String,
    val language: String,
    val tags: List<String> = emptyList(),
    val description: String? = null,
)

/**
 * `PATCH /v1/pocs/{id}`: the non-null fields change, the others stay. [tags] replaces the whole list.
 * [description] changes the description; [clearDescription] removes it.
 */
public data class PocPatch(
    val name: String? = null,
    val githubUrl: String? = null,
    val language: String? = null,
    val tags: List<String>? = null,
    val description: String? = null,
    val clearDescription: Boolean = false,
) {
    init {
        require(!(clearDescription && description != null)) { "give a description or clear it, not both" }
    }
}

/** The orders `GET /v1/pocs` knows; [RELEVANCE] needs a text query. */
public enum class PocSort(internal val wire: String) {
    RELEVANCE("relevance"),
    NEWEST("-created_at"),
    OLDEST("created_at"),
    NAME("name"),
    NAME_DESCENDING("-name"),
}

/**
 * A catalogue search. Every criterion narrows the result; [tags] must all match; [owner] is `me` or a
 * user id; [createdFrom] is inclusive and [createdTo] exclusive. [sort] defaults to relevance with a
 * [text], newest first otherwise. [limit] is 1..100 (server default 20).
 */
public data class PocQuery(
    val text: String? = null,
    val language: String? = null,
    val tags: List<String> = emptyList(),
    val owner: String? = null,
    val createdFrom: Instant? = null,
    val createdTo: Instant? = null,
    val sort: PocSort? = null,
    val limit: Int? = null,
) {
    public companion object {
        /** The caller's own POCs. */
        public const val OWNER_ME: String = "me"
    }
}

/** How many POCs of the current search have each language and tag (`GET /v1/pocs/facets`). */
@Serializable
public data class PocFacets(
    val languages: List<FacetCount> = emptyList(),
    val tags: List<FacetCount> = emptyList(),
)

@Serializable
public data class FacetCount(val value: String, val count: Int)
