package dev.pocdojo.sdk.api

import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.contentOrNull
import kotlinx.serialization.json.intOrNull

/** One invalid field of a 422: where (`name`, `tags.2`, `settings.randori_seconds`), a machine code, a message. */
public data class FieldError(val field: String, val code: String, val message: String)

/**
 * An RFC 9457 `application/problem+json` body as the server sent it.
 *
 * [type] ends with a slug naming the problem (`.../problems/dojo-lobby`: see [slug]); [extensions] holds
 * every member beyond the standard ones (`errors`, `retry_after`, `existing_poc`, OAuth's `error`...).
 */
public data class Problem(
    val type: String?,
    val title: String?,
    val status: Int,
    val detail: String?,
    val instance: String?,
    val fieldErrors: List<FieldError>,
    val extensions: JsonObject,
) {
    /** The last path segment of [type], e.g. `validation`, `dojo-lobby`, `invalid-grant`. */
    val slug: String? get() = type?.substringAfterLast('/')?.takeIf { it.isNotEmpty() }

    internal companion object {
        private val STANDARD = setOf("type", "title", "status", "detail", "instance", "errors")

        /** The problem in [body], or one made from the status alone when the body is not a JSON object. */
        fun parse(status: Int, body: String?, json: Json): Problem {
            val obj = body?.let { json.parseOrNull(it) } as? JsonObject
                ?: return Problem(null, null, status, body?.take(MAX_RAW_DETAIL), null, emptyList(), JsonObject(emptyMap()))
            return Problem(
                type = obj.string("type"),
                title = obj.string("title"),
                status = (obj["status"] as? JsonPrimitive)?.intOrNull ?: status,
                detail = obj.string("detail"),
                instance = obj.string("instance"),
                fieldErrors = (obj["errors"] as? JsonArray).orEmpty().mapNotNull(::fieldError),
                extensions = JsonObject(obj.filterKeys { it !in STANDARD }),
            )
        }

        /** A body that is not JSON (a proxy's HTML page, say) is kept as the detail instead. */
        private fun Json.parseOrNull(body: String): JsonElement? =
            try {
                parseToJsonElement(body)
            } catch (e: SerializationException) {
                null
            }

        private fun fieldError(element: JsonElement): FieldError? {
            val item = element as? JsonObject ?: return null
            return FieldError(
                field = item.string("field") ?: return null,
                code = item.string("code") ?: "invalid",
                message = item.string("message") ?: "",
            )
        }

        private fun JsonObject.string(key: String): String? = (this[key] as? JsonPrimitive)?.contentOrNull

        private const val MAX_RAW_DETAIL = 500
    }
}
