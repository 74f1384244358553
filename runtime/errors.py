"""The error tree every service raises, translated to RFC 9457 problem+json at the HTTP boundary.

ServiceError                      500 (base; never raised bare)
├── BadRequest                    400
│   ├── MalformedJson             400
│   └── ValidationFailed          422 (with field `errors`)
├── Unauthorized                  401 (WWW-Authenticate: Bearer)
├── Forbidden                     403
├── NotFound                      404
├── MethodNotAllowed              405
├── Conflict                      409
├── PayloadTooLarge               413
├── UnsupportedMediaType          415
├── TooManyRequests               429 (Retry-After)
└── ServiceUnavailable            503

Every class names a slug of `runtime.problems.PROBLEM_TYPES` (checked when the class is defined), whose
title it answers with; the problem's `type` is `{public_url}/problems/{slug}`, a page every service serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from runtime.problems import PROBLEM_TYPES, problem_url


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        registered = PROBLEM_TYPES.get(cls.slug)
        if registered is None:
            raise TypeError(f"{cls.__name__}: problem type {cls.slug!r} is not in runtime.problems.PROBLEM_TYPES")
        if registered.status != cls.status:
            raise TypeError(f"{cls.__name__}: status {cls.status}, but {cls.slug!r} is {registered.status}")
        cls.title = registered.title

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def problem(self, base_url: str, instance: str | None = None) -> dict[str, Any]:
        """The problem+json body; `base_url` is the deployment's public URL (the `type` resolves there)."""
        body: dict[str, Any] = {
            "type": problem_url(base_url, self.slug),
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


class MalformedJson(BadRequest):
    slug = "malformed-json"


class ValidationFailed(BadRequest):
    status = 422
    slug = "validation"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors
        self.extra["errors"] = [e.as_dict() for e in errors]


class Unauthorized(ServiceError):
    status = 401
    slug = "unauthorized"

    def __init__(self, detail: str, *, code: str = "invalid_token") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": f'Bearer error="{code}"'}, code=code)


class Forbidden(ServiceError):
    status = 403
    slug = "forbidden"


class NotFound(ServiceError):
    status = 404
    slug = "not-found"


class MethodNotAllowed(ServiceError):
    status = 405
    slug = "method-not-allowed"


class Conflict(ServiceError):
    status = 409
    slug = "conflict"


class PayloadTooLarge(ServiceError):
    status = 413
    slug = "payload-too-large"


class UnsupportedMediaType(ServiceError):
    status = 415
    slug = "unsupported-media-type"


class TooManyRequests(ServiceError):
    status = 429
    slug = "too-many-requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


class ServiceUnavailable(ServiceError):
    status = 503
    slug = "unavailable"
