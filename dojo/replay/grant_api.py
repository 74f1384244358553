"""History grant routes (`dojo.replay.grants`): `POST /v1/dojos/{id}/history/grants` with an access token,
`DELETE /v1/dojos/{id}/history/grants/{grant_id}` with the grant itself (`History-Grant`)."""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request, Response

from dojo.openapi import COMMON, problem
from dojo.replay.grants import GRANT_HEADER, SECRET_MAX_LENGTH, GrantOutOfScope, HistoryGrants
from dojo.replay.readers import readable
from dojo.services import services
from runtime.auth import CurrentPrincipal

router = APIRouter(tags=["dojo replay"])

JSON = "application/json"


def _grants(request: Request) -> HistoryGrants:
    grants: HistoryGrants = services(request).history_grants
    return grants


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    try:
        return None if value is None else uuid.UUID(value)
    except ValueError:
        return None


@router.post(
    "/v1/dojos/{dojo_id}/history/grants",
    status_code=201,
    summary="A grant to read this dojo's history later without an access token (e.g. for a replay video)",
    description=(
        "For whoever may read the dojo's history (its participants and tenant administrators). Answers a "
        "secret, `grant`, shown once: sent as `History-Grant: <grant>`, it reads `GET .../history` and "
        "`POST .../history/frames` of this dojo only, with the caller's rights as they are when it is used, "
        "until `expires_at` (`POCDOJO_DOJO_HISTORY_GRANT_TTL_SECONDS`) or its revocation "
        "(`DELETE .../history/grants/{id}`)."
    ),
    responses={
        201: {"description": "`{id, dojo_id, grant, expires_at}`."},
        **COMMON,
        404: problem("No such dojo in your organization, or you are neither a participant nor an administrator."),
        409: problem("History is off for your organization (`history-off`)."),
    },
)
async def create_grant(dojo_id: str, request: Request, principal: CurrentPrincipal) -> Response:
    dojo = await readable(request, principal, dojo_id)
    issued = await _grants(request).issue(
        tenant_id=uuid.UUID(dojo.tenant_id),
        dojo_id=uuid.UUID(dojo.id),
        user_id=uuid.UUID(principal.subject),
        session_id=_uuid_or_none(principal.session_id),
        as_admin=principal.is_admin,
    )
    document = {
        "id": str(issued.id),
        "dojo_id": dojo.id,
        "grant": issued.secret,
        "expires_at": issued.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    location = f"/v1/dojos/{dojo.id}/history/grants/{issued.id}"
    return Response(orjson.dumps(document), status_code=201, media_type=JSON, headers={"Location": location})


GrantSecret = Annotated[
    str,
    Header(alias=GRANT_HEADER, min_length=1, max_length=SECRET_MAX_LENGTH, description="The grant to revoke."),
]


@router.delete(
    "/v1/dojos/{dojo_id}/history/grants/{grant_id}",
    status_code=204,
    summary="Revoke a history grant",
    description="Authorized by the grant itself (`History-Grant`), not by an access token.",
    responses={
        204: {"description": "Revoked."},
        400: COMMON[400],
        401: problem("The history grant is malformed, unknown, already revoked or expired."),
        403: problem("The history grant is for another dojo, or is another grant than `grant_id`."),
        422: COMMON[422],
    },
)
async def revoke_grant(dojo_id: str, grant_id: uuid.UUID, secret: GrantSecret, request: Request) -> Response:
    grants = _grants(request)
    found = await grants.resolve(secret, dojo_id)
    if found.id != grant_id:
        raise GrantOutOfScope("This history grant is another one than the grant to revoke.")
    await grants.revoke(secret, dojo_id)
    return Response(status_code=204)
