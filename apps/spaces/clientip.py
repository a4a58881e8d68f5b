"""The client's address, as far as it can be trusted: for the login rate limiter and the audit log.

Not behind a proxy (the default), it is REMOTE_ADDR, whatever X-Forwarded-For says: a client could
write anything there to escape its rate limit. With BEHIND_PROXY, each trusted proxy appends the
address it saw to X-Forwarded-For, so the entry FASTN_TRUSTED_PROXY_COUNT places from the right
is the one the outermost trusted proxy saw; anything to its left came from the client. Without
this, every user behind the proxy would share the proxy's address, and one limit.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    if settings.BEHIND_PROXY:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if hops:
            # A shorter chain than configured means a trusted proxy was skipped: the leftmost
            # entry is then still one a trusted proxy wrote, the best we have.
            address = _clean(hops[-min(settings.FASTN_TRUSTED_PROXY_COUNT, len(hops))])
            if address:
                return address
    return _clean(request.META.get("REMOTE_ADDR", ""))


def _clean(value: str) -> str | None:
    """A normalised IP address, or None for anything else (a proxy may add a port or brackets)."""
    value = value.strip()
    if value.startswith("["):  # [2001:db8::1]:443
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # 192.0.2.1:443
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
