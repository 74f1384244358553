package dev.pocdojo.app.core.text

/**
 * A text the screen shows. View-models never hold English or Portuguese sentences of their own: they
 * name a [MessageKey] (the Activity maps each to a string resource, so every text exists in `values/`
 * and `values-pt-rBR/`) or carry a sentence the server wrote, shown as it came when no key fits.
 */
sealed interface UiMessage {
    data class Key(val key: MessageKey, val args: List<Any> = emptyList()) : UiMessage

    data class FromServer(val text: String) : UiMessage
}

fun MessageKey.message(vararg args: Any): UiMessage = UiMessage.Key(this, args.toList())

/** Every message a view-model can produce. */
enum class MessageKey {
    REQUIRED,
    SERVER_URL_INVALID,
    EMAIL_INVALID,
    PASSWORD_TOO_SHORT,
    PASSWORD_TOO_LONG,
    PASSWORD_COMMON,
    PASSWORD_MATCHES_CONTEXT,
    SIGN_IN_REJECTED,
    REGISTER_ACCEPTED,
    RATE_LIMITED,
    RATE_LIMITED_SECONDS,
    SERVER_UNREACHABLE,
    SERVER_FAILURE,
    FORBIDDEN,
    NOT_FOUND,
    SESSION_ENDED,
    SIGN_OUT_NOT_CONFIRMED,
    TOO_LONG,
    TAG_TOO_LONG,
    GITHUB_ONLY,
    POC_EXISTS,
    DOJO_LOBBY,
    REPORT_FAILED,
    REPORT_CANCELLED,
    REPORT_NOT_SAVED,
    VIDEO_FAILED,
    VIDEO_CANCELLED,
    REPLAY_HISTORY_OFF,
    REPLAY_NO_AUTHOR,
    REPLAY_FILE_ABSENT,
}
