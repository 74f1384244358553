package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith

/** `GET /v1/pocs/facets` through the SDK against the real POC service, on a catalogue of its own. */
@ExtendWith(BackendExtension::class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PocFacetsIntegrationTest(backend: Backend) {
    private val tenant = backend.newTenant()
    private val owner = tenant.newUser().signedIn()
    private val colleague = tenant.newUser().signedIn()
    private val outsider = backend.newTenant().admin.signedIn()

    @BeforeAll
    fun seed() = runBlocking<Unit> {
        val specs = listOf(
            Triple("Pix checkout", "go", listOf("payments", "pix")),
            Triple("Pix refunds", "Go", listOf("Payments", "PIX")),
            Triple("Boleto gateway", "golang", listOf("payments", "boleto")),
            Triple("Data pipeline", "python", listOf("data")),
            Triple("Notebook", "Python", listOf("data", "ml")),
            Triple("Web shop", "typescript", listOf("payments")),
        )
        specs.forEachIndexed { i, (name, language, tags) ->
            val client = if (i % 2 == 0) owner else colleague
            client.pocs.create(NewPoc(name, "https://github.com/acme/facets-$i", language, tags))
        }
    }

    @Test
    fun `counts per language and tag, most frequent first, ties by value`() = runBlocking<Unit> {
        val facets = owner.pocs.facets()
        assertEquals(listOf(FacetCount("Go", 3), FacetCount("Python", 2), FacetCount("TypeScript", 1)), facets.languages)
        assertEquals(
            listOf(FacetCount("payments", 4), FacetCount("data", 2), FacetCount("pix", 2), FacetCount("boleto", 1), FacetCount("ml", 1)),
            facets.tags,
        )
        assertEquals(PocFacets(emptyList(), emptyList()), outsider.pocs.facets()) // another tenant's catalogue
    }

    @Test
    fun `the search's filters apply and the counts match the search`() = runBlocking<Unit> {
        val queries = listOf(
            PocQuery(language = "go"),
            PocQuery(tags = listOf("payments")),
            PocQuery(tags = listOf("payments", "pix")),
            PocQuery(text = "pix"),
            PocQuery(owner = PocQuery.OWNER_ME),
        )
        for (query in queries) {
            val found = owner.pocs.all(query).toList()
            val facets = owner.pocs.facets(query)
            assertEquals(found.size, facets.languages.sumOf { it.count }, "$query: $facets")
            val tagCounts = found.flatMap { it.tags }.groupingBy { it }.eachCount()
            assertEquals(tagCounts, facets.tags.associate { it.value to it.count }, "$query")
        }
        assertEquals(listOf(FacetCount("Go", 3)), owner.pocs.facets(PocQuery(language = "go")).languages)
    }

    @Test
    fun `top keeps the most frequent values and is checked`() = runBlocking<Unit> {
        val facets = owner.pocs.facets(top = 1)
        assertEquals(listOf(FacetCount("Go", 3)), facets.languages)
        assertEquals(listOf(FacetCount("payments", 4)), facets.tags)
        for (bad in listOf(0, 101)) {
            val error = assertThrows<ValidationException> { runBlocking { owner.pocs.facets(top = bad) } }
            assertTrue(error.fieldErrors.any { it.field == "top" }, "$bad: ${error.fieldErrors}")
        }
    }
}
