"""Invitation routes (administrators): create, list, delete. The code is shown once, at creation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from identity.invitations import DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MIN_TTL_SECONDS, Invitations
from identity.service import normalize_email, require_admin
from identity.services import services
from runtime.auth import CurrentPrincipal
from runtime.text import StorableText

router = APIRouter(tags=["invitations"])


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: StorableText | None = Field(
        default=None, max_length=254, description="Only this address may use it (any address when absent)."
    )
    role: Literal["member", "admin"] = "member"
    expires_in: int = Field(default=DEFAULT_TTL_SECONDS, ge=MIN_TTL_SECONDS, le=MAX_TTL_SECONDS, description="seconds")


class InvitationOut(BaseModel):
    id: str
    email: str | None
    roles: list[str]
    status: Literal["pending", "used", "expired"]
    created_at: str
    expires_at: str
    used_at: str | None


class InvitationCreated(InvitationOut):
    code: str = Field(description="Give it to the invitee (`POST /v1/auth/register` `invitation`); shown only once.")


class InvitationPage(BaseModel):
    items: list[InvitationOut]
    next_cursor: str | None


def _invitations(request: Request) -> Invitations:
    invitations = services(request).invitations
    return invitations


@router.post("/v1/invitations", status_code=201, response_model=InvitationCreated, summary="Invite someone")
async def create_invitation(body: InvitationCreate, principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    require_admin(principal.roles)
    return await _invitations(request).create(
        principal.tenant_id,
        created_by=principal.subject,
        email=normalize_email(body.email) if body.email is not None else None,
        roles=frozenset({"admin", "member"}) if body.role == "admin" else frozenset({"member"}),
        ttl_seconds=body.expires_in,
    )


@router.get("/v1/invitations", response_model=InvitationPage, summary="The tenant's invitations")
async def list_invitations(
    principal: CurrentPrincipal,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[uuid.UUID | None, Query()] = None,
) -> dict[str, Any]:
    require_admin(principal.roles)
    return await _invitations(request).list(principal.tenant_id, limit=limit, cursor=str(cursor) if cursor else None)


@router.delete("/v1/invitations/{invitation_id}", status_code=204, summary="Withdraw an invitation")
async def delete_invitation(invitation_id: uuid.UUID, principal: CurrentPrincipal, request: Request) -> Response:
    require_admin(principal.roles)
    await _invitations(request).delete(principal.tenant_id, invitation_id)
    return Response(status_code=204)
