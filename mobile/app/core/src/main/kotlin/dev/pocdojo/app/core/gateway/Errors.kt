package dev.pocdojo.app.core.gateway

/** One invalid field of a request, as the backend's problem+json `errors` list names it. */
data class FieldError(val field: String, val code: String, val message: String)

/**
 * What a gateway call can fail with, whatever client library carries it. The binding to the SDK
 * translates the SDK's exceptions into these at the boundary; view-models handle nothing else.
 *
 * ```
 * GatewayException
 * ├── Invalid          422: fieldErrors name each refused field
 * ├── Rejected         401 on sign-in: unknown tenant, e-mail or password
 * ├── SignedOut        the session ended (refresh refused, family revoked): sign in again
 * ├── Forbidden        403
 * ├── NotFound         404
 * ├── Conflict         409 (existingPocId: the POC already registered for that repository; reason: the slug)
 * ├── RateLimited      429 (retryAfterSeconds when the server said)
 * ├── Unreachable      no answer: no network, DNS, refused or dropped connection, timeout
 * └── ServerFailure    any other status (5xx)
 * ```
 */
sealed class GatewayException(message: String, cause: Throwable? = null) : Exception(message, cause) {
    class Invalid(val fieldErrors: List<FieldError>, detail: String) : GatewayException(detail)

    class Rejected(detail: String) : GatewayException(detail)

    class SignedOut(detail: String) : GatewayException(detail)

    /** [reason] is the server's problem slug when it says why, e.g. `dojo-lobby` (waiting for the host). */
    class Forbidden(detail: String, val reason: String? = null) : GatewayException(detail)

    class NotFound(detail: String) : GatewayException(detail)

    /** [reason] is the server's problem slug when it says why, e.g. `history-off`. */
    class Conflict(detail: String, val existingPocId: String? = null, val reason: String? = null) : GatewayException(detail)

    class RateLimited(detail: String, val retryAfterSeconds: Long? = null) : GatewayException(detail)

    class Unreachable(detail: String, cause: Throwable? = null) : GatewayException(detail, cause)

    class ServerFailure(val status: Int, detail: String) : GatewayException(detail)
}
