package dev.pocdojo.sdk.api

import okhttp3.HttpUrl
import okhttp3.Request

/**
 * The signed URL that [apiUrl] (an API path answering 302, such as a report's or a video's `download`)
 * redirects to: asked with the caller's token, the redirect not followed. The signed URL carries its own
 * short-lived authorization: fetch it without the token.
 */
internal suspend fun SessionManager.signedUrl(apiUrl: HttpUrl): HttpUrl {
    val answer = send(Request.Builder().url(apiUrl).get().build(), CallOptions(followRedirects = false))
    val location = answer.headers["Location"]
        ?: throw MalformedResponseException("HTTP ${answer.status} without a Location to follow")
    return apiUrl.resolve(location)
        ?: throw MalformedResponseException("HTTP ${answer.status}: '$location' is not a URL")
}
