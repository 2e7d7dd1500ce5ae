"""Which OS user owns the other end of a local TCP connection.

Linux lists every TCP socket of the network namespace in /proc/net/tcp and /proc/net/tcp6
with its owner's uid. The peer of a connection we accepted is the row whose local address
is the peer's (ip, port) and whose remote address is ours. Reading these files is a
blocking call: run `socket_owner` off the event loop.

Not psutil: its `net_connections()` reads the same tables but reports a socket's pid, not
its uid, and only for processes it may inspect (another user's socket has none, so "not
ours" and "gone" look alike), after scanning every process's file descriptors.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

PROC_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))

# TCP states whose row no longer belongs to a process (the uid column reads 0).
_TIME_WAIT = "06"
_LISTEN = "0A"

Address = tuple[str, int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _normal(ip: str) -> IPAddress:
    """An address as compared here: an IPv4-mapped IPv6 address counts as its IPv4 one."""
    address = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 scope id
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_address(field: str) -> tuple[IPAddress, int]:
    """`0100007F:1F90` (as the kernel prints it) → (127.0.0.1, 8080).

    The kernel prints the address as 32-bit words in host byte order and the port in hex.
    """
    hex_ip, _, hex_port = field.partition(":")
    raw = bytes.fromhex(hex_ip)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address, int(hex_port, 16)


def owner_in_table(text: str, peer: Address, ours: Address) -> int | None:
    """The uid in one /proc/net/tcp* table of the socket at `peer` connected to `ours`."""
    want_local = (_normal(peer[0]), int(peer[1]))
    want_remote = (_normal(ours[0]), int(ours[1]))
    for line in text.splitlines()[1:]:  # the first line is the header
        fields = line.split()
        if len(fields) < 8 or fields[3] in (_TIME_WAIT, _LISTEN):
            continue
        try:
            if (parse_address(fields[1]) == want_local
                    and parse_address(fields[2]) == want_remote):
                return int(fields[7])
        except ValueError:
            continue  # a row we cannot read cannot be the peer's
    return None


def socket_owner(peer: Address, ours: Address,
                 tables: tuple[Path, ...] = PROC_TABLES) -> int | None:
    """The uid owning the peer's end of the connection `ours` ↔ `peer`, or None if this
    host has no such socket (a remote peer, or one that has already closed)."""
    for table in tables:
        try:
            text = table.read_text()
        except OSError:
            continue  # no IPv6 in this kernel, or no /proc at all
        uid = owner_in_table(text, peer, ours)
        if uid is not None:
            return uid
    return None
