package dev.pocdojo.app

import android.content.Context
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage

/** The text of a view-model's message in the device's language. */
fun Context.text(message: UiMessage): String =
    when (message) {
        is UiMessage.Key -> getString(message.key.resource(), *message.args.toTypedArray())
        is UiMessage.FromServer -> message.text
    }

private fun MessageKey.resource(): Int =
    when (this) {
        MessageKey.REQUIRED -> R.string.msg_required
        MessageKey.SERVER_URL_INVALID -> R.string.msg_server_url_invalid
        MessageKey.EMAIL_INVALID -> R.string.msg_email_invalid
        MessageKey.PASSWORD_TOO_SHORT -> R.string.msg_password_too_short
        MessageKey.PASSWORD_TOO_LONG -> R.string.msg_password_too_long
        MessageKey.PASSWORD_COMMON -> R.string.msg_password_common
        MessageKey.PASSWORD_MATCHES_CONTEXT -> R.string.msg_password_matches_context
        MessageKey.SIGN_IN_REJECTED -> R.string.msg_sign_in_rejected
        MessageKey.REGISTER_ACCEPTED -> R.string.msg_register_accepted
        MessageKey.RATE_LIMITED -> R.string.msg_rate_limited
        MessageKey.RATE_LIMITED_SECONDS -> R.string.msg_rate_limited_seconds
        MessageKey.SERVER_UNREACHABLE -> R.string.msg_server_unreachable
        MessageKey.SERVER_FAILURE -> R.string.msg_server_failure
        MessageKey.FORBIDDEN -> R.string.msg_forbidden
        MessageKey.NOT_FOUND -> R.string.msg_not_found
        MessageKey.SESSION_ENDED -> R.string.msg_session_ended
        MessageKey.SIGN_OUT_NOT_CONFIRMED -> R.string.msg_sign_out_not_confirmed
        MessageKey.TOO_LONG -> R.string.msg_too_long
        MessageKey.TAG_TOO_LONG -> R.string.msg_tag_too_long
        MessageKey.GITHUB_ONLY -> R.string.msg_github_only
        MessageKey.POC_EXISTS -> R.string.msg_poc_exists
        MessageKey.DOJO_LOBBY -> R.string.msg_dojo_lobby
        MessageKey.REPORT_FAILED -> R.string.msg_report_failed
        MessageKey.REPORT_CANCELLED -> R.string.msg_report_cancelled
        MessageKey.REPORT_NOT_SAVED -> R.string.msg_report_not_saved
        MessageKey.VIDEO_FAILED -> R.string.msg_video_failed
        MessageKey.VIDEO_CANCELLED -> R.string.msg_video_cancelled
        MessageKey.REPLAY_HISTORY_OFF -> R.string.msg_replay_history_off
        MessageKey.REPLAY_NO_AUTHOR -> R.string.msg_replay_no_author
        MessageKey.REPLAY_FILE_ABSENT -> R.string.msg_replay_file_absent
    }
