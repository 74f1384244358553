"""What a dojo is, and who may do what in it — pure data and rules, no I/O.

Roles (README §Realtime dojos):
- the **host** (`host_id`) created the dojo and moderates it: promote, demote, kick, lock, lobby,
  randori, end. Hosting is not an editing role: the host also has one of the roles below.
- a **driver** and a **navigator** may edit the shared files; an **observer** only watches (the
  server drops an observer's document updates).
- in **randori** mode exactly one participant is the driver and only the driver's edits apply; when
  the timer fires the driver role passes to the next admitted non-observer in join order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Role(enum.StrEnum):
    DRIVER = "driver"
    NAVIGATOR = "navigator"
    OBSERVER = "observer"


class Status(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class Membership(enum.StrEnum):
    ADMITTED = "admitted"
    WAITING = "waiting"
    KICKED = "kicked"


@dataclass(frozen=True)
class Participant:
    user_id: str
    role: Role
    status: Membership
    seq: int
    joined_at: datetime

    def to_json(self, host_id: str) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "role": self.role.value,
            "host": self.user_id == host_id,
            "status": self.status.value,
            "joined_at": self.joined_at.isoformat(),
        }


@dataclass(frozen=True)
class Randori:
    seconds: int
    next_at: datetime
    round: int

    def to_json(self, driver: str | None) -> dict[str, Any]:
        return {
            "enabled": True,
            "interval_seconds": self.seconds,
            "driver_id": driver,
            "next_rotation_at": self.next_at.isoformat(),
            "round": self.round,
        }


@dataclass(frozen=True)
class Dojo:
    """One dojo as every node sees it; `version` orders the states live clients are sent."""

    tenant_id: str
    id: str
    title: str
    poc_id: str | None
    language: str | None
    host_id: str
    status: Status
    locked: bool
    lobby: bool
    randori: Randori | None
    version: int
    started_at: datetime
    ended_at: datetime | None
    participants: tuple[Participant, ...] = ()
    snapshot: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def active(self) -> bool:
        return self.status is Status.ACTIVE

    def participant(self, user_id: str) -> Participant | None:
        for participant in self.participants:
            if participant.user_id == user_id:
                return participant
        return None

    @property
    def admitted(self) -> tuple[Participant, ...]:
        return tuple(p for p in self.participants if p.status is Membership.ADMITTED)

    @property
    def driver(self) -> str | None:
        """The driver in randori mode (the first admitted driver in join order)."""
        for participant in self.admitted:
            if participant.role is Role.DRIVER:
                return participant.user_id
        return None

    def can_edit(self, user_id: str) -> bool:
        """Whether this user's document updates are applied right now."""
        if not self.active:
            return False
        participant = self.participant(user_id)
        if participant is None or participant.status is not Membership.ADMITTED:
            return False
        if participant.role is Role.OBSERVER:
            return False
        if self.randori is not None:
            return self.driver == user_id
        return True

    def may_connect(self, user_id: str) -> bool:
        participant = self.participant(user_id)
        return self.active and participant is not None and participant.status is Membership.ADMITTED

    def to_json(self, *, include_participants: bool = True, include_snapshot: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "poc_id": self.poc_id,
            "language": self.language,
            "host_id": self.host_id,
            "status": self.status.value,
            "settings": {"locked": self.locked, "lobby": self.lobby},
            "randori": (
                self.randori.to_json(self.driver)
                if self.randori is not None
                else {"enabled": False, "interval_seconds": None, "driver_id": None, "next_rotation_at": None}
            ),
            "version": self.version,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }
        if include_participants:
            body["participants"] = [
                {**p.to_json(self.host_id), "can_edit": self.can_edit(p.user_id)}
                for p in self.participants
                if p.status is not Membership.KICKED
            ]
        if include_snapshot:
            body["snapshot"] = self.snapshot
        return body


def next_driver(dojo: Dojo) -> str | None:
    """Who drives after the current driver: the next admitted non-observer in join order (wrapping)."""
    candidates = [p.user_id for p in dojo.admitted if p.role is not Role.OBSERVER]
    if not candidates:
        return None
    current = dojo.driver
    if current not in candidates:
        return candidates[0]
    return candidates[(candidates.index(current) + 1) % len(candidates)]
