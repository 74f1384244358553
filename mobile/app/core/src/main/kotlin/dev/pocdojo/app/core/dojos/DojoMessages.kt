package dev.pocdojo.app.core.dojos

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import dev.pocdojo.app.core.text.toUiMessage

/** A dojo call's failure; waiting in the host's lobby has a message of its own. */
internal fun GatewayException.toDojoMessage(): UiMessage =
    if (this is GatewayException.Forbidden && reason == LOBBY) MessageKey.DOJO_LOBBY.message() else toUiMessage()

/** The problem slug of `403` when the dojo's lobby is on and the host has not admitted the caller yet. */
private const val LOBBY = "dojo-lobby"
