package dev.pocdojo.sdk.api

import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import okhttp3.Request

/** A dojo's chat. Live messages arrive on the signaling socket; these calls send and page the history. */
public class ChatApi internal constructor(
    private val transport: Transport,
    private val sessions: SessionManager,
) {
    private val messagePage = Page.serializer(ChatMessage.serializer())

    /** Sends a message (too long or blank: [ValidationException]; too many: [RateLimitedException]). */
    public suspend fun send(dojoId: String, text: String): ChatMessage {
        val body = buildJsonObject { put("text", text) }.toString().toJsonBody()
        val request = Request.Builder().url(transport.url("v1", "dojos", dojoId, "messages").build()).post(body).build()
        return transport.decode(sessions.send(request), ChatMessage.serializer())
    }

    /** The history, newest first, a page at a time. */
    public suspend fun history(dojoId: String, limit: Int? = null, cursor: String? = null): Page<ChatMessage> {
        val url = transport.url("v1", "dojos", dojoId, "messages")
        limit?.let { url.addQueryParameter("limit", it.toString()) }
        cursor?.let { url.addQueryParameter("cursor", it) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), messagePage)
    }

    /** What was said after the message [afterId], oldest first (for a client that reconnects). */
    public suspend fun since(dojoId: String, afterId: String, limit: Int? = null): List<ChatMessage> {
        val url = transport.url("v1", "dojos", dojoId, "messages").addQueryParameter("after", afterId)
        limit?.let { url.addQueryParameter("limit", it.toString()) }
        return transport.decode(sessions.send(Request.Builder().url(url.build()).get().build()), messagePage).items
    }
}
