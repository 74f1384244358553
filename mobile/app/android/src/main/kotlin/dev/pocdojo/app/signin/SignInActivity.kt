package dev.pocdojo.app.signin

import android.app.Activity
import android.content.Intent
import android.os.Bundle
import android.view.View
import android.widget.Button
import android.widget.EditText
import android.widget.ProgressBar
import android.widget.RadioGroup
import android.widget.TextView
import dev.pocdojo.app.R
import dev.pocdojo.app.Retained
import dev.pocdojo.app.core.signin.SignInEvent
import dev.pocdojo.app.core.signin.SignInField
import dev.pocdojo.app.core.signin.SignInMode
import dev.pocdojo.app.core.signin.SignInState
import dev.pocdojo.app.core.signin.SignInViewModel
import dev.pocdojo.app.graph
import dev.pocdojo.app.onEdited
import dev.pocdojo.app.poclist.PocListActivity
import dev.pocdojo.app.retained
import dev.pocdojo.app.setTextQuietly
import dev.pocdojo.app.show
import dev.pocdojo.app.text
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch

/** Binds the sign-in form to [SignInViewModel]; remembers the server, organization and e-mail. */
class SignInActivity : Activity() {
    private lateinit var screen: Retained<SignInViewModel>
    private lateinit var views: CoroutineScope
    private lateinit var fields: Map<SignInField, Pair<EditText, TextView>>

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        if (savedInstanceState == null && graph.gateways.signedIn) {
            // The session kept on the device is still good: straight to the list.
            startActivity(Intent(this, PocListActivity::class.java))
            finish()
            return
        }
        setContentView(R.layout.activity_sign_in)
        screen = retained { scope -> SignInViewModel(graph.gateways.auth, graph.connectivity, scope, remembered()) }
        val viewModel = screen.viewModel
        fields =
            mapOf(
                SignInField.SERVER to field(R.id.server, R.id.server_error),
                SignInField.TENANT to field(R.id.tenant, R.id.tenant_error),
                SignInField.EMAIL to field(R.id.email, R.id.email_error),
                SignInField.PASSWORD to field(R.id.password, R.id.password_error),
                SignInField.INVITATION to field(R.id.invitation, R.id.invitation_error),
            )
        for ((field, views) in fields) views.first.onEdited { viewModel.onEvent(SignInEvent.Edited(field, it)) }
        findViewById<RadioGroup>(R.id.mode).setOnCheckedChangeListener { _, checked ->
            val mode = if (checked == R.id.mode_register) SignInMode.REGISTER else SignInMode.SIGN_IN
            viewModel.onEvent(SignInEvent.ModeChosen(mode))
        }
        findViewById<Button>(R.id.submit).setOnClickListener { viewModel.onEvent(SignInEvent.Submitted) }
        views = CoroutineScope(SupervisorJob() + graph.main)
        views.launch { viewModel.state.collect(::render) }
    }

    private fun field(input: Int, error: Int): Pair<EditText, TextView> =
        findViewById<EditText>(input) to findViewById<TextView>(error)

    private fun render(state: SignInState) {
        val register = state.mode == SignInMode.REGISTER
        findViewById<TextView>(R.id.offline_banner).visibility = if (state.offline) View.VISIBLE else View.GONE
        findViewById<TextView>(R.id.title).setText(if (register) R.string.register_title else R.string.sign_in_title)
        findViewById<RadioGroup>(R.id.mode).check(if (register) R.id.mode_register else R.id.mode_sign_in)
        val values =
            mapOf(
                SignInField.SERVER to state.server,
                SignInField.TENANT to state.tenant,
                SignInField.EMAIL to state.email,
                SignInField.PASSWORD to state.password,
                SignInField.INVITATION to state.invitation,
            )
        for ((field, views) in fields) {
            views.first.setTextQuietly(values.getValue(field))
            views.first.isEnabled = !state.submitting
            views.second.show(state.fieldErrors[field]?.let(::text))
        }
        val invitationVisibility = if (register) View.VISIBLE else View.GONE
        findViewById<EditText>(R.id.invitation).visibility = invitationVisibility
        findViewById<TextView>(R.id.password_rules).visibility = invitationVisibility
        findViewById<TextView>(R.id.form_error).show(state.formError?.let(::text))
        findViewById<TextView>(R.id.notice).show(state.notice?.let(::text))
        findViewById<Button>(R.id.submit).apply {
            setText(if (register) R.string.action_register else R.string.action_sign_in)
            isEnabled = !state.submitting
        }
        findViewById<ProgressBar>(R.id.progress).visibility = if (state.submitting) View.VISIBLE else View.GONE
        state.signedIn?.let {
            remember(state)
            startActivity(Intent(this, PocListActivity::class.java))
            finish()
            views.cancel() // navigate once: later states of this screen are not drawn
        }
    }

    private fun remembered(): SignInState {
        val preferences = getPreferences(MODE_PRIVATE)
        return SignInState(
            server = preferences.getString(SERVER, null).orEmpty(),
            tenant = preferences.getString(TENANT, null).orEmpty(),
            email = preferences.getString(EMAIL, null).orEmpty(),
        )
    }

    private fun remember(state: SignInState) {
        getPreferences(MODE_PRIVATE).edit()
            .putString(SERVER, state.server.trim())
            .putString(TENANT, state.tenant.trim())
            .putString(EMAIL, state.email.trim())
            .apply()
    }

    override fun onRetainNonConfigurationInstance(): Any = screen

    override fun onDestroy() {
        if (::views.isInitialized) views.cancel() // not when onCreate went straight on to the list
        if (::screen.isInitialized && !isChangingConfigurations) screen.close()
        super.onDestroy()
    }

    private companion object {
        const val SERVER = "server"
        const val TENANT = "tenant"
        const val EMAIL = "email"
    }
}
