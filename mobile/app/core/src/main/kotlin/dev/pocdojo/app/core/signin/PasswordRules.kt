package dev.pocdojo.app.core.signin

import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import java.text.Normalizer

/**
 * The backend's password policy (identity/passwords.py), checked before a registration is sent so
 * that the person sees the rule at once: length in code points after NFKC normalization, and not the
 * e-mail address, its user name or the organization. The common-password list stays on the server; its
 * refusal comes back as a field error with code `common`.
 */
data class PasswordRules(val minLength: Int = 8, val maxLength: Int = 128) {
    /** The first rule [password] breaks, or null. */
    fun check(password: String, email: String, tenant: String): UiMessage? {
        val normalized = normalize(password)
        val length = normalized.codePointCount(0, normalized.length)
        val folded = normalized.lowercase()
        return when {
            length < minLength -> MessageKey.PASSWORD_TOO_SHORT.message(minLength)
            length > maxLength -> MessageKey.PASSWORD_TOO_LONG.message(maxLength)
            folded in contextWords(email, tenant) -> MessageKey.PASSWORD_MATCHES_CONTEXT.message()
            else -> null
        }
    }

    /** The message for the server's refusal [code] of the password field, or null for a code it doesn't know. */
    fun messageFor(code: String): UiMessage? =
        when (code) {
            "too_short" -> MessageKey.PASSWORD_TOO_SHORT.message(minLength)
            "too_long" -> MessageKey.PASSWORD_TOO_LONG.message(maxLength)
            "common" -> MessageKey.PASSWORD_COMMON.message()
            "matches_context" -> MessageKey.PASSWORD_MATCHES_CONTEXT.message()
            else -> null
        }

    private fun contextWords(email: String, tenant: String): Set<String> =
        buildSet {
            for (item in listOf(email, tenant)) {
                val word = normalize(item).trim().lowercase()
                if (word.isEmpty()) continue
                add(word)
                val at = word.lastIndexOf('@')
                if (at > 0) add(word.substring(0, at))
            }
        }

    private fun normalize(text: String): String = Normalizer.normalize(text, Normalizer.Form.NFKC)
}
