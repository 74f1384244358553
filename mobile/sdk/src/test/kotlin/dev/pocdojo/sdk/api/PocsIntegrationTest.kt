package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.TestTenant
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.util.UUID

/** The POC catalogue through the SDK against the real POC service: CRUD, field errors, search and cursors. */
@ExtendWith(BackendExtension::class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PocsIntegrationTest(private val backend: Backend) {
    private val tenant: TestTenant = backend.newTenant()
    private val owner = tenant.newUser().signedIn()
    private val colleague = tenant.newUser().signedIn()

    /** The catalogue searched below: names, languages, tags, newest last. */
    private val seeded = mutableListOf<Poc>()

    @BeforeAll
    fun seed() = runBlocking<Unit> {
        val specs = listOf(
            Triple("Integração de pagamentos PIX", "go", listOf("Payments", "PIX")),
            Triple("Kubernetes operator", "Go", listOf("k8s")),
            Triple("Pagamentos recorrentes", "golang", listOf("payments")),
            Triple("Data pipeline", "python", listOf("data")),
            Triple("Boleto gateway", "Go", listOf("payments", "boleto")),
            Triple("ML notebook", "Python", listOf("machine learning")),
            Triple("Go CLI", "Go", emptyList()),
        )
        specs.forEachIndexed { i, (name, language, tags) ->
            seeded += owner.pocs.create(NewPoc(name, "https://github.com/acme/seed-$i", language, tags, "seed $i"))
        }
    }

    @Test
    fun `create normalizes the fields and get returns the same POC`() = runBlocking<Unit> {
        val created = owner.pocs.create(
            NewPoc("  Checkout   web ", "git@github.com:Acme/Checkout.git", "typescript", listOf("Machine Learning", "C#"), "A checkout."),
        )
        assertEquals("Checkout web", created.name)
        assertEquals("https://github.com/Acme/Checkout", created.githubUrl)
        assertEquals("TypeScript", created.language)
        assertEquals(listOf("machine-learning", "c-sharp"), created.tags)
        assertEquals(owner.auth.me().id, created.ownerId)
        assertEquals(created, colleague.pocs.get(created.id))
    }

    @Test
    fun `invalid fields are a ValidationException listing every field`() = runBlocking<Unit> {
        val error = assertThrows<ValidationException> {
            runBlocking { owner.pocs.create(NewPoc(" ", "https://gitlab.com/acme/x", "Klingon", listOf("x".repeat(60)))) }
        }
        assertEquals(422, error.status)
        val fields = error.fieldErrors.map { it.field }.toSet()
        assertTrue(fields.containsAll(setOf("name", "github_url", "language", "tags.0")), "$fields")
        assertEquals("unsupported_host", error.errorsFor("github_url").single().code)
        assertEquals("unknown_language", error.errorsFor("language").single().code)
    }

    @Test
    fun `the same repository twice is a ConflictException naming the existing POC`() = runBlocking<Unit> {
        val first = owner.pocs.create(NewPoc("Dup", "https://github.com/acme/dup", "Go"))
        val error = assertThrows<ConflictException> {
            runBlocking { colleague.pocs.create(NewPoc("Dup again", "https://github.com/ACME/dup.git", "Go")) }
        }
        assertEquals(first.id, error.existingPocId)
    }

    @Test
    fun `edit changes the given fields, clears the description and surfaces field errors`() = runBlocking<Unit> {
        val poc = owner.pocs.create(NewPoc("Edit me", "https://github.com/acme/edit-me", "Rust", listOf("a"), "old"))
        val edited = owner.pocs.update(poc.id, PocPatch(name = "Edited", tags = listOf("b", "c"), clearDescription = true))
        assertEquals("Edited", edited.name)
        assertEquals(listOf("b", "c"), edited.tags)
        assertEquals("", edited.description) // the service stores a cleared description as ""
        assertEquals("Rust", edited.language)
        assertEquals(poc.githubUrl, edited.githubUrl)

        val error = assertThrows<ValidationException> {
            runBlocking { owner.pocs.update(poc.id, PocPatch(githubUrl = "https://github.com/acme", language = "Klingon")) }
        }
        assertEquals(setOf("github_url", "language"), error.fieldErrors.map { it.field }.toSet())
        assertEquals("Edited", owner.pocs.get(poc.id).name)
    }

    @Test
    fun `only the owner edits or deletes, a deleted POC is gone, other tenants see nothing`() = runBlocking<Unit> {
        val poc = owner.pocs.create(NewPoc("Mine", "https://github.com/acme/mine", "Go"))
        assertThrows<ForbiddenException> { runBlocking { colleague.pocs.update(poc.id, PocPatch(name = "Theirs")) } }
        assertThrows<ForbiddenException> { runBlocking { colleague.pocs.delete(poc.id) } }

        val stranger = backend.newTenant().admin.signedIn()
        assertThrows<NotFoundException> { runBlocking { stranger.pocs.get(poc.id) } }
        assertThrows<NotFoundException> { runBlocking { stranger.pocs.delete(poc.id) } }

        owner.pocs.delete(poc.id)
        assertEquals(404, assertThrows<NotFoundException> { runBlocking { owner.pocs.get(poc.id) } }.status)
        assertThrows<NotFoundException> { runBlocking { owner.pocs.get(UUID.randomUUID().toString()) } }
        assertThrows<ValidationException> { runBlocking { owner.pocs.get("not-a-uuid") } }
    }

    @Test
    fun `search filters by language and tags and pages with cursors`() = runBlocking<Unit> {
        val goSeeded = seeded.filter { it.language == "Go" }.reversed() // newest first
        val query = PocQuery(language = "golang", owner = PocQuery.OWNER_ME, limit = 2)
        val first = owner.pocs.search(query)
        assertEquals(goSeeded.take(2).map { it.id }, first.items.map { it.id })
        val second = owner.pocs.search(query, first.nextCursor)
        assertEquals(goSeeded.drop(2).take(2).map { it.id }, second.items.map { it.id })

        val pages = owner.pocs.pages(query).toList()
        assertEquals(goSeeded.map { it.id }, pages.flatMap { page -> page.items.map { it.id } })
        assertNull(pages.last().nextCursor)
        assertTrue(pages.dropLast(1).all { it.items.size == 2 })

        val payments = owner.pocs.search(PocQuery(tags = listOf("payments"), language = "Go", owner = PocQuery.OWNER_ME))
        assertEquals(
            seeded.filter { "payments" in it.tags && it.language == "Go" }.map { it.id }.toSet(),
            payments.items.map { it.id }.toSet(),
        )
        val both = owner.pocs.search(PocQuery(tags = listOf("payments", "boleto")))
        assertEquals(listOf("Boleto gateway"), both.items.map { it.name })
    }

    @Test
    fun `the flow of all results is the endless scroll, fetched lazily`() = runBlocking<Unit> {
        val query = PocQuery(owner = PocQuery.OWNER_ME, sort = PocSort.OLDEST, limit = 3)
        val firstFour = owner.pocs.all(query).take(4).map { it.id }.toList()
        assertEquals(seeded.take(4).map { it.id }, firstFour)
        val everything = owner.pocs.all(query).toList()
        assertEquals(everything.map { it.id }.toSet().size, everything.size, "a POC was served twice")
        assertTrue(everything.map { it.id }.containsAll(seeded.map { it.id }))
    }

    @Test
    fun `text search forgives accents and typos and sorts by relevance`() = runBlocking<Unit> {
        val found = owner.pocs.search(PocQuery(text = "integracao pagamentos"))
        assertEquals("Integração de pagamentos PIX", found.items.first().name)
        val typo = owner.pocs.search(PocQuery(text = "kubernets"))
        assertEquals(listOf("Kubernetes operator"), typo.items.map { it.name })
        val byName = owner.pocs.search(PocQuery(owner = PocQuery.OWNER_ME, language = "Python", sort = PocSort.NAME))
        assertEquals(listOf("Data pipeline", "ML notebook"), byName.items.map { it.name })
    }

    @Test
    fun `bad search parameters and replayed cursors are ValidationExceptions`() = runBlocking<Unit> {
        val unknown = assertThrows<ValidationException> { runBlocking { owner.pocs.search(PocQuery(language = "Klingon")) } }
        assertEquals("language", unknown.fieldErrors.single().field)
        val relevance = assertThrows<ValidationException> { runBlocking { owner.pocs.search(PocQuery(sort = PocSort.RELEVANCE)) } }
        assertEquals("relevance_needs_q", relevance.fieldErrors.single().code)

        val page = owner.pocs.search(PocQuery(language = "Go", limit = 1))
        val replayed = assertThrows<ValidationException> {
            runBlocking { owner.pocs.search(PocQuery(language = "Python", limit = 1), page.nextCursor) }
        }
        assertEquals("cursor", replayed.fieldErrors.single().field)
        val limit = assertThrows<ValidationException> { runBlocking { owner.pocs.search(PocQuery(limit = 1000)) } }
        assertEquals("limit", limit.fieldErrors.single().field)
    }
}
