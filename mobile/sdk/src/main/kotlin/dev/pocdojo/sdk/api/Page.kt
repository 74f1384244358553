package dev.pocdojo.sdk.api

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable

/** One page of a list: pass [nextCursor] back to get the next one; null means this was the last. */
@Serializable
public data class Page<T>(
    val items: List<T>,
    @SerialName("next_cursor") val nextCursor: String? = null,
)
