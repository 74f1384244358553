package dev.pocdojo.app.core.poceditor

import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.text.UiMessage

/** The editor's fields; a field error is shown on its field. */
enum class PocField { NAME, GITHUB_URL, LANGUAGE, TAGS, DESCRIPTION }

data class PocEditorState(
    /** The POC being edited, null when creating one. */
    val original: Poc? = null,
    val name: String = "",
    val githubUrl: String = "",
    val language: String = "",
    /** Tags as typed, separated by commas. */
    val tags: String = "",
    val description: String = "",
    /** Editing: the POC is loading. */
    val loading: Boolean = false,
    val saving: Boolean = false,
    val fieldErrors: Map<PocField, UiMessage> = emptyMap(),
    val formError: UiMessage? = null,
    /** The tenant already has a POC for this repository: its id, to open it instead. */
    val existingPocId: String? = null,
    val offline: Boolean = false,
    val signedOut: Boolean = false,
    /** Set once stored (as the server normalized it): the screen closes. */
    val saved: Poc? = null,
) {
    /** The tags as the server will receive them: split at commas, trimmed, empty ones dropped. */
    val tagList: List<String> get() = tags.split(',').map { it.trim() }.filter { it.isNotEmpty() }
}

sealed interface PocEditorEvent {
    data class Edited(val field: PocField, val value: String) : PocEditorEvent

    data object Saved : PocEditorEvent

    /** Loading the POC to edit failed: try again. */
    data object Retry : PocEditorEvent
}
