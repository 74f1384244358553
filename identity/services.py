"""The identity service's composition root: what its handlers use, built once by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from identity.invitations import Invitations
from identity.keys import KeyRing
from identity.members import Members
from identity.service import IdentityService
from identity.signup import Registration
from runtime.root import request_root, root_of
from runtime.settings import IdentitySettings

__all__ = ["IdentityServices", "services", "services_of"]


@dataclass(eq=False)
class IdentityServices:
    """Built by `identity.app`'s last startup step, after the database and the token verifier."""

    settings: IdentitySettings
    keys: KeyRing
    operator_token: str | None
    identity: IdentityService
    invitations: Invitations
    members: Members
    registration: Registration


def services_of(app: Starlette) -> IdentityServices:
    return root_of(app).services(IdentityServices)


def services(connection: HTTPConnection) -> IdentityServices:
    """The identity service's components, for a handler."""
    return request_root(connection).services(IdentityServices)
