package dev.pocdojo.app

import android.app.Activity
import android.content.Intent
import dev.pocdojo.app.signin.SignInActivity

/** Extras the screens pass each other. */
object Extras {
    const val POC_ID = "dev.pocdojo.app.POC_ID"
    const val POC_NAME = "dev.pocdojo.app.POC_NAME"

    /** The POC list's search, for the Reports screen. */
    const val QUERY_TEXT = "dev.pocdojo.app.QUERY_TEXT"
    const val QUERY_LANGUAGE = "dev.pocdojo.app.QUERY_LANGUAGE"
    const val QUERY_TAGS = "dev.pocdojo.app.QUERY_TAGS"
}

/** The session ended: back to sign-in, closing this screen and the ones below it. */
fun Activity.toSignIn() {
    startActivity(Intent(this, SignInActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK or Intent.FLAG_ACTIVITY_CLEAR_TASK))
    finish()
}
