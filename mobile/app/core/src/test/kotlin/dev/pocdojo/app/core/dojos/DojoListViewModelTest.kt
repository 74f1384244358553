package dev.pocdojo.app.core.dojos

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakeDojoGateway
import dev.pocdojo.app.core.testing.dojo
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.message
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

@OptIn(ExperimentalCoroutinesApi::class)
class DojoListViewModelTest {
    private val dojos = FakeDojoGateway((1..5).map { dojo(it) })
    private val connectivity = FakeConnectivity()

    private fun TestScope.list(pageSize: Int = 3): DojoListViewModel {
        val viewModel = DojoListViewModel(dojos, connectivity, backgroundScope, pageSize)
        runCurrent()
        return viewModel
    }

    @Test
    fun `lists the active dojos page by page`() =
        runTest {
            val viewModel = list()
            assertEquals(listOf("dojo-1", "dojo-2", "dojo-3"), viewModel.state.value.items.map { it.id })
            viewModel.onEvent(DojoListEvent.NearEnd)
            viewModel.onEvent(DojoListEvent.NearEnd) // already loading: not asked twice
            runCurrent()
            assertEquals((1..5).map { "dojo-$it" }, viewModel.state.value.items.map { it.id })
            viewModel.onEvent(DojoListEvent.NearEnd) // last page read: nothing more to ask
            runCurrent()
            assertEquals(listOf(null, "3"), dojos.lists)
        }

    @Test
    fun `an empty list says so and a failed load is retried by refresh`() =
        runTest {
            dojos.dojos.clear()
            dojos.listFailures.addLast(GatewayException.Unreachable("down"))
            val viewModel = list()
            assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.error)
            assertFalse(viewModel.state.value.empty)
            viewModel.onEvent(DojoListEvent.Refresh)
            runCurrent()
            assertNull(viewModel.state.value.error)
            assertTrue(viewModel.state.value.empty)
        }

    @Test
    fun `a refresh replaces a load under way`() =
        runTest {
            val hold = CompletableDeferred<Unit>()
            dojos.listHold = hold
            val viewModel = list()
            dojos.dojos.add(0, dojo(9))
            dojos.listHold = null
            viewModel.onEvent(DojoListEvent.Refresh)
            runCurrent()
            hold.complete(Unit)
            runCurrent()
            assertEquals("dojo-9", viewModel.state.value.items.first().id)
            assertFalse(viewModel.state.value.loading)
        }

    @Test
    fun `joining opens the dojo once with its participants`() =
        runTest {
            val viewModel = list()
            viewModel.onEvent(DojoListEvent.Join("dojo-2"))
            viewModel.onEvent(DojoListEvent.Join("dojo-3")) // one join at a time
            runCurrent()
            val joined = viewModel.state.value.joined!!
            assertEquals("Dojo 2", joined.dojo.title)
            assertEquals(listOf("Host", "Me"), joined.dojo.participants.map { it.name })
            assertEquals(listOf("dojo-2"), dojos.joins)
            viewModel.onEvent(DojoListEvent.Opened)
            assertNull(viewModel.state.value.joined)
        }

    @Test
    fun `an ended dojo opens on its replay, without joining it`() =
        runTest {
            dojos.dojos.add(0, dojo(7, "Kata of Friday").copy(active = false))
            val viewModel = list()
            viewModel.onEvent(DojoListEvent.Join("dojo-7"))
            runCurrent()
            assertEquals("dojo-7", viewModel.state.value.replay)
            assertNull(viewModel.state.value.joined)
            assertTrue(dojos.joins.isEmpty(), "an ended dojo is not joined")
            viewModel.onEvent(DojoListEvent.Opened)
            assertNull(viewModel.state.value.replay)
            viewModel.onEvent(DojoListEvent.Join("dojo-1"))
            runCurrent()
            assertEquals(listOf("dojo-1"), dojos.joins, "a live one still opens the room")
        }

    @Test
    fun `the lobby, a dojo gone and an ended session are told apart`() =
        runTest {
            val viewModel = list()
            dojos.joinFailures.addLast(GatewayException.Forbidden("Waiting for the host.", reason = "dojo-lobby"))
            viewModel.onEvent(DojoListEvent.Join("dojo-1"))
            runCurrent()
            assertEquals(MessageKey.DOJO_LOBBY.message(), viewModel.state.value.error)

            dojos.joinFailures.addLast(GatewayException.NotFound("Ended."))
            viewModel.onEvent(DojoListEvent.Join("dojo-2"))
            runCurrent()
            assertEquals(MessageKey.NOT_FOUND.message(), viewModel.state.value.error)
            assertEquals(listOf("dojo-1", "dojo-3"), viewModel.state.value.items.map { it.id })

            dojos.joinFailures.addLast(GatewayException.SignedOut("Session revoked."))
            viewModel.onEvent(DojoListEvent.Join("dojo-3"))
            runCurrent()
            assertTrue(viewModel.state.value.signedOut)
        }

    @Test
    fun `the offline banner follows the network`() =
        runTest {
            val viewModel = list()
            connectivity.online.value = false
            runCurrent()
            assertTrue(viewModel.state.value.offline)
        }
}
