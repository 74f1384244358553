"""The member directory's routes: every member of a tenant may see who the others are."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from identity.members import MEMBER_IDS_MAX, Members
from identity.services import services
from runtime.auth import CurrentPrincipal
from runtime.errors import FieldError, ValidationFailed
from runtime.text import name

router = APIRouter(tags=["members"])


class MemberOut(BaseModel):
    id: str
    display_name: str
    roles: list[str]
    email: str | None = Field(default=None, description="Only in administrators' answers.")


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None


def _members(request: Request) -> Members:
    members = services(request).members
    return members


@router.get(
    "/v1/members",
    response_model=MemberPage,
    summary="The tenant's members: id, display name, roles (administrators also see e-mails)",
)
async def list_members(
    request: Request,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[uuid.UUID | None, Query(description="`next_cursor` of the previous page.")] = None,
    q: Annotated[
        str | None,
        Query(max_length=80, description="Part of a display name (administrators: or of an e-mail), any case."),
    ] = None,
    id: Annotated[
        list[uuid.UUID] | None,
        Query(max_length=MEMBER_IDS_MAX, description=f"Repeatable: only these accounts (at most {MEMBER_IDS_MAX})."),
    ] = None,
) -> JSONResponse:
    """Answered as built: a member's entry has no `email` key at all (not null)."""
    if q is not None:
        try:
            name(q)
        except ValueError as exc:
            raise ValidationFailed([FieldError("q", "invalid_text", str(exc))]) from exc
    page = await _members(request).list(
        principal.tenant_id,
        admin=principal.is_admin,
        limit=limit,
        cursor=cursor,
        q=q.strip() or None if q is not None else None,
        ids=id or [],
    )
    return JSONResponse(page)


@router.get(
    "/v1/members/{user_id}",
    response_model=MemberOut,
    summary="One member of the caller's tenant",
)
async def get_member(user_id: uuid.UUID, request: Request, principal: CurrentPrincipal) -> JSONResponse:
    return JSONResponse(await _members(request).get(principal.tenant_id, user_id, admin=principal.is_admin))
