package dev.pocdojo.app.core.sdk

import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.sdk.api.ForbiddenException
import dev.pocdojo.sdk.api.MalformedResponseException
import dev.pocdojo.sdk.api.Problem
import dev.pocdojo.sdk.api.RateLimitedException
import dev.pocdojo.sdk.api.ServerErrorException
import dev.pocdojo.sdk.api.UnauthorizedException
import kotlinx.serialization.json.JsonObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertInstanceOf
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Test
import kotlin.time.Duration.Companion.seconds

/** The SDK failures the backend cannot be made to produce on demand in the integration test. */
class FailuresTest {
    private fun problem(status: Int, type: String? = null, detail: String? = "detail") =
        Problem(type, null, status, detail, null, emptyList(), JsonObject(emptyMap()))

    @Test
    fun `a 401 the SDK could not recover from ends the session`() {
        assertInstanceOf(GatewayException.SignedOut::class.java, UnauthorizedException(problem(401)).toGateway())
    }

    @Test
    fun `a 403 keeps the server's reason`() {
        val lobby = ForbiddenException(problem(403, "https://pocdojo.dev/problems/dojo-lobby")).toGateway()
        assertEquals("dojo-lobby", (lobby as GatewayException.Forbidden).reason)
        assertNull((ForbiddenException(problem(403)).toGateway() as GatewayException.Forbidden).reason)
    }

    @Test
    fun `5xx and unreadable answers are server failures with their status`() {
        val failure = ServerErrorException(problem(503)).toGateway() as GatewayException.ServerFailure
        assertEquals(503, failure.status)
        val malformed = MalformedResponseException("not JSON").toGateway() as GatewayException.ServerFailure
        assertEquals(MALFORMED_STATUS, malformed.status)
    }

    @Test
    fun `a 429 without Retry-After has no wait`() {
        val limited = RateLimitedException(problem(429), null).toGateway() as GatewayException.RateLimited
        assertNull(limited.retryAfterSeconds)
        assertEquals(7L, (RateLimitedException(problem(429), 7.seconds).toGateway() as GatewayException.RateLimited).retryAfterSeconds)
    }
}
