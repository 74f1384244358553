"""The composition root: the one object a service keeps on its app, reached through typed accessors.

Theory of operation. `create_service_app` builds a `ServiceRoot` with the app (the service's name, its
settings, its supervisor, its readiness checks) and installs it as the app's only state. The startup steps
of the lifespan then fill it in their order — the database first, then the token verifier, then the
service's own components — and the service's last startup step hands it the service's typed object (e.g.
`DojoServices`) with `provide`. Components stop in the reverse order, through the lifespan's exit stack.
Handlers reach that object through one accessor per service (`dojo.services.services(request)`), which
reads it with `ServiceRoot.services(kind)`: a typed lookup instead of untyped `app.state` attributes.

Only this module touches `app.state`. Asking for something that is not started yet raises `NotStarted`
(a programming error: uvicorn runs the lifespan before it accepts requests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from runtime.settings import SharedSettings
from runtime.supervisor import Supervisor

if TYPE_CHECKING:
    from runtime.auth import Verifier
    from runtime.db import Database
    from runtime.principal_status import PrincipalStatuses

__all__ = [
    "AlreadyProvided",
    "CompositionError",
    "NotStarted",
    "ReadinessCheck",
    "ServiceRoot",
    "install_root",
    "request_root",
    "root_of",
]

T = TypeVar("T")

ReadinessCheck = Callable[[], Awaitable[None]]


class CompositionError(RuntimeError):
    """A service's composition root was used out of order (a programming error, never a client's)."""


class NotStarted(CompositionError):
    """A component was asked for before the startup step that makes it ran."""


class AlreadyProvided(CompositionError):
    """A component was set twice: each is built once per app."""


@dataclass(eq=False)
class ServiceRoot:
    """What the shared runtime composes for every service, and the slot of the service's own object."""

    service: str
    settings: SharedSettings
    supervisor: Supervisor
    readiness: list[tuple[str, ReadinessCheck]] = field(default_factory=list)
    """The checks `/readyz` runs, in order; startup steps append theirs."""
    principal_statuses: PrincipalStatuses | None = None
    """Local mode: the current-user memo behind the verifier (None in Cognito mode or before startup)."""
    _db: Database | None = None
    _verifier: Verifier | None = None
    _services: object | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise NotStarted(f"{self.service}: the database is not open (put database_startup first)")
        return self._db

    @property
    def verifier(self) -> Verifier:
        if self._verifier is None:
            raise NotStarted(f"{self.service}: the token verifier is not started (verifier_startup)")
        return self._verifier

    def set_db(self, db: Database) -> None:
        if self._db is not None:
            raise AlreadyProvided(f"{self.service}: the database is already open")
        self._db = db

    def set_verifier(self, verifier: Verifier, statuses: PrincipalStatuses | None) -> None:
        if self._verifier is not None:
            raise AlreadyProvided(f"{self.service}: the token verifier is already started")
        self._verifier = verifier
        self.principal_statuses = statuses

    def provide(self, services: object) -> None:
        """Hand over the service's own composed object (once, at the end of its startup)."""
        if self._services is not None:
            raise AlreadyProvided(f"{self.service}: its services are already provided")
        self._services = services

    def services(self, kind: type[T]) -> T:
        """The service's own object, checked to be a `kind`."""
        services = self._services
        if services is None:
            raise NotStarted(f"{self.service}: its services are not started yet")
        if not isinstance(services, kind):
            raise CompositionError(f"{self.service} provides {type(services).__name__}, not {kind.__name__}")
        return services


def install_root(app: Starlette, root: ServiceRoot) -> None:
    """Keep `root` as the app's composition root (once, by `create_service_app`)."""
    if getattr(app.state, "root", None) is not None:
        raise AlreadyProvided(f"{root.service}: the app already has a composition root")
    app.state.root = root


def root_of(app: Starlette) -> ServiceRoot:
    """The app's composition root."""
    root = getattr(app.state, "root", None)
    if not isinstance(root, ServiceRoot):
        raise NotStarted("this app was not built by create_service_app: it has no composition root")
    return root


def request_root(connection: HTTPConnection) -> ServiceRoot:
    """The composition root of the app serving a request or websocket."""
    return root_of(connection.app)
