package dev.pocdojo.sdk.testing

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import kotlinx.serialization.json.put
import okhttp3.FormBody
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import java.util.UUID

/** A signed-in user of the test backend. */
data class User(
    val id: String,
    val token: String,
)

data class DojoTicket(
    val ticket: String,
    val room: String,
    val collabUrl: String,
    val signalUrl: String,
    val role: String,
)

/**
 * The few REST calls the realtime tests need, as plain OkHttp calls: the realtime tests do not depend on
 * the SDK's API client (which has tests of its own). [Backend.api] is this backend's.
 */
class TestApi(
    private val baseUrl: String,
) {
    val http = OkHttpClient()
    private val json = "application/json".toMediaType()

    private fun call(
        method: String,
        path: String,
        token: String?,
        body: JsonObject? = null,
    ): JsonElement? {
        val request =
            Request
                .Builder()
                .url(baseUrl + path)
                .method(method, body?.toString()?.toRequestBody(json) ?: if (method == "POST") ByteArray(0).toRequestBody(null) else null)
                .apply { token?.let { header("Authorization", "Bearer $it") } }
                .build()
        http.newCall(request).execute().use { response ->
            val text = response.body.string()
            check(response.isSuccessful) { "$method $path -> ${response.code}: $text" }
            return if (text.isBlank()) null else Json.parseToJsonElement(text)
        }
    }

    fun login(login: Login): User {
        val form =
            FormBody
                .Builder()
                .add("grant_type", "password")
                .add("tenant", login.tenant)
                .add("username", login.username)
                .add("password", login.password)
                .build()
        val token =
            http.newCall(Request.Builder().url("$baseUrl/v1/auth/token").post(form).build()).execute().use { response ->
                val text = response.body.string()
                check(response.isSuccessful) { "login ${login.username} -> ${response.code}: $text" }
                Json.parseToJsonElement(text).jsonObject.getValue("access_token").jsonPrimitive.content
            }
        val me = call("GET", "/v1/auth/me", token)!!.jsonObject
        return User(me.getValue("id").jsonPrimitive.content, token)
    }

    /** A new member of the admin's tenant, signed in. */
    fun newMember(
        admin: User,
        tenant: String,
    ): User {
        val email = "m-${UUID.randomUUID()}@example.com"
        val password = "pw-${UUID.randomUUID()}"
        call(
            "POST",
            "/v1/users",
            admin.token,
            buildJsonObject {
                put("email", email)
                put("password", password)
            },
        )
        return login(Login(tenant, email, password))
    }

    fun createDojo(host: User): String =
        call("POST", "/v1/dojos", host.token, buildJsonObject { put("title", "kata") })!!
            .jsonObject
            .getValue("id")
            .jsonPrimitive.content

    /** Joins the dojo (or re-joins): a fresh ticket for both websockets. */
    fun ticket(
        user: User,
        dojo: String,
    ): DojoTicket {
        val t = call("POST", "/v1/dojos/$dojo/tickets", user.token)!!.jsonObject
        fun s(key: String) = t.getValue(key).jsonPrimitive.content
        return DojoTicket(s("ticket"), s("room"), s("collab_url"), s("signal_url"), s("role"))
    }

    fun setRole(
        host: User,
        dojo: String,
        user: User,
        role: String,
    ) {
        call("PUT", "/v1/dojos/$dojo/participants/${user.id}/role", host.token, buildJsonObject { put("role", role) })
    }

    fun kick(
        host: User,
        dojo: String,
        user: User,
    ) {
        call("POST", "/v1/dojos/$dojo/participants/${user.id}/kick", host.token)
    }

    /** The server's stored `files` map: path to text. */
    fun files(
        user: User,
        room: String,
    ): Map<String, String> =
        call("GET", "/v1/collab/$room/content?map=files", user.token)!!
            .jsonObject
            .getValue("map")
            .jsonObject
            .getValue("files")
            .jsonObject
            .mapValues { it.value.jsonPrimitive.content }
}
