"""Typed settings, read once from the environment and passed down: a shared base and one class per service.

`SharedSettings` holds what every service reads (database, Redis, HTTP, logging, metrics, tracing, token
verification); `IdentitySettings`, `PocSettings`, `DojoSettings` and `MediaSettings` add one service's own, and
each service's composition root receives only its class. `Settings` combines them all for the CLI and the dev
dispatcher. `SECTIONS` orders the classes for the generated configuration table (docs/configuration.md).
"""

from __future__ import annotations

from pydantic_settings import BaseSettings

from runtime.settings.base import Environment, SharedSettings
from runtime.settings.combined import Settings
from runtime.settings.dojo import DojoSettings
from runtime.settings.identity import IdentitySettings
from runtime.settings.media import MediaSettings
from runtime.settings.poc import PocSettings

__all__ = [
    "SECTIONS",
    "DojoSettings",
    "Environment",
    "IdentitySettings",
    "MediaSettings",
    "PocSettings",
    "Settings",
    "SharedSettings",
]

SECTIONS: tuple[tuple[str, type[BaseSettings]], ...] = (
    ("Shared by every service", SharedSettings),
    ("Identity service", IdentitySettings),
    ("POC service", PocSettings),
    ("Dojo service (realtime, dojos, signaling)", DojoSettings),
    ("Media service (API and workers)", MediaSettings),
)
"""The configuration table's sections: each lists the fields its class adds to `SharedSettings`."""
