package dev.pocdojo.app.core.poceditor

import dev.pocdojo.app.core.gateway.Connectivity
import dev.pocdojo.app.core.gateway.FieldError
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.app.core.gateway.Poc
import dev.pocdojo.app.core.gateway.PocChanges
import dev.pocdojo.app.core.gateway.PocDraft
import dev.pocdojo.app.core.gateway.PocGateway
import dev.pocdojo.app.core.text.MessageKey
import dev.pocdojo.app.core.text.UiMessage
import dev.pocdojo.app.core.text.message
import dev.pocdojo.app.core.text.toUiMessage
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import java.text.Normalizer

/**
 * Create a POC ([pocId] null) or edit one. Required fields and lengths are checked before sending; the
 * server's refusals (a URL that is not a GitHub repository, an unknown language...) go on their fields;
 * editing sends only the fields that changed.
 */
class PocEditorViewModel(
    private val pocs: PocGateway,
    connectivity: Connectivity,
    private val scope: CoroutineScope,
    private val pocId: String? = null,
) {
    private val mutableState = MutableStateFlow(PocEditorState(loading = pocId != null))
    val state: StateFlow<PocEditorState> = mutableState.asStateFlow()

    init {
        scope.launch { connectivity.online.collect { online -> mutableState.update { it.copy(offline = !online) } } }
        load()
    }

    fun onEvent(event: PocEditorEvent) {
        when (event) {
            is PocEditorEvent.Edited ->
                mutableState.update { edited(it, event.field, event.value).copy(fieldErrors = it.fieldErrors - event.field) }
            PocEditorEvent.Saved -> save()
            PocEditorEvent.Retry -> if (mutableState.value.original == null) load()
        }
    }

    private fun load() {
        val id = pocId ?: return
        mutableState.update { it.copy(loading = true, formError = null) }
        scope.launch {
            try {
                val poc = pocs.get(id)
                mutableState.update {
                    it.copy(
                        original = poc,
                        name = poc.name,
                        githubUrl = poc.githubUrl,
                        language = poc.language,
                        tags = poc.tags.joinToString(", "),
                        description = poc.description,
                        loading = false,
                    )
                }
            } catch (failure: GatewayException) {
                mutableState.update { failed(it.copy(loading = false), failure) }
            }
        }
    }

    private fun save() {
        val current = mutableState.value
        if (current.saving || current.loading || (pocId != null && current.original == null)) return
        val errors = validate(current)
        if (errors.isNotEmpty()) {
            mutableState.update { it.copy(fieldErrors = errors, formError = null) }
            return
        }
        val original = current.original
        val changes = original?.let { changes(it, current) }
        if (original != null && changes != null && changes.isEmpty) {
            mutableState.update { it.copy(saved = original) }
            return
        }
        mutableState.update { it.copy(saving = true, fieldErrors = emptyMap(), formError = null, existingPocId = null) }
        scope.launch {
            try {
                val stored =
                    if (original == null || changes == null) {
                        pocs.create(
                            PocDraft(
                                current.name.trim(),
                                current.githubUrl.trim(),
                                current.language.trim(),
                                current.tagList,
                                current.description.trim(),
                            ),
                        )
                    } else {
                        pocs.update(original.id, changes)
                    }
                mutableState.update { it.copy(saving = false, saved = stored) }
            } catch (failure: GatewayException) {
                mutableState.update { failed(it.copy(saving = false), failure) }
            }
        }
    }

    private fun changes(original: Poc, edited: PocEditorState): PocChanges =
        PocChanges(
            name = edited.name.trim().takeIf { it != original.name },
            githubUrl = edited.githubUrl.trim().takeIf { it != original.githubUrl },
            language = edited.language.trim().takeIf { it != original.language },
            tags = edited.tagList.takeIf { it != original.tags },
            description = edited.description.trim().takeIf { it != original.description },
        )

    private fun validate(state: PocEditorState): Map<PocField, UiMessage> =
        buildMap {
            fun required(field: PocField, value: String) {
                if (value.isBlank()) put(field, MessageKey.REQUIRED.message())
            }
            required(PocField.NAME, state.name)
            required(PocField.GITHUB_URL, state.githubUrl)
            required(PocField.LANGUAGE, state.language)
            if (serverLength(state.name.trim().split(WHITESPACE).joinToString(" ")) > NAME_MAX) {
                put(PocField.NAME, MessageKey.TOO_LONG.message(NAME_MAX))
            }
            if (serverLength(state.description.trim()) > DESCRIPTION_MAX) {
                put(PocField.DESCRIPTION, MessageKey.TOO_LONG.message(DESCRIPTION_MAX))
            }
        }

    private fun failed(state: PocEditorState, failure: GatewayException): PocEditorState =
        when (failure) {
            is GatewayException.Invalid -> {
                val onFields = LinkedHashMap<PocField, UiMessage>()
                val elsewhere = mutableListOf<FieldError>()
                for (error in failure.fieldErrors) {
                    val field = fieldOf(error.field)
                    when {
                        field == null -> elsewhere += error
                        field !in onFields -> onFields[field] = inOurWords(field, error)
                    }
                }
                state.copy(
                    fieldErrors = onFields,
                    formError =
                        elsewhere.firstOrNull()?.let { UiMessage.FromServer("${it.field}: ${it.message}") }
                            ?: if (onFields.isEmpty()) failure.toUiMessage() else null,
                )
            }
            is GatewayException.Conflict ->
                state.copy(
                    fieldErrors = mapOf(PocField.GITHUB_URL to MessageKey.POC_EXISTS.message()),
                    existingPocId = failure.existingPocId,
                )
            else ->
                state.copy(formError = failure.toUiMessage(), signedOut = failure is GatewayException.SignedOut)
        }

    /**
     * A refusal whose code has a fixed meaning in our words (so in the screen's language); the others
     * (an unknown language with the server's suggestions, a malformed URL and why) as the server wrote them.
     */
    private fun inOurWords(field: PocField, error: FieldError): UiMessage =
        when {
            error.code == "blank" -> MessageKey.REQUIRED.message()
            error.code == "unsupported_host" -> MessageKey.GITHUB_ONLY.message()
            error.code == "too_long" && field == PocField.NAME -> MessageKey.TOO_LONG.message(NAME_MAX)
            error.code == "too_long" && field == PocField.DESCRIPTION -> MessageKey.TOO_LONG.message(DESCRIPTION_MAX)
            error.code == "too_long" && error.field.startsWith("tags.") -> MessageKey.TAG_TOO_LONG.message(TAG_MAX)
            else -> UiMessage.FromServer(error.message)
        }

    private fun edited(state: PocEditorState, field: PocField, value: String): PocEditorState =
        when (field) {
            PocField.NAME -> state.copy(name = value)
            PocField.GITHUB_URL -> state.copy(githubUrl = value)
            PocField.LANGUAGE -> state.copy(language = value)
            PocField.TAGS -> state.copy(tags = value)
            PocField.DESCRIPTION -> state.copy(description = value)
        }

    private companion object {
        /** poc_api/validation.py's limits. */
        const val NAME_MAX = 200
        const val DESCRIPTION_MAX = 4000
        const val TAG_MAX = 40
        private val WHITESPACE = Regex("\\s+")

        /** A length as poc_api/validation.py counts it: code points after NFC (an emoji is one, not two). */
        fun serverLength(text: String): Int {
            val normalized = Normalizer.normalize(text, Normalizer.Form.NFC)
            return normalized.codePointCount(0, normalized.length)
        }

        /** The backend's field names; `tags.3` is one of the tags. */
        fun fieldOf(name: String): PocField? =
            when (name.substringBefore('.')) {
                "name" -> PocField.NAME
                "github_url" -> PocField.GITHUB_URL
                "language" -> PocField.LANGUAGE
                "tags" -> PocField.TAGS
                "description" -> PocField.DESCRIPTION
                else -> null
            }
    }
}
