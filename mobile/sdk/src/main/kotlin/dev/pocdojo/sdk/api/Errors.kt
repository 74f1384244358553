package dev.pocdojo.sdk.api

import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlin.time.Duration

/*
 * Every failure of the API client is an ApiException:
 *
 * ApiException
 * ├── NetworkException            no HTTP answer (connection refused or reset, timeout, DNS...)
 * ├── SignedOutException          no session, or the server refused to refresh it (AuthState.SignedOut)
 * ├── MalformedResponseException  an answer this client cannot read (not the documented JSON)
 * └── HttpException               the server answered with an error status; `problem` is its body
 *     ├── BadRequestException            400 (malformed request)
 *     │   └── InvalidGrantException      400 OAuth `invalid_grant`: wrong credentials, refresh refused
 *     ├── UnauthorizedException          401 (missing, invalid or expired token)
 *     ├── ForbiddenException             403 (not allowed; `problem.slug` says why, e.g. `dojo-lobby`)
 *     ├── NotFoundException              404 (includes other tenants' objects)
 *     ├── ConflictException              409 (`existingPocId` when a POC's repository is taken)
 *     ├── ValidationException            422 with `fieldErrors`
 *     ├── RateLimitedException           429 with `retryAfter`
 *     ├── ClientErrorException           any other 4xx (413, 415...)
 *     └── ServerErrorException           5xx
 */

/** The root of every error the API client raises. */
public sealed class ApiException(message: String, cause: Throwable? = null) : Exception(message, cause)

/** The request got no HTTP answer. For an idempotent request, retries were already made. */
public class NetworkException(message: String, cause: Throwable) : ApiException(message, cause)

/** The client has no usable session: never signed in, signed out, or its refresh token was refused. */
public class SignedOutException(public val reason: SignOutReason, message: String) : ApiException(message)

/** The server answered something that is not the documented shape. */
public class MalformedResponseException(message: String, cause: Throwable? = null) : ApiException(message, cause)

/** The server answered with an error status and (usually) a problem+json body. */
public sealed class HttpException(public val problem: Problem) :
    ApiException("HTTP ${problem.status}: ${problem.detail ?: problem.title ?: "no detail"}") {
    public val status: Int get() = problem.status
}

public open class BadRequestException(problem: Problem) : HttpException(problem)

/** OAuth2 `invalid_grant`: unknown tenant, e-mail or password; or a refresh token that was refused. */
public class InvalidGrantException(problem: Problem) : BadRequestException(problem)

public class UnauthorizedException(problem: Problem) : HttpException(problem)

public class ForbiddenException(problem: Problem) : HttpException(problem)

public class NotFoundException(problem: Problem) : HttpException(problem)

public class ConflictException(problem: Problem) : HttpException(problem) {
    /** The POC that already has this repository (a 409 of `POST`/`PATCH /v1/pocs`), if named. */
    public val existingPocId: String?
        get() = ((problem.extensions["existing_poc"] as? JsonObject)?.get("id") as? JsonPrimitive)
            ?.content
}

/** 422: [fieldErrors] lists every invalid field at once. */
public class ValidationException(problem: Problem) : HttpException(problem) {
    public val fieldErrors: List<FieldError> get() = problem.fieldErrors

    /** The errors of one field, e.g. `errorsFor("github_url")`. */
    public fun errorsFor(field: String): List<FieldError> = fieldErrors.filter { it.field == field }
}

/** 429: wait [retryAfter] (from `Retry-After`; null when the server did not say) before trying again. */
public class RateLimitedException(problem: Problem, public val retryAfter: Duration?) : HttpException(problem)

public class ClientErrorException(problem: Problem) : HttpException(problem)

public class ServerErrorException(problem: Problem) : HttpException(problem)

internal fun httpException(problem: Problem, retryAfter: Duration?): HttpException =
    when (problem.status) {
        400 -> if (problem.isInvalidGrant()) InvalidGrantException(problem) else BadRequestException(problem)
        401 -> UnauthorizedException(problem)
        403 -> ForbiddenException(problem)
        404 -> NotFoundException(problem)
        409 -> ConflictException(problem)
        422 -> ValidationException(problem)
        429 -> RateLimitedException(problem, retryAfter)
        in 500..599 -> ServerErrorException(problem)
        else -> ClientErrorException(problem)
    }

private fun Problem.isInvalidGrant(): Boolean =
    slug == "invalid-grant" ||
        (extensions["error"] as? JsonPrimitive)?.content == "invalid_grant"
