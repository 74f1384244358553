package dev.pocdojo.app.core.testing

import dev.pocdojo.app.core.gateway.Account
import dev.pocdojo.app.core.gateway.AuthGateway
import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.Credentials
import dev.pocdojo.app.core.gateway.FacetCount
import dev.pocdojo.app.core.gateway.Facets
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.gateway.PocChanges
import dev.pocdojo.app.core.gateway.PocDraft
import dev.pocdojo.app.core.gateway.PocGateway
import dev.pocdojo.app.core.gateway.PocPage
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.gateway.Registration
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.flow.MutableStateFlow

class FakeConnectivity(online: Boolean = true) : Connectivity {
    override val online = MutableStateFlow(online)
}

/**
 * Calls are answered in order from what the test queued with [failNext]; otherwise from [accounts].
 * [hold] makes the next calls wait until the test completes it.
 */
class FakeAuthGateway(private val accounts: Map<String, Pair<String, Account>> = emptyMap()) : AuthGateway {
    val signIns = mutableListOf<Credentials>()
    val registrations = mutableListOf<Registration>()
    private val failures = ArrayDeque<GatewayException>()
    var hold: CompletableDeferred<Unit>? = null

    fun failNext(failure: GatewayException) = failures.addLast(failure)

    override suspend fun signIn(credentials: Credentials): Account {
        signIns += credentials
        hold?.await()
        failures.removeFirstOrNull()?.let { throw it }
        val (password, account) =
            accounts[credentials.email] ?: throw GatewayException.Rejected("Unknown tenant, e-mail or password.")
        if (password != credentials.password || account.tenant != credentials.tenant) {
            throw GatewayException.Rejected("Unknown tenant, e-mail or password.")
        }
        return account
    }

    override suspend fun register(registration: Registration) {
        registrations += registration
        hold?.await()
        failures.removeFirstOrNull()?.let { throw it }
    }

    /** How many times [signOut] was called; it fails with the next queued failure, if any. */
    var signOuts = 0

    override suspend fun signOut() {
        signOuts++
        hold?.await()
        failures.removeFirstOrNull()?.let { throw it }
    }
}

/**
 * An in-memory catalogue searched as the backend does for what the list screen uses: every word of
 * the text in the name, description or tags; the language; every tag. Cursors are offsets.
 */
class FakePocGateway(catalogue: List<Poc>) : PocGateway {
    val catalogue = catalogue.toMutableList()
    val created = mutableListOf<PocDraft>()
    val updates = mutableListOf<Pair<String, PocChanges>>()
    val deletions = mutableListOf<String>()

    /** Thrown by the next get/create/update/delete. */
    val writeFailures = ArrayDeque<GatewayException>()
    val searches = mutableListOf<Pair<PocQuery, String?>>()
    val facetQueries = mutableListOf<PocQuery>()
    private val searchFailures = ArrayDeque<GatewayException>()
    var facetsFailure: GatewayException? = null

    /** While set, searches for these texts wait until the test completes the deferred. */
    val holds = mutableMapOf<String, CompletableDeferred<Unit>>()

    fun failNextSearch(failure: GatewayException) = searchFailures.addLast(failure)

    override suspend fun search(query: PocQuery, cursor: String?, limit: Int): PocPage {
        searches += query to cursor
        holds[query.text]?.await()
        searchFailures.removeFirstOrNull()?.let { throw it }
        val matching = matching(query)
        val start = cursor?.toInt() ?: 0
        val end = minOf(start + limit, matching.size)
        return PocPage(matching.subList(start, end), if (end < matching.size) end.toString() else null)
    }

    override suspend fun facets(query: PocQuery): Facets {
        facetQueries += query
        facetsFailure?.let { throw it }
        val matching = matching(query)
        fun counts(values: List<String>) =
            values.groupingBy { it }.eachCount().map { FacetCount(it.key, it.value) }.sortedByDescending { it.count }
        return Facets(counts(matching.map { it.language }), counts(matching.flatMap { it.tags }))
    }

    override suspend fun get(id: String): Poc {
        writeFailures.removeFirstOrNull()?.let { throw it }
        return catalogue.find { it.id == id } ?: throw GatewayException.NotFound("No POC with this id.")
    }

    override suspend fun create(draft: PocDraft): Poc {
        created += draft
        writeFailures.removeFirstOrNull()?.let { throw it }
        val stored =
            poc(catalogue.size + 1000, draft.language, draft.tags.map { it.lowercase() }, draft.name)
                .copy(githubUrl = draft.githubUrl, description = draft.description)
        catalogue += stored
        return stored
    }

    override suspend fun update(id: String, changes: PocChanges): Poc {
        updates += id to changes
        writeFailures.removeFirstOrNull()?.let { throw it }
        val index = catalogue.indexOfFirst { it.id == id }
        if (index < 0) throw GatewayException.NotFound("No POC with this id.")
        val old = catalogue[index]
        val new =
            old.copy(
                name = changes.name ?: old.name,
                githubUrl = changes.githubUrl ?: old.githubUrl,
                language = changes.language ?: old.language,
                tags = changes.tags ?: old.tags,
                description = changes.description ?: old.description,
            )
        catalogue[index] = new
        return new
    }

    override suspend fun delete(id: String) {
        deletions += id
        writeFailures.removeFirstOrNull()?.let { throw it }
        if (!catalogue.removeIf { it.id == id }) throw GatewayException.NotFound("No POC with this id.")
    }

    private fun matching(query: PocQuery): List<Poc> {
        val words = query.text.lowercase().split(' ').filter { it.isNotEmpty() }
        return catalogue.filter { poc ->
            val haystack = (listOf(poc.name, poc.description) + poc.tags).joinToString(" ").lowercase()
            words.all { it in haystack } &&
                (query.language == null || poc.language == query.language) &&
                poc.tags.containsAll(query.tags)
        }
    }
}

fun poc(index: Int, language: String = "Kotlin", tags: List<String> = emptyList(), name: String = "POC $index") =
    Poc(
        id = "id-$index",
        name = name,
        description = "",
        githubUrl = "https://github.com/acme/poc-$index",
        language = language,
        tags = tags,
        ownerId = "owner",
        createdAt = "2026-01-01T00:00:00Z",
        updatedAt = "2026-01-01T00:00:00Z",
    )
