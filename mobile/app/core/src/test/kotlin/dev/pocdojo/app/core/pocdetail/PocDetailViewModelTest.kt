package dev.pocdojo.app.core.pocdetail

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakePocGateway
import dev.pocdojo.app.core.testing.poc
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.message
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

@OptIn(ExperimentalCoroutinesApi::class)
class PocDetailViewModelTest {
    private val shown = poc(3, name = "Kotlin Yjs")
    private val pocs = FakePocGateway(listOf(shown))
    private val connectivity = FakeConnectivity()

    private fun TestScope.detail(): PocDetailViewModel {
        val viewModel = PocDetailViewModel(pocs, connectivity, backgroundScope, shown.id)
        runCurrent()
        return viewModel
    }

    @Test
    fun `deleting needs a confirmation`() =
        runTest {
            val viewModel = detail()
            assertEquals(shown, viewModel.state.value.poc)
            viewModel.onEvent(PocDetailEvent.DeleteConfirmed)
            runCurrent()
            assertTrue(pocs.deletions.isEmpty())
            viewModel.onEvent(PocDetailEvent.DeleteTapped)
            viewModel.onEvent(PocDetailEvent.DeleteCancelled)
            viewModel.onEvent(PocDetailEvent.DeleteConfirmed)
            runCurrent()
            assertTrue(pocs.deletions.isEmpty())
            viewModel.onEvent(PocDetailEvent.DeleteTapped)
            viewModel.onEvent(PocDetailEvent.DeleteConfirmed)
            runCurrent()
            assertEquals(listOf(shown.id), pocs.deletions)
            assertTrue(viewModel.state.value.deleted)
        }

    @Test
    fun `a refused deletion keeps the POC and says why`() =
        runTest {
            val viewModel = detail()
            pocs.writeFailures.addLast(GatewayException.Forbidden("Only the owner or an admin."))
            viewModel.onEvent(PocDetailEvent.DeleteTapped)
            viewModel.onEvent(PocDetailEvent.DeleteConfirmed)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(MessageKey.FORBIDDEN.message(), state.error)
            assertFalse(state.deleted)
            assertEquals(shown, state.poc)
        }

    @Test
    fun `a POC deleted elsewhere closes the screen`() =
        runTest {
            pocs.catalogue.clear()
            val viewModel = detail()
            assertEquals(MessageKey.NOT_FOUND.message(), viewModel.state.value.error)
            assertTrue(viewModel.state.value.deleted)
        }
}
