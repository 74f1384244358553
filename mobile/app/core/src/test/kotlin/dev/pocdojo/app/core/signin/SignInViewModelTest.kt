package dev.pocdojo.app.core.signin

import dev.pocdojo.app.core.gateway.Account
import dev.pocdojo.app.core.gateway.FieldError
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.ServerUrl
import dev.pocdojo.app.core.testing.FakeAuthGateway
import dev.pocdojo.app.core.testing.FakeConnectivity
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
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
class SignInViewModelTest {
    private val ana = Account("u1", "ana@acme.com.br", "acme", setOf("member"))
    private val auth = FakeAuthGateway(mapOf("ana@acme.com.br" to ("correct horse battery" to ana)))
    private val connectivity = FakeConnectivity()

    private fun TestScope.viewModel(mode: SignInMode = SignInMode.SIGN_IN): SignInViewModel {
        val viewModel = SignInViewModel(auth, connectivity, backgroundScope)
        viewModel.onEvent(SignInEvent.ModeChosen(mode))
        return viewModel
    }

    private fun SignInViewModel.fill(
        server: String = " http://10.0.2.2:8000/ ",
        tenant: String = " acme",
        email: String = "ana@acme.com.br ",
        password: String = "correct horse battery",
        invitation: String = "",
    ) {
        onEvent(SignInEvent.Edited(SignInField.SERVER, server))
        onEvent(SignInEvent.Edited(SignInField.TENANT, tenant))
        onEvent(SignInEvent.Edited(SignInField.EMAIL, email))
        onEvent(SignInEvent.Edited(SignInField.PASSWORD, password))
        onEvent(SignInEvent.Edited(SignInField.INVITATION, invitation))
    }

    @Test
    fun `signs in with the trimmed fields and forgets the password`() =
        runTest {
            val viewModel = viewModel()
            viewModel.fill()
            viewModel.onEvent(SignInEvent.Submitted)
            assertTrue(viewModel.state.value.submitting)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(ana, state.signedIn)
            assertFalse(state.submitting)
            assertEquals("", state.password)
            val sent = auth.signIns.single()
            assertEquals(ServerUrl("http://10.0.2.2:8000"), sent.server)
            assertEquals("acme", sent.tenant)
            assertEquals("ana@acme.com.br", sent.email)
        }

    @Test
    fun `empty and malformed fields are refused on their fields without a call`() =
        runTest {
            val viewModel = viewModel()
            viewModel.fill(server = "pocdojo.example.com", tenant = " ", email = "ana", password = "")
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            val errors = viewModel.state.value.fieldErrors
            assertEquals(MessageKey.SERVER_URL_INVALID.message(), errors[SignInField.SERVER])
            assertEquals(MessageKey.REQUIRED.message(), errors[SignInField.TENANT])
            assertEquals(MessageKey.EMAIL_INVALID.message(), errors[SignInField.EMAIL])
            assertEquals(MessageKey.REQUIRED.message(), errors[SignInField.PASSWORD])
            assertTrue(auth.signIns.isEmpty())
        }

    @Test
    fun `editing a field clears its own error only`() =
        runTest {
            val viewModel = viewModel()
            viewModel.fill(tenant = "", email = "")
            viewModel.onEvent(SignInEvent.Submitted)
            viewModel.onEvent(SignInEvent.Edited(SignInField.TENANT, "acme"))
            assertEquals(setOf(SignInField.EMAIL), viewModel.state.value.fieldErrors.keys)
        }

    @Test
    fun `wrong credentials are a form error`() =
        runTest {
            val viewModel = viewModel()
            viewModel.fill(password = "wrong password here")
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(MessageKey.SIGN_IN_REJECTED.message(), state.formError)
            assertNull(state.signedIn)
            assertTrue(state.fieldErrors.isEmpty())
        }

    @Test
    fun `a second submit while the first runs sends nothing`() =
        runTest {
            val viewModel = viewModel()
            auth.hold = CompletableDeferred()
            viewModel.fill()
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            auth.hold?.complete(Unit)
            runCurrent()
            assertEquals(1, auth.signIns.size)
            assertEquals(ana, viewModel.state.value.signedIn)
        }

    @Test
    fun `the login throttle says when to try again`() =
        runTest {
            val viewModel = viewModel()
            auth.failNext(GatewayException.RateLimited("Too many attempts.", retryAfterSeconds = 30))
            viewModel.fill()
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            assertEquals(MessageKey.RATE_LIMITED_SECONDS.message(30L), viewModel.state.value.formError)
        }

    @Test
    fun `an unreachable server is a form error, the offline banner follows the device`() =
        runTest {
            val viewModel = viewModel()
            auth.failNext(GatewayException.Unreachable("connect refused"))
            viewModel.fill()
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            assertEquals(MessageKey.SERVER_UNREACHABLE.message(), viewModel.state.value.formError)
            assertFalse(viewModel.state.value.offline)
            connectivity.online.value = false
            runCurrent()
            assertTrue(viewModel.state.value.offline)
            connectivity.online.value = true
            runCurrent()
            assertFalse(viewModel.state.value.offline)
        }

    @Test
    fun `registering checks the password rules before sending`() =
        runTest {
            val viewModel = viewModel(SignInMode.REGISTER)
            viewModel.fill(password = "short")
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            assertEquals(MessageKey.PASSWORD_TOO_SHORT.message(8), viewModel.state.value.fieldErrors[SignInField.PASSWORD])
            viewModel.onEvent(SignInEvent.Edited(SignInField.PASSWORD, "ANA@acme.com.br"))
            viewModel.onEvent(SignInEvent.Submitted)
            assertEquals(
                MessageKey.PASSWORD_MATCHES_CONTEXT.message(),
                viewModel.state.value.fieldErrors[SignInField.PASSWORD],
            )
            // Full-width characters: the address itself after NFKC normalization, as the server compares.
            viewModel.onEvent(SignInEvent.Edited(SignInField.PASSWORD, "ａｎａ＠ａｃｍｅ．ｃｏｍ．ｂｒ"))
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            assertEquals(
                MessageKey.PASSWORD_MATCHES_CONTEXT.message(),
                viewModel.state.value.fieldErrors[SignInField.PASSWORD],
            )
            assertTrue(auth.registrations.isEmpty())
        }

    @Test
    fun `the server's refusals land on their fields, with our words for the password rules`() =
        runTest {
            val viewModel = viewModel(SignInMode.REGISTER)
            auth.failNext(
                GatewayException.Invalid(
                    listOf(
                        FieldError("password", "common", "Password is one of the most commonly used passwords."),
                        FieldError("email", "invalid_email", "must be an e-mail address"),
                        FieldError("invitation", "too_long", "at most 100 characters"),
                    ),
                    "password: ...",
                ),
            )
            viewModel.fill(password = "iloveyou1234")
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(MessageKey.PASSWORD_COMMON.message(), state.fieldErrors[SignInField.PASSWORD])
            assertEquals(MessageKey.EMAIL_INVALID.message(), state.fieldErrors[SignInField.EMAIL])
            assertEquals(UiMessage.FromServer("at most 100 characters"), state.fieldErrors[SignInField.INVITATION])
            assertNull(state.formError)
            assertEquals(SignInMode.REGISTER, state.mode)
        }

    @Test
    fun `a refusal of a field the form lacks is a form error`() =
        runTest {
            val viewModel = viewModel()
            auth.failNext(GatewayException.Invalid(listOf(FieldError("grant_type", "invalid", "unsupported")), "x"))
            viewModel.fill()
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            assertEquals(UiMessage.FromServer("grant_type: unsupported"), viewModel.state.value.formError)
        }

    @Test
    fun `a sent registration says what happens next and returns to sign-in`() =
        runTest {
            val viewModel = viewModel(SignInMode.REGISTER)
            viewModel.fill(invitation = " inv-123 ")
            viewModel.onEvent(SignInEvent.Submitted)
            runCurrent()
            val state = viewModel.state.value
            assertEquals(MessageKey.REGISTER_ACCEPTED.message(), state.notice)
            assertEquals(SignInMode.SIGN_IN, state.mode)
            assertEquals("inv-123", auth.registrations.single().invitation)
            assertTrue(auth.signIns.isEmpty())
        }

    @Test
    fun `the password never appears in logs`() {
        val state = SignInState(password = "correct horse battery")
        assertFalse("correct horse" in state.toString())
    }
}
