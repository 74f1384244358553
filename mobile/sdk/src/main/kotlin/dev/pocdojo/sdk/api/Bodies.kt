package dev.pocdojo.sdk.api

import okhttp3.MediaType.Companion.toMediaType
import okhttp3.RequestBody
import okhttp3.RequestBody.Companion.toRequestBody

private val JSON_MEDIA = "application/json".toMediaType()

internal fun String.toJsonBody(): RequestBody = toRequestBody(JSON_MEDIA)

internal val EMPTY_JSON_BODY: RequestBody get() = "{}".toJsonBody()
