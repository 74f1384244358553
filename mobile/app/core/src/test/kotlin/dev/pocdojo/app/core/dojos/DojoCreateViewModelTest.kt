package dev.pocdojo.app.core.dojos

import dev.pocdojo.app.core.gateway.DojoDraft
import dev.pocdojo.app.core.gateway.FieldError
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakeDojoGateway
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.test.TestScope
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test

@OptIn(ExperimentalCoroutinesApi::class)
class DojoCreateViewModelTest {
    private val dojos = FakeDojoGateway()
    private val pix = DojoPoc("poc-1", "Pix checkout")

    private fun TestScope.create(poc: DojoPoc? = pix): DojoCreateViewModel {
        val viewModel = DojoCreateViewModel(dojos, FakeConnectivity(), backgroundScope, poc)
        runCurrent()
        return viewModel
    }

    @Test
    fun `creates the dojo on the POC and joins it`() =
        runTest {
            val viewModel = create()
            viewModel.onEvent(DojoCreateEvent.TitleEdited("  Friday kata "))
            viewModel.onEvent(DojoCreateEvent.Submitted)
            runCurrent()
            assertEquals(listOf(DojoDraft("Friday kata", "poc-1")), dojos.drafts)
            val joined = viewModel.state.value.joined!!
            assertEquals("Friday kata", joined.dojo.title)
            assertEquals(listOf(joined.dojo.id), dojos.joins)
        }

    @Test
    fun `the POC is optional`() =
        runTest {
            val viewModel = create()
            viewModel.onEvent(DojoCreateEvent.PocRemoved)
            viewModel.onEvent(DojoCreateEvent.TitleEdited("Open kata"))
            viewModel.onEvent(DojoCreateEvent.Submitted)
            runCurrent()
            assertEquals(listOf(DojoDraft("Open kata", null)), dojos.drafts)
        }

    @Test
    fun `the title is checked first and the server's refusal goes on it`() =
        runTest {
            val viewModel = create(poc = null)
            viewModel.onEvent(DojoCreateEvent.Submitted)
            assertEquals(MessageKey.REQUIRED.message(), viewModel.state.value.titleError)
            viewModel.onEvent(DojoCreateEvent.TitleEdited("x".repeat(201)))
            viewModel.onEvent(DojoCreateEvent.Submitted)
            assertEquals(MessageKey.TOO_LONG.message(200), viewModel.state.value.titleError)
            assertTrue(dojos.drafts.isEmpty())

            dojos.createFailures.addLast(
                GatewayException.Invalid(listOf(FieldError("title", "blank", "Title must not be blank.")), "invalid"),
            )
            viewModel.onEvent(DojoCreateEvent.TitleEdited("\u200b"))
            viewModel.onEvent(DojoCreateEvent.Submitted)
            runCurrent()
            assertEquals(UiMessage.FromServer("Title must not be blank."), viewModel.state.value.titleError)
            assertNull(viewModel.state.value.joined)
        }

    @Test
    fun `a failed join after creating does not create a second dojo`() =
        runTest {
            val viewModel = create()
            viewModel.onEvent(DojoCreateEvent.TitleEdited("Kata"))
            dojos.joinFailures.addLast(GatewayException.Unreachable("down"))
            viewModel.onEvent(DojoCreateEvent.Submitted)
            runCurrent()
            assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.formError)
            viewModel.onEvent(DojoCreateEvent.Submitted)
            runCurrent()
            assertEquals(1, dojos.drafts.size)
            assertEquals(2, dojos.joins.size)
            assertEquals("Kata", viewModel.state.value.joined!!.dojo.title)
        }
}
