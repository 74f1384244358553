package dev.pocdojo.sdk.api

import okhttp3.Request

/** Operator calls, authenticated with the operator token rather than a user's session. */
public class TenantsApi internal constructor(private val transport: Transport) {
    /** Creates a tenant and its first administrator (`POST /v1/tenants`). */
    public suspend fun create(operatorToken: String, tenant: NewTenant): Tenant {
        val body = transport.json.encodeToString(NewTenant.serializer(), tenant).toJsonBody()
        val request = Request.Builder()
            .url(transport.url("v1", "tenants").build())
            .header("Authorization", "Bearer $operatorToken")
            .post(body)
            .build()
        return transport.decode(transport.send(request), Tenant.serializer())
    }
}
