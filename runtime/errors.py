"""The error tree every service raises, translated to RFC 9457 problem+json at the HTTP boundary.

ServiceError                      500 (base; never raised bare)
├── BadRequest                    400
│   └── ValidationFailed          422 (with field `errors`)
├── Unauthorized                  401 (WWW-Authenticate: Bearer)
├── Forbidden                     403
├── NotFound                      404
├── Conflict                      409
├── PayloadTooLarge               413
├── UnsupportedMediaType          415
├── TooManyRequests               429 (Retry-After)
└── ServiceUnavailable            503
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

PROBLEM_BASE = "https://docs.pocdojo.dev/problems/"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a JSON-pointer-ish location, a machine code and a human message."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class ServiceError(Exception):
    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal server error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(ServiceError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class ValidationFailed(BadRequest):
    status = 422
    slug = "validation"
    title = "Validation failed"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.extra["errors"] = [e.as_dict() for e in errors]


class Unauthorized(ServiceError):
    status = 401
    slug = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str, *, code: str = "invalid_token") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": f'Bearer error="{code}"'}, code=code)


class Forbidden(ServiceError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(ServiceError):
    status = 404
    slug = "not-found"
    title = "Not found"


class Conflict(ServiceError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(ServiceError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class TooManyRequests(ServiceError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


class ServiceUnavailable(ServiceError):
    status = 503
    slug = "unavailable"
    title = "Service unavailable"
