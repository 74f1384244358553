package dev.pocdojo.app.core.poclist

import dev.pocdojo.app.core.gateway.FacetCount
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.core.testing.FakeAuthGateway
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakePocGateway
import dev.pocdojo.app.core.testing.poc
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.message
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

@OptIn(ExperimentalCoroutinesApi::class)
class PocListViewModelTest {
    private val catalogue =
        (1..45).map { poc(it, language = if (it % 3 == 0) "Go" else "Kotlin", tags = tagsOf(it)) } +
            listOf(poc(100, name = "Kotlin coroutines demo", tags = listOf("android")))
    private val pocs = FakePocGateway(catalogue)
    private val connectivity = FakeConnectivity()
    private val auth = FakeAuthGateway()
    private val settings = PocListSettings(pageSize = 20, debounceMillis = 300)

    private fun tagsOf(index: Int) = listOfNotNull("pix".takeIf { index % 2 == 0 }, "api".takeIf { index % 5 == 0 })

    private fun TestScope.started(): PocListViewModel {
        val viewModel = PocListViewModel(pocs, auth, connectivity, backgroundScope, settings)
        runCurrent()
        return viewModel
    }

    @Test
    fun `the first page and the chips' counts load at once`() =
        runTest {
            val viewModel = started()
            val state = viewModel.state.value
            assertEquals(20, state.items.size)
            assertFalse(state.loading)
            assertFalse(state.endReached)
            assertEquals(listOf(PocQuery() to null), pocs.searches)
            assertEquals(FacetCount("Kotlin", 31), state.facets.languages.first())
            assertEquals(listOf("Kotlin", "Go"), state.languageChips.map { it.value })
            assertTrue(state.languageChips.none { it.selected })
        }

    @Test
    fun `typing searches once, after the pause, for the last text`() =
        runTest {
            val viewModel = started()
            for (text in listOf("k", "ko", "kotlin co")) {
                viewModel.onEvent(PocListEvent.TextChanged(text))
                advanceTimeBy(100)
            }
            assertEquals(1, pocs.searches.size)
            assertTrue(viewModel.state.value.loading)
            advanceTimeBy(201)
            runCurrent()
            assertEquals(PocQuery("kotlin co") to null, pocs.searches.last())
            assertEquals(2, pocs.searches.size)
            assertEquals(listOf("id-100"), viewModel.state.value.items.map { it.id })
            assertTrue(viewModel.state.value.endReached)
        }

    @Test
    fun `spaces around the text do not search again`() =
        runTest {
            val viewModel = started()
            viewModel.onEvent(PocListEvent.TextChanged("  "))
            advanceTimeBy(1_000)
            assertEquals(1, pocs.searches.size)
            assertFalse(viewModel.state.value.loading)
        }

    @Test
    fun `a late answer for an older text never replaces the newer one`() =
        runTest {
            val viewModel = started()
            val slow = CompletableDeferred<Unit>()
            pocs.holds["pix"] = slow
            viewModel.onEvent(PocListEvent.TextChanged("pix"))
            advanceTimeBy(301)
            runCurrent()
            viewModel.onEvent(PocListEvent.TextChanged("coroutines"))
            advanceTimeBy(301)
            runCurrent()
            slow.complete(Unit)
            runCurrent()
            assertEquals(listOf("id-100"), viewModel.state.value.items.map { it.id })
            assertEquals("coroutines", viewModel.state.value.text)
        }

    @Test
    fun `a language chip filters at once and a second tap clears it`() =
        runTest {
            val viewModel = started()
            viewModel.onEvent(PocListEvent.LanguageToggled("Go"))
            runCurrent()
            val state = viewModel.state.value
            assertTrue(state.items.all { it.language == "Go" })
            assertEquals(15, state.items.size)
            assertTrue(state.endReached)
            assertEquals(listOf("Go"), state.languageChips.filter { it.selected }.map { it.value })
            viewModel.onEvent(PocListEvent.LanguageToggled("Go"))
            runCurrent()
            assertNull(viewModel.state.value.language)
            assertEquals(20, viewModel.state.value.items.size)
        }

    @Test
    fun `tag chips add up, selected first even when the counts lack them`() =
        runTest {
            val viewModel = started()
            viewModel.onEvent(PocListEvent.TagToggled("pix"))
            viewModel.onEvent(PocListEvent.TagToggled("api"))
            runCurrent()
            val state = viewModel.state.value
            assertEquals(PocQuery(tags = setOf("pix", "api")), pocs.searches.last().first)
            assertEquals(listOf("id-10", "id-20", "id-30", "id-40"), state.items.map { it.id })
            viewModel.onEvent(PocListEvent.TagToggled("quantum"))
            runCurrent()
            val chips = viewModel.state.value.tagChips
            assertEquals(listOf("api", "pix", "quantum"), chips.take(3).map { it.value })
            assertTrue(chips.take(3).all { it.selected })
            assertNull(chips[2].count)
            assertTrue(viewModel.state.value.empty)
        }

    @Test
    fun `scrolling near the end loads the next pages, once each, until the last`() =
        runTest {
            val viewModel = started()
            viewModel.onEvent(PocListEvent.NearEnd)
            viewModel.onEvent(PocListEvent.NearEnd)
            assertTrue(viewModel.state.value.loadingMore)
            runCurrent()
            assertEquals(40, viewModel.state.value.items.size)
            viewModel.onEvent(PocListEvent.NearEnd)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(46, state.items.size)
            assertEquals(46, state.items.map { it.id }.toSet().size)
            assertTrue(state.endReached)
            viewModel.onEvent(PocListEvent.NearEnd)
            runCurrent()
            assertEquals(listOf(null, "20", "40"), pocs.searches.map { it.second })
        }

    @Test
    fun `scrolling while a new text waits for its pause loads nothing of the old one`() =
        runTest {
            val viewModel = started()
            viewModel.onEvent(PocListEvent.TextChanged("pix"))
            viewModel.onEvent(PocListEvent.NearEnd)
            advanceTimeBy(301)
            runCurrent()
            assertEquals(listOf(PocQuery() to null, PocQuery("pix") to null), pocs.searches)
        }

    @Test
    fun `a failed first page shows the error and retry loads it`() =
        runTest {
            pocs.failNextSearch(GatewayException.ServerFailure(503, "Service unavailable"))
            val viewModel = started()
            assertEquals(MessageKey.SERVER_FAILURE.message(503), viewModel.state.value.error)
            assertFalse(viewModel.state.value.empty)
            viewModel.onEvent(PocListEvent.Retry)
            runCurrent()
            assertNull(viewModel.state.value.error)
            assertEquals(20, viewModel.state.value.items.size)
        }

    @Test
    fun `a failed next page keeps the rows and retry loads that page`() =
        runTest {
            val viewModel = started()
            pocs.failNextSearch(GatewayException.Unreachable("reset"))
            viewModel.onEvent(PocListEvent.NearEnd)
            runCurrent()
            assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.error)
            assertEquals(20, viewModel.state.value.items.size)
            viewModel.onEvent(PocListEvent.NearEnd)
            runCurrent()
            assertEquals(2, pocs.searches.size)
            viewModel.onEvent(PocListEvent.Retry)
            runCurrent()
            assertEquals(40, viewModel.state.value.items.size)
            assertEquals(listOf(null, "20", "20"), pocs.searches.map { it.second })
        }

    @Test
    fun `offline shows the banner and the failed load runs again when the network returns`() =
        runTest {
            val viewModel = started()
            connectivity.online.value = false
            pocs.failNextSearch(GatewayException.Unreachable("no network"))
            viewModel.onEvent(PocListEvent.Refresh)
            runCurrent()
            assertTrue(viewModel.state.value.offline)
            assertNotNull(viewModel.state.value.error)
            connectivity.online.value = true
            runCurrent()
            assertFalse(viewModel.state.value.offline)
            assertNull(viewModel.state.value.error)
            assertEquals(3, pocs.searches.size)
        }

    @Test
    fun `failed counts leave the list and the last chips, with a note`() =
        runTest {
            val viewModel = started()
            val chips = viewModel.state.value.languageChips
            pocs.facetsFailure = GatewayException.ServerFailure(500, "boom")
            viewModel.onEvent(PocListEvent.TagToggled("pix"))
            runCurrent()
            val state = viewModel.state.value
            assertEquals(20, state.items.size)
            assertNull(state.error)
            assertEquals(MessageKey.SERVER_FAILURE.message(500), state.facetsError)
            assertEquals(chips, state.languageChips)
        }

    @Test
    fun `an ended session sends the screen back to sign-in`() =
        runTest {
            pocs.failNextSearch(GatewayException.SignedOut("The refresh token was revoked."))
            val viewModel = started()
            assertTrue(viewModel.state.value.signedOut)
            assertEquals(MessageKey.SESSION_ENDED.message(), viewModel.state.value.error)
        }

    @Test
    fun `sign-out tells the server, then the screen goes back to sign-in`() =
        runTest {
            val viewModel = started()
            val answer = CompletableDeferred<Unit>()
            auth.hold = answer
            viewModel.onEvent(PocListEvent.SignOut)
            runCurrent()
            assertTrue(viewModel.state.value.signingOut)
            assertFalse(viewModel.state.value.signedOut, "not back to sign-in before the server answered")
            viewModel.onEvent(PocListEvent.SignOut) // a second tap while the first is under way
            answer.complete(Unit)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(1, auth.signOuts)
            assertTrue(state.signedOut)
            assertFalse(state.signingOut)
            assertNull(state.signOutWarning)
        }

    @Test
    fun `a sign-out the server did not hear of still signs out here, and says so`() =
        runTest {
            val viewModel = started()
            auth.failNext(GatewayException.Unreachable("no route to host"))
            viewModel.onEvent(PocListEvent.SignOut)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(1, auth.signOuts)
            assertTrue(state.signedOut)
            assertEquals(MessageKey.SIGN_OUT_NOT_CONFIRMED.message(), state.signOutWarning)
        }
}
