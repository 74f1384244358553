package dev.pocdojo.sdk.api

import dev.pocdojo.sdk.testing.Backend
import dev.pocdojo.sdk.testing.BackendExtension
import dev.pocdojo.sdk.testing.TestTenant
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.extension.ExtendWith
import java.util.UUID

/** The member directory (`GET /v1/members`, `GET /v1/members/{id}`) through the SDK against the real backend. */
@ExtendWith(BackendExtension::class)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MembersIntegrationTest(backend: Backend) {
    private val tenant: TestTenant = backend.newTenant()
    private val ana = tenant.newUser()
    private val bruno = tenant.newUser()
    private val anaClient = ana.signedIn()
    private val admin = tenant.admin.signedIn()
    private val outsider = backend.newTenant().admin.signedIn()

    private val anaId = runBlocking { anaClient.auth.me().id }
    private val brunoId = runBlocking { bruno.signedIn().auth.me().id }
    private val adminId = runBlocking { admin.auth.me().id }

    private suspend fun PocDojoClient.everyone(limit: Int = 200): List<Member> {
        val all = mutableListOf<Member>()
        var cursor: String? = null
        do {
            val page = members.list(limit = limit, cursor = cursor)
            all += page.items
            cursor = page.nextCursor
        } while (cursor != null)
        return all
    }

    @Test
    fun `a member sees the tenant's members with display names and roles, without e-mails`() = runBlocking<Unit> {
        val members = anaClient.everyone()
        assertEquals(setOf(anaId, brunoId, adminId), members.map { it.id }.toSet())
        assertTrue(members.all { it.email == null && it.displayName.isNotBlank() }, "$members")
        assertEquals(listOf("admin"), members.single { it.id == adminId }.roles.filter { it == "admin" })
        assertEquals(anaClient.auth.me().displayName, members.single { it.id == anaId }.displayName)
    }

    @Test
    fun `an administrator also sees e-mails`() = runBlocking<Unit> {
        val members = admin.everyone().associateBy { it.id }
        assertEquals(ana.email, members.getValue(anaId).email)
        assertEquals(bruno.email, members.getValue(brunoId).email)
    }

    @Test
    fun `pages follow next_cursor in id order without repeats`() = runBlocking<Unit> {
        val first = anaClient.members.list(limit = 1)
        assertEquals(1, first.items.size)
        assertNotNull(first.nextCursor)
        val paged = anaClient.everyone(limit = 1).map { it.id }
        assertEquals(paged.sorted(), paged)
        assertEquals(anaClient.everyone().map { it.id }, paged)
    }

    @Test
    fun `ids resolve the accounts another call returned, q matches display names`() = runBlocking<Unit> {
        assertEquals(listOf(brunoId), anaClient.members.list(ids = listOf(brunoId)).items.map { it.id })
        assertEquals(setOf(anaId, brunoId), anaClient.members.list(ids = listOf(anaId, brunoId)).items.map { it.id }.toSet())

        val bruno = anaClient.members.get(brunoId)
        val found = anaClient.members.list(query = bruno.displayName.uppercase()).items
        assertTrue(bruno in found, "$found")
        // A member's q does not search e-mails: the e-mail's domain is in no display name.
        assertFalse(anaClient.members.list(query = "@${tenant.slug}.test").items.any { it.id == brunoId })
        assertTrue(admin.members.list(query = "@${tenant.slug}.test").items.any { it.id == brunoId })
    }

    @Test
    fun `get returns one member and NotFound for an unknown or another tenant's account`() = runBlocking<Unit> {
        val member = anaClient.members.get(brunoId)
        assertEquals(brunoId, member.id)
        assertNull(member.email)
        assertEquals(bruno.email, admin.members.get(brunoId).email)
        assertThrows<NotFoundException> { runBlocking { anaClient.members.get(UUID.randomUUID().toString()) } }
        assertThrows<NotFoundException> { runBlocking { outsider.members.get(brunoId) } }
        assertTrue(outsider.members.list(ids = listOf(brunoId)).items.isEmpty())
    }

    @Test
    fun `a bad query is a ValidationException on its field`() = runBlocking<Unit> {
        val error = assertThrows<ValidationException> { runBlocking { anaClient.members.list(query = "x".repeat(81)) } }
        assertEquals(422, error.status)
        assertTrue(error.fieldErrors.any { it.field == "q" }, "${error.fieldErrors}")
    }
}
