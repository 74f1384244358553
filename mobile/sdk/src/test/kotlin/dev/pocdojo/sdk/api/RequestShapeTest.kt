package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.api.MockApi.POC_JSON
import dev.pocdojo.sdk.api.MockApi.json
import dev.pocdojo.sdk.http.RetryPolicy
import kotlinx.coroutines.runBlocking
import mockwebserver3.MockWebServer
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import java.time.Instant

/**
 * What the client sends and how it reads answers, for calls whose server side is not on this branch yet
 * (`GET /v1/members`, `GET /v1/pocs/facets`) and for the exact query and patch encodings.
 */
class RequestShapeTest {
    private val server = MockWebServer()
    private lateinit var client: PocDojoClient

    @BeforeEach
    fun start() {
        server.start()
        val session = Session("access", "refresh", Instant.now().plusSeconds(600))
        client = PocDojoClient(server.url("/api/").toString(), InMemorySessionStore(session), retryPolicy = RetryPolicy.NONE)
    }

    @AfterEach
    fun stop() {
        server.close()
    }

    @Test
    fun `a search sends every criterion, repeats tag, keeps the base path, and ignores unknown keys`() = runBlocking<Unit> {
        server.enqueue(json("""{"items":[$POC_JSON],"next_cursor":"c2","total_hint":9}"""))
        val query = PocQuery(
            text = "pix à vista",
            language = "go",
            tags = listOf("payments", "pix"),
            owner = PocQuery.OWNER_ME,
            createdFrom = Instant.parse("2024-01-01T00:00:00Z"),
            createdTo = Instant.parse("2025-01-01T00:00:00Z"),
            sort = PocSort.NAME_DESCENDING,
            limit = 5,
        )
        val page = client.pocs.search(query, cursor = "c1")
        val request = server.takeRequest()
        assertEquals("/api/v1/pocs", request.url.encodedPath)
        assertEquals("pix à vista", request.url.queryParameter("q"))
        assertEquals(listOf("payments", "pix"), request.url.queryParameterValues("tag"))
        assertEquals("me", request.url.queryParameter("owner"))
        assertEquals("2024-01-01T00:00:00Z", request.url.queryParameter("created_from"))
        assertEquals("2025-01-01T00:00:00Z", request.url.queryParameter("created_to"))
        assertEquals("-name", request.url.queryParameter("sort"))
        assertEquals("5", request.url.queryParameter("limit"))
        assertEquals("c1", request.url.queryParameter("cursor"))
        assertEquals("Bearer access", request.headers["Authorization"])
        assertEquals("c2", page.nextCursor)
        assertEquals(Instant.parse("2024-05-02T08:30:00Z"), page.items.single().updatedAt)
        assertNull(page.items.single().description)
    }

    @Test
    fun `a patch sends only the given fields, and null to clear the description`() = runBlocking<Unit> {
        server.enqueue(json(POC_JSON))
        client.pocs.update("p1", PocPatch(tags = emptyList(), clearDescription = true))
        val request = server.takeRequest()
        assertEquals("PATCH", request.method)
        assertEquals("""{"tags":[],"description":null}""", request.body?.utf8())
    }

    @Test
    fun `facets and the member directory`() = runBlocking<Unit> {
        server.enqueue(json("""{"languages":[{"value":"Go","count":3}],"tags":[{"value":"pix","count":2}]}"""))
        val facets = client.pocs.facets(PocQuery(text = "pa"))
        assertEquals(PocFacets(listOf(FacetCount("Go", 3)), listOf(FacetCount("pix", 2))), facets)
        assertEquals("/api/v1/pocs/facets?q=pa", server.takeRequest().target)
        server.enqueue(json("""{"languages":[],"tags":[]}"""))
        client.pocs.facets(PocQuery(text = "pa", tags = listOf("pix"), sort = PocSort.NAME, limit = 5), top = 3)
        assertEquals("/api/v1/pocs/facets?q=pa&tag=pix&top=3", server.takeRequest().target) // sort, limit do not apply

        server.enqueue(json("""{"items":[{"id":"u1","display_name":"Ana","roles":["member"]}],"next_cursor":null}"""))
        val members = client.members.list(query = "an", limit = 10)
        assertEquals(listOf(Member("u1", "Ana", listOf("member"), null)), members.items)
        assertEquals("/api/v1/members?q=an&limit=10", server.takeRequest().target)
        server.enqueue(json("""{"items":[],"next_cursor":null}"""))
        client.members.list(ids = listOf("u1", "u2"))
        assertEquals("/api/v1/members?id=u1&id=u2", server.takeRequest().target)
    }

    @Test
    fun `a dojo is created with its settings and a role change is a PUT`() = runBlocking<Unit> {
        val dojo = """{"id":"d1","title":"T","poc_id":null,"language":null,"host_id":"u1","status":"active",""" +
            """"settings":{"locked":false,"lobby":true},"randori":{"enabled":false,"interval_seconds":null,""" +
            """"driver_id":null,"next_rotation_at":null},"version":1,"started_at":"2026-01-01T10:00:00+00:00",""" +
            """"ended_at":null,"participants":[]}"""
        server.enqueue(json(dojo, 201))
        client.dojos.create(NewDojo("T", lobby = true))
        assertEquals(
            """{"title":"T","settings":{"locked":false,"lobby":true,"randori_seconds":null}}""",
            server.takeRequest().body?.utf8(),
        )
        server.enqueue(json(dojo))
        client.dojos.setRole("d1", "u2", DojoRole.OBSERVER)
        val request = server.takeRequest()
        assertEquals("PUT", request.method)
        assertEquals("/api/v1/dojos/d1/participants/u2/role", request.url.encodedPath)
        assertEquals("""{"role":"observer"}""", request.body?.utf8())
    }
}
