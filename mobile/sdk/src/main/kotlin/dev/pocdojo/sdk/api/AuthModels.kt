package dev.pocdojo.sdk.api

import kotlinx.serialization.SerialName
import kotlinx.serialization.Serializable
import java.time.Instant

/** An account as `GET /v1/auth/me` and the administrators' `/v1/users` calls show it. */
@Serializable
public data class User(
    val id: String,
    val email: String,
    val roles: List<String>,
    @SerialName("created_at") @Serializable(InstantSerializer::class) val createdAt: Instant? = null,
    /** The tenant's slug (present on `me`). */
    val tenant: String? = null,
    @SerialName("display_name") val displayName: String? = null,
) {
    val isAdmin: Boolean get() = "admin" in roles
}

/** `POST /v1/auth/register`: [invitation] is a code from an administrator (`inv1.…`). */
@Serializable
public data class Registration(
    val tenant: String,
    val email: String,
    val password: String,
    val invitation: String? = null,
) {
    override fun toString(): String = "Registration(tenant=$tenant, email=$email, invitation=${invitation != null})"
}

/**
 * The answer to every registration past input validation: the server never tells whether the account was
 * created (that would tell a prober who has one). Sign in to find out.
 */
@Serializable
public data class RegistrationAccepted(val status: String, val detail: String)

@Serializable
internal data class TokenResponse(
    @SerialName("access_token") val accessToken: String,
    @SerialName("token_type") val tokenType: String = "Bearer",
    @SerialName("expires_in") val expiresIn: Long,
    @SerialName("refresh_token") val refreshToken: String,
)

@Serializable
internal data class RevokeRequest(val token: String)

/** A tenant (`POST /v1/tenants`, operator only). */
@Serializable
public data class Tenant(
    val id: String,
    val slug: String,
    val name: String,
    @SerialName("self_signup") val selfSignup: Boolean = false,
    @SerialName("signup_domains") val signupDomains: List<String> = emptyList(),
)

@Serializable
public data class NewTenant(
    val slug: String,
    val name: String,
    @SerialName("admin_email") val adminEmail: String,
    @SerialName("admin_password") val adminPassword: String,
    @SerialName("self_signup") val selfSignup: Boolean = false,
) {
    override fun toString(): String = "NewTenant(slug=$slug, name=$name, adminEmail=$adminEmail)"
}

/** `POST /v1/users` (administrators). */
@Serializable
public data class NewUser(
    val email: String,
    val password: String,
    val roles: List<String> = listOf("member"),
) {
    override fun toString(): String = "NewUser(email=$email, roles=$roles)"
}

/** A person of the caller's tenant in the member directory (`GET /v1/members`); [email] only for admins. */
@Serializable
public data class Member(
    val id: String,
    @SerialName("display_name") val displayName: String,
    val roles: List<String> = emptyList(),
    val email: String? = null,
)
