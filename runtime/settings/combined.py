"""Every service's settings in one object, for what composes several services: the CLI, `pocdojo dev`, tests.

A `Settings` is an `IdentitySettings`, a `PocSettings`, a `DojoSettings` and a `MediaSettings` at once, so it
can be handed to any service's root; each root is typed with its own class and reads nothing else.
"""

from __future__ import annotations

from runtime.settings.dojo import DojoSettings
from runtime.settings.identity import IdentitySettings
from runtime.settings.media import MediaSettings
from runtime.settings.poc import PocSettings

__all__ = ["Settings"]


class Settings(IdentitySettings, PocSettings, DojoSettings, MediaSettings):
    """All settings: the shared ones and every service's."""
