"""Per-request context carried by contextvars, read by the log formatter.

`RequestInfo` is mutable on purpose: the HTTP middleware creates it before the app runs, and the
auth dependency fills in the tenant even though it runs in a copied context (anyio task groups),
so the middleware's access log line still sees it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestInfo:
    tenant_id: str | None = None
    user_id: str | None = None


request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
request_info_var: ContextVar[RequestInfo | None] = ContextVar("request_info", default=None)


def set_principal(tenant_id: str, user_id: str) -> None:
    info = request_info_var.get()
    if info is not None:
        info.tenant_id = tenant_id
        info.user_id = user_id
