"""Which HTTP proxy a client connection goes through: `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`.

A laptop IDE often reaches a hub only through its company's proxy. Both of the client's
connections honour the usual variables and tunnel through the proxy with HTTP CONNECT: the
plain HTTP transport (client/transport.py) and the WebSocket of the DAP tunnel
(client/websocket_client.py). Only this module reads the environment and matches
`NO_PROXY`; it does no I/O.

The rules are the common ones (curl, Go's net/http, requests), where they differ we say:
- `https://` servers use `HTTPS_PROXY`, `http://` servers `HTTP_PROXY`; the lowercase name
  wins over the uppercase one; an empty value means no proxy.
- a proxy URL is `http://[user:password@]host[:port]` (port 80 when absent, scheme `http`
  when absent); credentials go as `Proxy-Authorization: Basic`. Other proxy schemes
  (`https://`, `socks5://`) are refused with a sentence, never silently ignored.
- `NO_PROXY` is a comma- (or space-) separated list: `*` (no proxy at all), a domain that
  matches itself and its subdomains (`example.com`, `.example.com`, `*.example.com`), an IP
  address or CIDR network (`10.0.0.0/8`, `::1`), each optionally with `:port`.
- as in Go, loopback (`localhost`, `127.0.0.0/8`, `::1`) is never proxied: no proxy can
  reach the client's own machine.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from .errors import DebugServerClientError

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy to tunnel through: where it is, and the headers a CONNECT carries."""

    host: str
    port: int
    #: `Proxy-Authorization` when the proxy URL has credentials (never logged).
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    #: The environment variable it came from, for messages.
    variable: str = ""

    @property
    def address(self) -> str:
        """`host:port`, for messages (never with credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def proxy_for(scheme: str, host: str, port: int,
              environ: Mapping[str, str] | None = None) -> Proxy | None:
    """The proxy a connection to `scheme://host:port` goes through, or None (direct).

    Raises DebugServerClientError (reason `bad-proxy`) when the variable that applies
    holds a proxy URL this client cannot use.
    """
    env = os.environ if environ is None else environ
    name = "https_proxy" if scheme == "https" else "http_proxy"
    variable, value = _variable(env, name)
    if not value:
        return None
    if _is_loopback(host) or bypassed(host, port, _variable(env, "no_proxy")[1]):
        return None
    return parse_proxy_url(value, variable)


def _variable(env: Mapping[str, str], name: str) -> tuple[str, str]:
    """(the variable's spelling that is set, its stripped value): lowercase first."""
    for spelling in (name, name.upper()):
        value = env.get(spelling)
        if value is not None:
            return spelling, value.strip()
    return name.upper(), ""


def parse_proxy_url(value: str, variable: str = "HTTPS_PROXY") -> Proxy:
    """The Proxy that `value` (from `variable`) names; DebugServerClientError if unusable."""
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.scheme != "http":
        raise DebugServerClientError(
            None, "bad-proxy", f"{variable}={_safe(value)!r} names a {parts.scheme}:// proxy; "
            "this client tunnels through plain http:// proxies only (HTTP CONNECT)")
    try:
        port = parts.port or 80
    except ValueError:
        port = -1
    if not parts.hostname or port <= 0:
        raise DebugServerClientError(
            None, "bad-proxy", f"{variable}={_safe(value)!r} is not a proxy URL of the form "
            "http://host:port")
    headers = {}
    if parts.username is not None:
        credential = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(
            credential.encode()).decode("ascii")
    return Proxy(parts.hostname, port, headers, variable)


def _safe(value: str) -> str:
    """A proxy URL for a message: its password hidden."""
    parts = urlsplit(value if "://" in value else f"http://{value}")
    if parts.password is None:
        return value[:120]
    return value.replace(f":{parts.password}@", ":***@", 1)[:120]


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether `NO_PROXY`'s value `no_proxy` exempts `host:port` from the proxy."""
    host = host.strip("[]").lower().rstrip(".")
    address = _ip(host)
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        if "/" in name or _ip(name) is not None:
            if address is not None and _in_network(address, name):
                return True
            continue
        name = name.removeprefix("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """(host or network, port or None) of one NO_PROXY entry."""
    if entry.startswith("["):  # [v6]:port
        inside, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return inside, int(port) if port.isdigit() else None
    if entry.count(":") == 1:  # name:port or v4:port (a bare v6 address has several)
        name, _, port = entry.partition(":")
        return name, int(port) if port.isdigit() else None
    return entry, None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _in_network(address: ipaddress.IPv4Address | ipaddress.IPv6Address, entry: str) -> bool:
    try:
        return address in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False  # not an address or network after all: it matches nothing


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    address = _ip(host)
    return host in _LOOPBACK_NAMES or (address is not None and address.is_loopback)


def connect_request(host: str, port: int, proxy: Proxy) -> bytes:
    """The HTTP CONNECT request that asks `proxy` for a tunnel to `host:port`."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}",
             *(f"{name}: {value}" for name, value in proxy.headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def check_connect_response(head: bytes, host: str, port: int, proxy: Proxy) -> None:
    """Raise DebugServerClientError (reason `proxy-refused`) unless `head`, the proxy's
    answer to CONNECT up to its blank line, is a 2xx."""
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code, _, phrase = rest.partition(" ")
    if version.startswith("HTTP/") and code.isdigit() and 200 <= int(code) < 300:
        return
    what = f"HTTP {code} {phrase}".strip() if code.isdigit() else repr(status_line[:80])
    hint = " (check the credentials in the proxy URL)" if code == "407" else ""
    raise DebugServerClientError(
        int(code) if code.isdigit() else None, "proxy-refused",
        f"the proxy {proxy.address} (from {proxy.variable}) refused a tunnel to "
        f"{host}:{port}: {what}{hint}; set NO_PROXY={host} to connect directly")
