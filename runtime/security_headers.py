"""The security headers every HTTP response carries (OWASP Secure Headers and REST Security cheat sheets).

The services answer JSON (and problem+json), never pages that should run scripts or be framed, so every
response says so: `X-Content-Type-Options: nosniff` (no MIME sniffing of a JSON body into HTML),
`X-Frame-Options: DENY` with `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'` (nothing
loads, nothing frames it), `Referrer-Policy: no-referrer`. The interactive API docs page (`/docs`) loads
Swagger UI's script and styles, so it gets `frame-ancestors 'none'` only. `Strict-Transport-Security` is
sent only on a request that came over TLS: to the server itself, or to the proxy in front of it, as the
trusted proxy's `X-Forwarded-Proto` says (a browser ignores HSTS over plain HTTP anyway, and a dev server on
http must not pin a host to https).

The header lists are built once; `RequestContextMiddleware` appends one of them to every response.
"""

from __future__ import annotations

from collections.abc import Sequence

Headers = tuple[tuple[bytes, bytes], ...]

_COMMON: Headers = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_PAGE_CSP = (b"content-security-policy", b"frame-ancestors 'none'")
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

API: Headers = (*_COMMON, _API_CSP)
API_TLS: Headers = (*API, _HSTS)
PAGE: Headers = (*_COMMON, _PAGE_CSP)
PAGE_TLS: Headers = (*PAGE, _HSTS)


def security_headers(*, page: bool, tls: bool) -> Headers:
    """The headers of one response: `page` for an HTML page that loads its own assets (the docs)."""
    if page:
        return PAGE_TLS if tls else PAGE
    return API_TLS if tls else API


def came_over_tls(scheme: str, forwarded_proto: bytes | None, trusted_proxy_hops: int) -> bool:
    """Whether the client's connection was TLS: the server's own scheme, or, behind `trusted_proxy_hops`
    proxies, the scheme the outermost trusted proxy recorded in X-Forwarded-Proto (the entry it appended,
    counted from the right as `client_address` counts X-Forwarded-For; an ALB sends a single value)."""
    if scheme in ("https", "wss"):
        return True
    if trusted_proxy_hops <= 0 or forwarded_proto is None:
        return False
    if forwarded_proto == b"https":  # what an ALB sends: one value
        return True
    hops: Sequence[bytes] = [h.strip() for h in forwarded_proto.split(b",") if h.strip()]
    if not hops:
        return False
    chosen = hops[-trusted_proxy_hops] if len(hops) >= trusted_proxy_hops else hops[0]
    return chosen.lower() == b"https"
