"""Which HTTP proxy a connection to the server goes through (`HTTPS_PROXY`, `HTTP_PROXY`,
`NO_PROXY`), for the CLI on a laptop that reaches a hub only through a proxy.

Interim version (issue 13): the WebSocket layer's `client/proxy.py` (branch i13-ws) is the
full one; this one has the same entry point, `proxy_for(url)`, for client/transport.py.
The rules are the common ones (curl, Go, requests): `https://` servers use `HTTPS_PROXY`,
`http://` ones `HTTP_PROXY`, the lowercase name wins and an empty value means none;
`NO_PROXY` is a comma-separated list of `*`, host names (each also matching its
subdomains; a leading `.` or `*.` is ignored) and IP addresses or networks, each
optionally with `:port`. Loopback is never proxied: no proxy can reach this machine's
own servers. It does no I/O.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from .errors import DebugServerClientError

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> tuple[str, int] | None:
    """(host, port) of the HTTP proxy that a connection to `url` must tunnel through
    (HTTP CONNECT), or None to connect directly.

    Raises DebugServerClientError (reason `bad-proxy`) when the variable that applies
    holds something that is not an `http://host[:port]` proxy URL.
    """
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    variable, value = _variable(env, f"{parts.scheme}_proxy")
    host = (parts.hostname or "").lower().rstrip(".")
    if not value or _is_loopback(host):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if bypassed(host, port, _variable(env, "no_proxy")[1]):
        return None
    return _parse(value, variable)


def _variable(env: Mapping[str, str], name: str) -> tuple[str, str]:
    """(the spelling that is set, its stripped value), the lowercase spelling first."""
    for spelling in (name, name.upper()):
        if spelling in env:
            return spelling, env[spelling].strip()
    return name.upper(), ""


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether the `NO_PROXY` value `no_proxy` exempts `host:port` from the proxy."""
    entries = [e.strip().lower() for e in no_proxy.replace(" ", ",").split(",")]
    return "*" in entries or any(_matches(e, host, port) for e in entries if e)


def _matches(entry: str, host: str, port: int) -> bool:
    """Whether one NO_PROXY entry names `host:port`."""
    name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
    name = name.strip("[]")
    if entry_port and entry_port != str(port):
        return False
    address = _ip(host)
    if address is not None:
        try:
            return address in ipaddress.ip_network(name, strict=False)
        except ValueError:
            return False  # a host name matches no address
    name = name.removeprefix("*").strip(".")
    return bool(name) and (host == name or host.endswith("." + name))


def _has_port(entry: str) -> bool:
    """`name:port`, `v4:port` or `[v6]:port` (a bare IPv6 address has several colons)."""
    return entry.count(":") == 1 or (entry.startswith("[") and "]:" in entry)


def _parse(value: str, variable: str) -> tuple[str, int]:
    parts = urlsplit(value if "://" in value else f"http://{value}")
    try:
        port = parts.port or 80
    except ValueError:  # not a number, or out of range
        port = 0
    if parts.scheme != "http" or not parts.hostname or not port:
        raise DebugServerClientError(
            None, "bad-proxy", f"{variable} ({parts.scheme}://{parts.hostname or '?'}…) is "
            "not a proxy URL of the form http://host:port; the client tunnels through plain "
            "http:// proxies only")
    return parts.hostname, port


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    address = _ip(host)
    return host in _LOOPBACK_NAMES or (address is not None and address.is_loopback)
