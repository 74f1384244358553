package dev.pocdojo.app.core.text

import dev.pocdojo.app.core.gateway.GatewayException

/** The message a failed call shows when no field takes it. */
internal fun GatewayException.toUiMessage(): UiMessage =
    when (this) {
        is GatewayException.Invalid -> UiMessage.FromServer(fieldErrors.firstOrNull()?.message ?: messageOrEmpty())
        is GatewayException.Rejected -> MessageKey.SIGN_IN_REJECTED.message()
        is GatewayException.SignedOut -> MessageKey.SESSION_ENDED.message()
        is GatewayException.Forbidden -> MessageKey.FORBIDDEN.message()
        is GatewayException.NotFound -> MessageKey.NOT_FOUND.message()
        is GatewayException.Conflict -> UiMessage.FromServer(messageOrEmpty())
        is GatewayException.RateLimited ->
            retryAfterSeconds?.let { MessageKey.RATE_LIMITED_SECONDS.message(it) } ?: MessageKey.RATE_LIMITED.message()
        is GatewayException.Unreachable -> MessageKey.SERVER_UNREACHABLE.message()
        is GatewayException.ServerFailure -> MessageKey.SERVER_FAILURE.message(status)
    }

private fun GatewayException.messageOrEmpty(): String = message.orEmpty()
