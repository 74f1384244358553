"""ALB listener rules derived from `deploy.services.SERVICES`, the table the dev dispatcher routes by.

The dispatcher (`deploy.local.Dispatcher`) sends a path to the first service, in table order, with a
prefix `p` such that `path == p.rstrip("/")` or `path.startswith(p)`. The ALB does the same with one
rule per prefix: the patterns `p*` (ALB's `*` matches any characters, none included) plus `p` without
its trailing slash, and priorities that follow the table order, so the first match wins on both.
Priority = 100 x (service position + 1) + prefix position: appending a service never renumbers the
rules of the services before it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from deploy.services import ServiceSpec

PRIORITY_STRIDE = 100
ALB_MAX_PRIORITY = 50_000
WEBSOCKET_PREFIXES: tuple[str, ...] = ("/v1/collab", "/v1/signal")
"""Prefixes served as WebSockets (y-websocket collab, WebRTC signaling): their service gets the long
deregistration delay, and the ALB's idle timeout (one value per load balancer) is set for them."""


@dataclass(frozen=True)
class ListenerRuleSpec:
    service: str
    prefix: str
    priority: int
    patterns: tuple[str, ...]

    @property
    def construct_id(self) -> str:
        """A stable id from the service and prefix (not the priority: renumbering must not replace)."""
        return f"Route-{self.service}-" + re.sub(r"[^A-Za-z0-9]+", "-", self.prefix).strip("-")


def path_patterns(prefix: str) -> tuple[str, ...]:
    """The ALB path patterns matching what the dispatcher sends to `prefix`."""
    bare = prefix.rstrip("/")
    patterns = [f"{prefix}*"]
    if bare != prefix and bare:
        patterns.insert(0, bare)
    return tuple(patterns)


def listener_rules(services: Mapping[str, ServiceSpec]) -> list[ListenerRuleSpec]:
    """One rule per (service, prefix), in the dispatcher's order."""
    rules: list[ListenerRuleSpec] = []
    for service_index, (name, spec) in enumerate(services.items()):
        if len(spec.path_prefixes) >= PRIORITY_STRIDE:
            raise ValueError(f"service {name!r} has {len(spec.path_prefixes)} prefixes; at most {PRIORITY_STRIDE - 1}")
        for prefix_index, prefix in enumerate(spec.path_prefixes):
            priority = PRIORITY_STRIDE * (service_index + 1) + prefix_index
            if priority > ALB_MAX_PRIORITY:
                raise ValueError("too many services for the ALB's rule priorities")
            rules.append(ListenerRuleSpec(name, prefix, priority, path_patterns(prefix)))
    return rules


def websocket_services(services: Mapping[str, ServiceSpec], prefixes: Iterable[str] = WEBSOCKET_PREFIXES) -> set[str]:
    """The services that own one of the WebSocket prefixes."""
    wanted = set(prefixes)
    return {name for name, spec in services.items() if wanted & set(spec.path_prefixes)}
