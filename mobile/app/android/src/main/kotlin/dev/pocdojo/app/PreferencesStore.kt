package dev.pocdojo.app

import android.content.SharedPreferences
import dev.pocdojo.app.core.sdk.KeyValueStore

/**
 * [KeyValueStore] on the app's private SharedPreferences (`MODE_PRIVATE`: no other app reads them; backup
 * is off in the manifest, so the tokens do not leave the device). `commit`: the SDK saves a rotated
 * refresh token before it uses it, and a lost write would sign the person out on the next start.
 */
class PreferencesStore(private val preferences: SharedPreferences) : KeyValueStore {
    override fun get(key: String): String? = preferences.getString(key, null)

    override fun put(entries: Map<String, String?>) {
        val editor = preferences.edit()
        for ((key, value) in entries) if (value == null) editor.remove(key) else editor.putString(key, value)
        editor.commit()
    }
}
