package dev.pocdojo.app.screens

import android.app.Activity
import android.graphics.Bitmap
import android.graphics.Canvas
import android.os.Looper
import android.widget.Button
import android.widget.EditText
import android.widget.LinearLayout
import android.widget.RadioButton
import android.widget.TextView
import dev.pocdojo.app.R
import dev.pocdojo.app.dojos.DojoRoomActivity
import dev.pocdojo.app.poclist.PocListActivity
import dev.pocdojo.app.signin.SignInActivity
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.annotation.GraphicsMode
import java.io.File
import java.time.Duration

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
        val activity = Robolectric.buildActivity(DojoRoomActivity::class.java, DojoRoomActivity.intent(app, Catalogue.room)).setup().get()
        settle()
        save(activity, "dojo-room")
    }

    private fun <T : Activity> launch(type: Class<T>): T {
        val activity = Robolectric.buildActivity(type).setup().get()
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

    private fun save(activity: Activity, screen: String) {
        settle()
        val root = activity.window.decorView
        root.jumpDrawablesToCurrentState() // end state transitions (a radio button's check animation)
        val bitmap = Bitmap.createBitmap(root.width, root.height, Bitmap.Config.ARGB_8888)
        root.draw(Canvas(bitmap))
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
