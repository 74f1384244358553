"""Identity HTTP routes (API.md §Identity)."""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from identity.members import DisplayName
from identity.oauth_errors import InvalidRequest, bad_grant_type
from identity.service import IdentityService, require_admin
from identity.services import services
from identity.signup import ACCEPTED
from runtime.auth import CurrentPrincipal
from runtime.errors import FieldError, Unauthorized, UnsupportedMediaType, ValidationFailed
from runtime.http import client_address
from runtime.text import Name, StorableText, storable

router = APIRouter()


_DOMAINS = (
    "When self-signup is on and this list is not empty, only addresses at these domains (exact match) may "
    "sign themselves up. Invitations are not limited by it."
)


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: StorableText = Field(min_length=3, max_length=63, examples=["acme"])
    name: Name = Field(min_length=1, max_length=200, examples=["ACME Ltda."])
    admin_email: StorableText = Field(max_length=254, examples=["admin@acme.com.br"])
    admin_password: StorableText = Field(min_length=1, max_length=1024)
    self_signup: bool = Field(default=False, description="Let people sign themselves up (default: off).")
    signup_domains: list[StorableText] = Field(default_factory=list, max_length=50, description=_DOMAINS)


class TenantOut(BaseModel):
    id: str
    slug: str
    name: str
    self_signup: bool
    signup_domains: list[str]


class TenantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = Field(default=None, min_length=1, max_length=200)
    self_signup: bool | None = None
    signup_domains: list[StorableText] | None = Field(default=None, max_length=50, description=_DOMAINS)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: StorableText = Field(min_length=1, max_length=63, examples=["acme"])
    email: StorableText = Field(max_length=254, examples=["dev@acme.com.br"])
    password: StorableText = Field(min_length=1, max_length=1024)
    invitation: StorableText | None = Field(
        default=None,
        max_length=100,
        description="An invitation code (`POST /v1/invitations`); works with self-signup off.",
    )


class RegisterAccepted(BaseModel):
    status: str = Field(examples=["accepted"])
    detail: str


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: StorableText = Field(max_length=254)
    password: StorableText = Field(min_length=1, max_length=1024)
    roles: list[str] = Field(default_factory=lambda: ["member"], max_length=2)


class UserUpdate(BaseModel):
    """What an administrator changes on an account: roles, display name, or both."""

    model_config = ConfigDict(extra="forbid")
    roles: list[str] | None = Field(default=None, min_length=1, max_length=2)
    display_name: DisplayName | None = Field(default=None, min_length=1, max_length=200, examples=["Ana Souza"])


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: DisplayName = Field(min_length=1, max_length=200, examples=["Ana Souza"])


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str = Field(description="How other members see this account (`GET /v1/members`).")
    roles: list[str]
    created_at: str
    tenant: str | None = Field(default=None, description="The tenant's slug.")
    tenant_name: str | None = Field(
        default=None, description="The tenant's display name (the caller's own account only: `/v1/auth/me`)."
    )


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    refresh_token: str


class TenantView(BaseModel):
    id: str
    slug: str
    name: str
    created_at: str
    self_signup: bool | None = Field(default=None, description="Administrators only.")
    signup_domains: list[str] | None = Field(default=None, description="Administrators only.")


def _service(request: Request) -> IdentityService:
    service = services(request).identity
    return service


Service = Annotated[IdentityService, Depends(_service)]


def _require_operator(request: Request) -> None:
    expected = services(request).operator_token
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if expected is None:
        raise Unauthorized("Tenant creation over HTTP is disabled: no operator token is configured.")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise Unauthorized("This call needs the operator token: Authorization: Bearer <operator token>.")


@router.post(
    "/v1/tenants",
    status_code=201,
    response_model=TenantOut,
    tags=["tenants"],
    dependencies=[Depends(_require_operator)],
    summary="Create a tenant and its first administrator",
)
async def create_tenant(body: TenantCreate, service: Service) -> dict[str, Any]:
    return await service.create_tenant(
        slug=body.slug,
        name=body.name,
        admin_email=body.admin_email,
        admin_password=body.admin_password,
        self_signup=body.self_signup,
        signup_domains=body.signup_domains,
    )


@router.get(
    "/v1/tenant",
    response_model=TenantView,
    response_model_exclude_none=True,
    tags=["tenants"],
    summary="The caller's tenant (its sign-up settings for administrators only)",
)
async def get_tenant(principal: CurrentPrincipal, service: Service) -> dict[str, Any]:
    return await service.tenant(principal.tenant_id, admin="admin" in principal.roles)


@router.patch(
    "/v1/tenant",
    response_model=TenantOut,
    tags=["tenants"],
    summary="Change the caller's tenant (administrators): name, self-signup and its e-mail domains",
)
async def update_tenant(body: TenantUpdate, principal: CurrentPrincipal, service: Service) -> dict[str, Any]:
    require_admin(principal.roles)
    return await service.update_tenant(
        principal.tenant_id, name=body.name, self_signup=body.self_signup, signup_domains=body.signup_domains
    )


@router.post(
    "/v1/auth/register",
    status_code=202,
    response_model=RegisterAccepted,
    tags=["auth"],
    summary="Self-signup: with an invitation, or into a tenant that allows it",
    description=(
        "Every outcome past input validation answers 202 with the same body: created, unknown tenant, "
        "self-signup off, domain not allowed, invalid or used invitation, address already registered. "
        "Sign in to learn whether the account exists. 422 for input invalid whatever the tenant; 429 with "
        "Retry-After above the per-address limit."
    ),
)
async def register(body: RegisterIn, request: Request) -> dict[str, Any]:
    registration = services(request).registration
    await registration.register(
        tenant_slug=body.tenant,
        email=body.email,
        password=body.password,
        invitation=body.invitation,
        address=client_address(request.scope, services(request).settings.trusted_proxy_hops),
    )
    return ACCEPTED


_TOKEN_FIELDS = ("grant_type", "username", "password", "tenant", "refresh_token", "client_id", "scope")


async def _oauth_form(request: Request, fields: tuple[str, ...]) -> dict[str, str]:
    """An OAuth request's parameters (form or JSON body), strings only; anything unreadable is `invalid_request`."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        form = await request.form()
        data = {k: v for k, v in form.items() if isinstance(v, str)}
    elif content_type == "application/json" or content_type.endswith("+json"):
        raw = await request.body()
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest([FieldError("body", "malformed_json", f"is not valid JSON: {exc}")]) from exc
        if not isinstance(parsed, dict):
            raise InvalidRequest([FieldError("body", "wrong_type", "must be a JSON object")])
        data = parsed
    else:
        raise UnsupportedMediaType("Send the token request as application/x-www-form-urlencoded or application/json.")
    errors = [
        FieldError(k, "wrong_type", "must be a string") for k in fields if k in data and not isinstance(data[k], str)
    ]
    for k in fields:
        value = data.get(k)
        if isinstance(value, str):
            try:
                storable(value)
            except ValueError as exc:
                errors.append(FieldError(k, "invalid_text", str(exc)))
    if errors:
        raise InvalidRequest(errors)
    return {k: v for k, v in data.items() if k in fields and isinstance(v, str)}


_TOKEN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password", "refresh_token"]},
                        "username": {"type": "string", "description": "e-mail (password grant)"},
                        "password": {"type": "string"},
                        "tenant": {"type": "string", "description": "tenant slug (password grant)"},
                        "refresh_token": {"type": "string"},
                    },
                }
            }
            for media in ("application/x-www-form-urlencoded", "application/json")
        },
    }
}


@router.post(
    "/v1/auth/token",
    response_model=TokenOut,
    tags=["auth"],
    openapi_extra=_TOKEN_BODY,
    summary="OAuth2 token endpoint: password and refresh_token grants",
)
async def token(request: Request, response: Response, service: Service) -> dict[str, Any]:
    form = await _oauth_form(request, _TOKEN_FIELDS)
    response.headers["Cache-Control"] = "no-store"
    grant_type = form.get("grant_type")
    if grant_type == "password":
        missing = [f for f in ("username", "password", "tenant") if not form.get(f)]
        if missing:
            raise InvalidRequest([FieldError(f, "missing", "is required for the password grant") for f in missing])
        address = client_address(request.scope, services(request).settings.trusted_proxy_hops)
        pair = await service.password_grant(
            tenant_slug=form["tenant"], username=form["username"], password=form["password"], address=address
        )
    elif grant_type == "refresh_token":
        if not form.get("refresh_token"):
            raise InvalidRequest([FieldError("refresh_token", "missing", "is required for the refresh grant")])
        pair = await service.refresh_grant(form["refresh_token"])
    else:
        raise bad_grant_type(grant_type)
    return pair.as_response()


_REVOKE_FIELDS = ("token", "token_type_hint")
_REVOKE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {
                    "type": "object",
                    "required": ["token"],
                    "properties": {
                        "token": {"type": "string", "maxLength": 512, "description": "the refresh token"},
                        "token_type_hint": {"type": "string", "enum": ["refresh_token", "access_token"]},
                    },
                }
            }
            for media in ("application/x-www-form-urlencoded", "application/json")
        },
    }
}


@router.post(
    "/v1/auth/revoke",
    tags=["auth"],
    openapi_extra=_REVOKE_BODY,
    summary="Revoke a refresh token and its whole family (RFC 7009: form or JSON body)",
    description="200 whatever the token (an unknown or already revoked token is no error, as RFC 7009 says); "
    "400 `invalid_request` when `token` is missing.",
)
async def revoke(request: Request, service: Service) -> dict[str, str]:
    form = await _oauth_form(request, _REVOKE_FIELDS)
    token = form.get("token")
    if not token:
        raise InvalidRequest([FieldError("token", "missing", "is required: the refresh token to revoke")])
    if len(token) > 512:
        raise InvalidRequest([FieldError("token", "too_long", "must be at most 512 characters")])
    await service.revoke(token)
    return {"status": "revoked"}


@router.get("/v1/auth/me", response_model=UserOut, tags=["auth"], summary="The caller's account")
async def me(principal: CurrentPrincipal, service: Service) -> dict[str, Any]:
    return await service.me(principal.tenant_id, principal.subject)


@router.patch("/v1/auth/me", response_model=UserOut, tags=["auth"], summary="Change the caller's display name")
async def update_me(body: MeUpdate, principal: CurrentPrincipal, service: Service) -> dict[str, Any]:
    return await service.rename_me(principal.tenant_id, principal.subject, body.display_name)


@router.get("/v1/users", response_model=UserPage, tags=["users"], summary="List the tenant's users (admins)")
async def list_users(
    principal: CurrentPrincipal,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[uuid.UUID | None, Query()] = None,
) -> dict[str, Any]:
    require_admin(principal.roles)
    return await service.list_users(principal.tenant_id, limit=limit, cursor=str(cursor) if cursor else None)


@router.post(
    "/v1/users",
    status_code=201,
    response_model=UserOut,
    tags=["users"],
    summary="Create a user in the caller's tenant (admins)",
)
async def create_user(body: UserCreate, principal: CurrentPrincipal, service: Service) -> dict[str, Any]:
    require_admin(principal.roles)
    slug = await service.tenant_slug(principal.tenant_id)
    return await service.register(
        tenant_slug=slug, email=body.email, password=body.password, roles=frozenset(body.roles)
    )


@router.get("/v1/users/{user_id}", response_model=UserOut, tags=["users"], summary="One user (admins)")
async def get_user(user_id: uuid.UUID, principal: CurrentPrincipal, service: Service) -> dict[str, Any]:
    require_admin(principal.roles)
    return await service.get_user(principal.tenant_id, user_id)


@router.patch(
    "/v1/users/{user_id}", response_model=UserOut, tags=["users"], summary="Change roles or display name (admins)"
)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, principal: CurrentPrincipal, service: Service
) -> dict[str, Any]:
    require_admin(principal.roles)
    if body.roles is None and body.display_name is None:
        raise ValidationFailed([FieldError("roles", "missing", "give roles, display_name or both")])
    return await service.update_user(
        principal.tenant_id,
        user_id,
        roles=frozenset(body.roles) if body.roles is not None else None,
        display_name=body.display_name,
    )


@router.delete("/v1/users/{user_id}", status_code=204, tags=["users"], summary="Delete a user (admins)")
async def delete_user(user_id: uuid.UUID, principal: CurrentPrincipal, service: Service) -> Response:
    require_admin(principal.roles)
    await service.delete_user(principal.tenant_id, user_id)
    return Response(status_code=204)


@router.get("/.well-known/jwks.json", tags=["discovery"], summary="The issuer's public keys")
async def jwks(request: Request, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=300"
    keys: dict[str, Any] = services(request).keys.jwks()
    return keys


@router.get("/.well-known/openid-configuration", tags=["discovery"], summary="Issuer metadata")
async def openid_configuration(request: Request) -> dict[str, Any]:
    settings = services(request).settings
    base = settings.public_url.rstrip("/")
    return {
        "issuer": settings.issuer,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": f"{base}/v1/auth/token",
        "revocation_endpoint": f"{base}/v1/auth/revoke",
        "userinfo_endpoint": f"{base}/v1/auth/me",
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["pocdojo"],
    }
