"""The `identity` fixture: a running identity service (tests/identity/harness.py)."""

from tests.identity.harness import identity

__all__ = ["identity"]
