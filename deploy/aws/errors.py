"""Errors of the deployment app."""

from __future__ import annotations


class DeployConfigError(ValueError):
    """A context value of the CDK app is missing or invalid (the message names it)."""
