package dev.pocdojo.app.core.sdk

/** The device's small persistent storage (SharedPreferences on Android): strings by key. */
interface KeyValueStore {
    fun get(key: String): String?

    /** Writes every entry at once; a null value removes the key. */
    fun put(entries: Map<String, String?>)
}
