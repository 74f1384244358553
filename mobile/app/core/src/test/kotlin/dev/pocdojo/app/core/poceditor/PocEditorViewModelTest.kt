package dev.pocdojo.app.core.poceditor

import dev.pocdojo.app.core.gateway.FieldError
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.PocChanges
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.testing.FakePocGateway
import dev.pocdojo.app.core.testing.poc
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
class PocEditorViewModelTest {
    private val existing = poc(7, language = "Go", tags = listOf("pix", "api"), name = "PIX checkout")
    private val pocs = FakePocGateway(listOf(existing))
    private val connectivity = FakeConnectivity()

    private fun TestScope.editor(pocId: String? = null): PocEditorViewModel {
        val viewModel = PocEditorViewModel(pocs, connectivity, backgroundScope, pocId)
        runCurrent()
        return viewModel
    }

    private fun PocEditorViewModel.type(field: PocField, value: String) = onEvent(PocEditorEvent.Edited(field, value))

    @Test
    fun `creates a POC from the trimmed fields, tags split at commas`() =
        runTest {
            val viewModel = editor()
            viewModel.type(PocField.NAME, " Checkout ")
            viewModel.type(PocField.GITHUB_URL, "github.com/acme/checkout")
            viewModel.type(PocField.LANGUAGE, "golang")
            viewModel.type(PocField.TAGS, "Payments, PIX, ,")
            viewModel.onEvent(PocEditorEvent.Saved)
            runCurrent()
            val draft = pocs.created.single()
            assertEquals("Checkout", draft.name)
            assertEquals(listOf("Payments", "PIX"), draft.tags)
            assertEquals("Checkout", viewModel.state.value.saved?.name)
        }

    @Test
    fun `required fields are refused on their fields without a call`() =
        runTest {
            val viewModel = editor()
            viewModel.type(PocField.NAME, "x".repeat(201))
            viewModel.onEvent(PocEditorEvent.Saved)
            val errors = viewModel.state.value.fieldErrors
            assertEquals(MessageKey.TOO_LONG.message(200), errors[PocField.NAME])
            assertEquals(MessageKey.REQUIRED.message(), errors[PocField.GITHUB_URL])
            assertEquals(MessageKey.REQUIRED.message(), errors[PocField.LANGUAGE])
            assertTrue(pocs.created.isEmpty())
        }

    @Test
    fun `lengths are counted as the server counts them, in code points after NFC`() =
        runTest {
            val viewModel = editor()
            viewModel.type(PocField.NAME, "\uD83D\uDE80".repeat(150)) // 150 rockets: 300 UTF-16 units, 150 for the server
            viewModel.type(PocField.GITHUB_URL, "https://github.com/acme/rockets")
            viewModel.type(PocField.LANGUAGE, "Go")
            viewModel.type(PocField.DESCRIPTION, "e\u0301".repeat(4000)) // 8000 code points, 4000 after NFC
            viewModel.onEvent(PocEditorEvent.Saved)
            runCurrent()
            assertEquals(emptyMap<PocField, UiMessage>(), viewModel.state.value.fieldErrors)
            assertEquals(1, pocs.created.size)

            val again = editor()
            again.type(PocField.NAME, "\uD83D\uDE80".repeat(201))
            again.type(PocField.GITHUB_URL, "https://github.com/acme/more-rockets")
            again.type(PocField.LANGUAGE, "Go")
            again.onEvent(PocEditorEvent.Saved)
            assertEquals(MessageKey.TOO_LONG.message(200), again.state.value.fieldErrors[PocField.NAME])
            assertEquals(1, pocs.created.size)
        }

    @Test
    fun `the server's refusals go on their fields, a tag's on the tags, known codes in our words`() =
        runTest {
            val viewModel = editor()
            pocs.writeFailures.addLast(
                GatewayException.Invalid(
                    listOf(
                        FieldError("github_url", "unsupported_host", "only GitHub repository URLs are supported"),
                        FieldError("language", "unknown_language", "unknown language 'kotln'; did you mean Kotlin?"),
                        FieldError("tags.1", "too_long", "at most 40 characters"),
                        // the server counts code points after NFC: it may refuse what the form's check let through
                        FieldError("name", "too_long", "must be at most 200 characters (got 201)"),
                    ),
                    "...",
                ),
            )
            viewModel.type(PocField.NAME, "Checkout")
            viewModel.type(PocField.GITHUB_URL, "https://gitlab.com/acme/checkout")
            viewModel.type(PocField.LANGUAGE, "kotln")
            viewModel.type(PocField.TAGS, "ok, " + "t".repeat(41))
            viewModel.onEvent(PocEditorEvent.Saved)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(MessageKey.GITHUB_ONLY.message(), state.fieldErrors[PocField.GITHUB_URL])
            assertEquals(
                UiMessage.FromServer("unknown language 'kotln'; did you mean Kotlin?"),
                state.fieldErrors[PocField.LANGUAGE],
            )
            assertEquals(MessageKey.TAG_TOO_LONG.message(40), state.fieldErrors[PocField.TAGS])
            assertEquals(MessageKey.TOO_LONG.message(200), state.fieldErrors[PocField.NAME])
            assertNull(state.formError)
            assertNull(state.saved)
            viewModel.type(PocField.LANGUAGE, "Kotlin")
            assertEquals(setOf(PocField.NAME, PocField.GITHUB_URL, PocField.TAGS), viewModel.state.value.fieldErrors.keys)
        }

    @Test
    fun `a repository already registered points at the existing POC`() =
        runTest {
            val viewModel = editor()
            pocs.writeFailures.addLast(GatewayException.Conflict("exists", existingPocId = existing.id))
            viewModel.type(PocField.NAME, "Again")
            viewModel.type(PocField.GITHUB_URL, existing.githubUrl)
            viewModel.type(PocField.LANGUAGE, "Go")
            viewModel.onEvent(PocEditorEvent.Saved)
            runCurrent()
            assertEquals(MessageKey.POC_EXISTS.message(), viewModel.state.value.fieldErrors[PocField.GITHUB_URL])
            assertEquals(existing.id, viewModel.state.value.existingPocId)
        }

    @Test
    fun `editing loads the POC and sends only what changed`() =
        runTest {
            val viewModel = editor(existing.id)
            assertEquals("PIX checkout", viewModel.state.value.name)
            assertEquals("pix, api", viewModel.state.value.tags)
            viewModel.type(PocField.TAGS, "pix, api, open-finance")
            viewModel.type(PocField.NAME, "PIX checkout ")
            viewModel.onEvent(PocEditorEvent.Saved)
            runCurrent()
            assertEquals(existing.id to PocChanges(tags = listOf("pix", "api", "open-finance")), pocs.updates.single())
            assertEquals(listOf("pix", "api", "open-finance"), viewModel.state.value.saved?.tags)
        }

    @Test
    fun `saving an unchanged POC closes without a call`() =
        runTest {
            val viewModel = editor(existing.id)
            viewModel.onEvent(PocEditorEvent.Saved)
            runCurrent()
            assertEquals(existing, viewModel.state.value.saved)
            assertTrue(pocs.updates.isEmpty())
        }

    @Test
    fun `a POC that cannot be loaded cannot be saved, and retry loads it`() =
        runTest {
            pocs.writeFailures.addLast(GatewayException.Unreachable("reset"))
            val viewModel = editor(existing.id)
            assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.formError)
            viewModel.onEvent(PocEditorEvent.Saved)
            runCurrent()
            assertTrue(pocs.updates.isEmpty() && pocs.created.isEmpty())
            viewModel.onEvent(PocEditorEvent.Retry)
            runCurrent()
            assertEquals(existing, viewModel.state.value.original)
            assertNull(viewModel.state.value.formError)
        }

    @Test
    fun `only the owner or an admin may change it`() =
        runTest {
            val viewModel = editor(existing.id)
            pocs.writeFailures.addLast(GatewayException.Forbidden("Only the POC's owner or a tenant admin may change it."))
            viewModel.type(PocField.NAME, "Mine now")
            viewModel.onEvent(PocEditorEvent.Saved)
            runCurrent()
            assertEquals(MessageKey.FORBIDDEN.message(), viewModel.state.value.formError)
            assertNull(viewModel.state.value.saved)
        }
}
