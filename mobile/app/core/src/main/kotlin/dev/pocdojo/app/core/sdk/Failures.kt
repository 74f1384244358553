package dev.pocdojo.app.core.sdk

import dev.pocdojo.app.core.gateway.FieldError
import dev.pocdojo.app.core.gateway.GatewayException
import dev.pocdojo.sdk.api.ApiException
import dev.pocdojo.sdk.api.BadRequestException
import dev.pocdojo.sdk.api.ClientErrorException
import dev.pocdojo.sdk.api.ConflictException
import dev.pocdojo.sdk.api.ForbiddenException
import dev.pocdojo.sdk.api.HttpException
import dev.pocdojo.sdk.api.InvalidGrantException
import dev.pocdojo.sdk.api.MalformedResponseException
import dev.pocdojo.sdk.api.NetworkException
import dev.pocdojo.sdk.api.NotFoundException
import dev.pocdojo.sdk.api.RateLimitedException
import dev.pocdojo.sdk.api.ServerErrorException
import dev.pocdojo.sdk.api.SignedOutException
import dev.pocdojo.sdk.api.UnauthorizedException
import dev.pocdojo.sdk.api.ValidationException

/** The SDK's failure as the view-models know it (the app's [GatewayException] tree). */
internal fun ApiException.toGateway(): GatewayException =
    when (this) {
        is NetworkException -> GatewayException.Unreachable(message.orEmpty(), this)
        is SignedOutException -> GatewayException.SignedOut(message.orEmpty())
        // An answer that is not the API's (a captive portal, a proxy's page): the server side failed.
        is MalformedResponseException -> GatewayException.ServerFailure(MALFORMED_STATUS, message.orEmpty())
        is HttpException -> toGateway(detail())
    }

private fun HttpException.toGateway(detail: String): GatewayException =
    when (this) {
        is InvalidGrantException -> GatewayException.Rejected(detail)
        is ValidationException -> GatewayException.Invalid(fieldErrors.map { FieldError(it.field, it.code, it.message) }, detail)
        is BadRequestException ->
            GatewayException.Invalid(problem.fieldErrors.map { FieldError(it.field, it.code, it.message) }, detail)
        // The SDK already refreshed the token and tried again: the session is not accepted any more.
        is UnauthorizedException -> GatewayException.SignedOut(detail)
        is ForbiddenException -> GatewayException.Forbidden(detail, problem.slug)
        is NotFoundException -> GatewayException.NotFound(detail)
        is ConflictException -> GatewayException.Conflict(detail, existingPocId, problem.slug)
        is RateLimitedException -> GatewayException.RateLimited(detail, retryAfter?.inWholeSeconds)
        is ClientErrorException, is ServerErrorException -> GatewayException.ServerFailure(status, detail)
    }

private fun HttpException.detail(): String = problem.detail ?: problem.title ?: message.orEmpty()

/** Runs an SDK call, raising its failure as a [GatewayException]. */
internal inline fun <T> gatewayCall(call: () -> T): T =
    try {
        call()
    } catch (failure: ApiException) {
        throw failure.toGateway()
    }

/** [GatewayException.ServerFailure.status] for an answer that was not the API's JSON. */
internal const val MALFORMED_STATUS = 502
