package dev.pocdojo.app.screens

import android.app.Activity
import android.app.Dialog
import android.content.Intent
import android.graphics.Color
import android.graphics.Bitmap
import android.graphics.Canvas
import android.os.Looper
import android.widget.Button
import android.widget.EditText
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.ListView
import android.widget.RadioButton
import android.widget.SeekBar
import android.widget.TextView
import dev.pocdojo.app.Extras
import dev.pocdojo.app.R
import dev.pocdojo.app.core.gateway.FieldError
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.PocQuery
import dev.pocdojo.app.dojos.DojoCreateActivity
import dev.pocdojo.app.dojos.DojoListActivity
import dev.pocdojo.app.dojos.DojoRoomActivity
import dev.pocdojo.app.pocdetail.PocDetailActivity
import dev.pocdojo.app.poceditor.PocEditorActivity
import dev.pocdojo.app.poclist.PocListActivity
import dev.pocdojo.app.myyear.MyYearActivity
import dev.pocdojo.app.replay.ReplayActivity
import dev.pocdojo.app.reports.ReportsActivity
import dev.pocdojo.app.signin.SignInActivity
import dev.pocdojo.sdk.realtime.CloseCodes
import dev.pocdojo.sdk.realtime.ConnectionState
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode
import org.robolectric.shadows.ShadowAlertDialog
import java.io.File
import java.time.Duration
import kotlin.time.Duration.Companion.seconds

/**
 * Draws every screen of the app into `docs/screens/<screen>-<language>.png` (`make screens`): the real
 * Activities, layouts and strings, fed the in-memory gateways, drawn by Robolectric's native graphics.
 * Each screen in English and in Brazilian Portuguese, on a 360 x 640 dp phone at 1.5 pixels per dp (540 x 960).
 */
@RunWith(RobolectricTestRunner::class)
@GraphicsMode(GraphicsMode.Mode.NATIVE)
@Config(sdk = [34], application = ScreensApp::class, qualifiers = "w360dp-h640dp-hdpi")
abstract class RenderScreens(private val language: String) {
    private val app: ScreensApp get() = RuntimeEnvironment.getApplication() as ScreensApp

    @Test
    fun signInWithFieldErrors() {
        val activity = launch(SignInActivity::class.java)
        activity.type(R.id.server, "dojo.acme.com.br")
        activity.type(R.id.email, "ana.souza")
        activity.findViewById<Button>(R.id.submit).performClick()
        save(activity, "sign-in")
    }

    @Test
    fun signInRefused() {
        val activity = launch(SignInActivity::class.java)
        activity.type(R.id.server, "https://dojo.acme.com.br")
        activity.type(R.id.tenant, "acme")
        activity.type(R.id.email, "ana.souza@acme.com.br")
        activity.type(R.id.password, "not her password")
        activity.findViewById<Button>(R.id.submit).performClick()
        save(activity, "sign-in-refused")
    }

    @Test
    fun register() {
        val activity = launch(SignInActivity::class.java)
        activity.findViewById<RadioButton>(R.id.mode_register).performClick()
        check(activity.findViewById<RadioButton>(R.id.mode_register).isChecked) { "register mode not chosen" }
        activity.type(R.id.server, "https://dojo.acme.com.br")
        activity.type(R.id.tenant, "acme")
        activity.type(R.id.email, "ana.souza@acme.com.br")
        activity.type(R.id.password, "ana.souza")
        activity.type(R.id.invitation, "K7Q2-PX9M")
        activity.findViewById<Button>(R.id.submit).performClick()
        save(activity, "register")
    }

    @Test
    fun pocList() {
        val activity = launch(PocListActivity::class.java)
        save(activity, "poc-list")
    }

    @Test
    fun pocListSearching() {
        val activity = launch(PocListActivity::class.java)
        activity.type(R.id.search, "payments")
        activity.chip(R.id.language_chips, "Go").performClick()
        settle()
        save(activity, "poc-list-search")
    }

    @Test
    fun pocListNothingFound() {
        val activity = launch(PocListActivity::class.java)
        activity.type(R.id.search, "blockchain")
        save(activity, "poc-list-empty")
    }

    @Test
    fun pocListOffline() {
        app.goOffline()
        val activity = launch(PocListActivity::class.java)
        save(activity, "poc-list-offline")
    }

    @Test
    fun dojoRoom() {
        val activity = launch(DojoRoomActivity::class.java, DojoRoomActivity.intent(app, Catalogue.room))
        save(activity, "dojo-room")
    }

    @Test
    fun pocDetailAndDeleteConfirmation() {
        app.pocs.catalogue += Catalogue.pixBoleto
        val activity = launch(PocDetailActivity::class.java, Intent(app, PocDetailActivity::class.java).putExtra(Extras.POC_ID, Catalogue.pixBoleto.id))
        save(activity, "poc-detail")
        activity.findViewById<Button>(R.id.delete).performClick()
        settle()
        save(activity, "poc-detail-delete", dialog = ShadowAlertDialog.getLatestAlertDialog() ?: error("no confirmation dialog"))
    }

    @Test
    fun pocEditorNewRefusedByTheServer() {
        val activity = launch(PocEditorActivity::class.java)
        activity.type(R.id.name, "Cobrança recorrente com Pix Automático")
        activity.type(R.id.github_url, "https://gitlab.com/acme/pix-automatico")
        activity.type(R.id.language, "Kotlin")
        activity.type(R.id.tags, "pix, pagamentos-recorrentes-com-debito-automatico-autorizado")
        app.pocs.writeFailures +=
            GatewayException.Invalid(
                listOf(
                    FieldError("github_url", "unsupported_host", "only GitHub repository URLs are supported ('gitlab.com' is not github.com): use https://github.com/{owner}/{repo}"),
                    FieldError("tags.1", "too_long", "a tag must be at most 40 characters (got 57)"),
                ),
                "2 fields are invalid",
            )
        activity.findViewById<Button>(R.id.save).performClick()
        save(activity, "poc-editor-new")
    }

    @Test
    fun pocEditorNameTooLong() {
        val activity = launch(PocEditorActivity::class.java)
        activity.type(R.id.name, "Cobrança " + "muito ".repeat(40) + "longa")
        activity.type(R.id.github_url, "https://github.com/acme/cobranca")
        activity.findViewById<Button>(R.id.save).performClick()
        save(activity, "poc-editor-checks")
    }

    @Test
    fun pocEditorEdit() {
        app.pocs.catalogue += Catalogue.pixBoleto
        val activity = launch(PocEditorActivity::class.java, Intent(app, PocEditorActivity::class.java).putExtra(Extras.POC_ID, Catalogue.pixBoleto.id))
        save(activity, "poc-editor-edit")
    }

    @Test
    fun dojoListWithOneInItsLobby() {
        val activity = launch(DojoListActivity::class.java)
        save(activity, "dojo-list")
        app.dojos.joinFailures += GatewayException.Forbidden("waiting in the lobby", "dojo-lobby")
        val list = activity.findViewById<ListView>(R.id.list)
        list.performItemClick(list.getChildAt(1), 1, list.getItemIdAtPosition(1))
        save(activity, "dojo-list-lobby")
    }

    @Test
    fun dojoCreateWithoutTitle() {
        val activity = launch(DojoCreateActivity::class.java)
        activity.findViewById<Button>(R.id.create).performClick()
        save(activity, "dojo-create")
    }

    @Test
    fun dojoRoomObserverOffline() {
        app.rooms = Catalogue.rooms(me = "davi", randori = false)
        val activity = launch(DojoRoomActivity::class.java, DojoRoomActivity.intent(app, Catalogue.room))
        app.rooms.links.single().connection.value = ConnectionState.Offline("network lost", 4.seconds)
        save(activity, "dojo-room-observer-offline")
    }

    @Test
    fun dojoRoomKicked() {
        app.rooms = Catalogue.rooms(me = "bruno", randori = false)
        val activity = launch(DojoRoomActivity::class.java, DojoRoomActivity.intent(app, Catalogue.room))
        app.rooms.links.single().connection.value = ConnectionState.Stopped(CloseCodes.FORBIDDEN, "removed by the host")
        save(activity, "dojo-room-kicked")
    }

    @Test
    fun reports() {
        val query = PocQuery("pix", "Go", setOf("payments"))
        val activity = launch(ReportsActivity::class.java, ReportsActivity.intent(app, query))
        save(activity, "reports")
    }

    @Test
    fun myYearRunning() {
        app.videos.videos += Catalogue.videoRunning
        val activity = launch(MyYearActivity::class.java)
        save(activity, "my-year-running")
    }

    @Test
    fun myYearDone() {
        app.videos.videos += Catalogue.videoDone
        val activity = launch(MyYearActivity::class.java)
        check(activity.findViewById<ImageView>(R.id.thumbnail).drawable != null) { "no thumbnail shown" }
        save(activity, "my-year-done")
    }

    @Test
    fun replayMidSession() {
        app.videos.videos += ReplayCatalogue.videoRunning
        val activity = launch(ReplayActivity::class.java, ReplayActivity.intent(app, ReplayCatalogue.DOJO))
        val scrubber = activity.findViewById<SeekBar>(R.id.scrubber)
        val listener = shadowOf(scrubber).onSeekBarChangeListener ?: error("the scrubber has no listener")
        listener.onProgressChanged(scrubber, (11 * 60_000 + 20_000) / 100, true) // 11:20: Bruno drives
        settle()
        val code = activity.findViewById<EditText>(R.id.code)
        code.setSelection(code.text.indexOf("% 3")) // on Bruno's line
        save(activity, "replay-mid")
    }

    @Test
    fun replayAtTheEnd() {
        app.videos.videos += ReplayCatalogue.videoDone
        val activity = launch(ReplayActivity::class.java, ReplayActivity.intent(app, ReplayCatalogue.DOJO))
        check(activity.findViewById<ImageView>(R.id.thumbnail).drawable != null) { "no thumbnail shown" }
        val code = activity.findViewById<EditText>(R.id.code)
        code.setSelection(code.text.indexOf("Buzz\"\n    return") + 1)
        save(activity, "replay-end")
    }

    private fun <T : Activity> launch(type: Class<T>, intent: Intent? = null): T {
        val activity = (if (intent == null) Robolectric.buildActivity(type) else Robolectric.buildActivity(type, intent)).setup().get()
        settle()
        return activity
    }

    private fun Activity.type(field: Int, text: String) {
        findViewById<EditText>(field).setText(text)
        settle()
    }

    private fun Activity.chip(row: Int, value: String): TextView {
        val chips = findViewById<LinearLayout>(row)
        return (0 until chips.childCount).map { chips.getChildAt(it) as TextView }
            .firstOrNull { it.text.startsWith(value) } ?: error("no chip $value")
    }

    /** Runs what the main thread has queued, the search's debounce included. */
    private fun settle() = shadowOf(Looper.getMainLooper()).idleFor(Duration.ofSeconds(1))

    /** Draws the activity, and [dialog] over it (dimmed behind, centred) as the phone shows a dialog. */
    private fun save(activity: Activity, screen: String, dialog: Dialog? = null) {
        settle()
        val root = activity.window.decorView
        root.jumpDrawablesToCurrentState() // end state transitions (a radio button's check animation)
        val bitmap = Bitmap.createBitmap(root.width, root.height, Bitmap.Config.ARGB_8888)
        val canvas = Canvas(bitmap)
        root.draw(canvas)
        if (dialog != null) {
            val window = dialog.window ?: error("the dialog has no window")
            val frame = window.decorView
            frame.jumpDrawablesToCurrentState()
            canvas.drawColor(Color.argb((window.attributes.dimAmount * 255).toInt(), 0, 0, 0))
            canvas.save()
            canvas.translate((root.width - frame.width) / 2f, (root.height - frame.height) / 2f)
            frame.draw(canvas)
            canvas.restore()
        }
        val directory = File(System.getProperty("pocdojo.screens.dir") ?: error("pocdojo.screens.dir is not set"))
        directory.mkdirs()
        File(directory, "$screen-$language.png").outputStream().use {
            check(bitmap.compress(Bitmap.CompressFormat.PNG, 100, it)) { "could not encode $screen-$language.png" }
        }
    }
}

class EnglishScreens : RenderScreens("en")

@Config(qualifiers = "pt-rBR-w360dp-h640dp-hdpi")
class PortugueseScreens : RenderScreens("pt-rBR")
