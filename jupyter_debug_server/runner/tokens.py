"""Session tokens: credentials for one session's control and stream routes (DESIGN §3, §4).

Owned by the server's event loop. The `TokenRegistry` issues, lists, revokes, checks and
expires tokens. The store keeps the record (hash, scope, times, revocation); the registry
keeps the tokens of this server run in memory, so checking a token costs no store round
trip on the stepping path. That memory is authoritative: a token only works for a live
session of this server, and every session of an earlier server run has ended (one that
another server sharing the store runs is that server's), so an empty table after a
restart refuses exactly the tokens that must be refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from .errors import DebugServerError, TokenNotFound, TokenRefused

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger(__name__)

#: Every session token starts with this, so a handler can tell it from Jupyter's own token.
SECRET_PREFIX = "jds_"
SCOPES = ("control", "observe")

# What an `observe` token may send through the DAP tunnel is dap.mux.OBSERVE_COMMANDS.


class Cancellable(Protocol):
    """What `call_later` returns: something whose callback can be cancelled."""

    def cancel(self) -> object:
        """Prevent the callback from running."""


CallLater = Callable[[float, Callable[[], None]], Cancellable]
CloseCallback = Callable[[str], None]


@dataclass(frozen=True)
class Grant:
    """What a valid token allows: one session, one scope, until `expires` (epoch seconds)."""

    token_id: str
    session_id: str
    scope: str
    expires: float

    @property
    def read_only(self) -> bool:
        """Whether the token may only read (scope `observe`)."""
        return self.scope == "observe"


@dataclass
class _Live:
    grant: Grant
    digest: str
    dead: str | None = None  # why it no longer works: "was revoked", "has expired", …
    timer: Cancellable | None = None
    watchers: set[CloseCallback] = field(default_factory=set)


def _digest(secret: str) -> str:
    # A plain sha256 suffices: the secret has 256 random bits, so there is nothing to
    # brute-force and no need for a slow, salted password hash.
    return hashlib.sha256(secret.encode()).hexdigest()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def looks_like_token(value: str) -> bool:
    """Whether a credential has the session-token format (not whether it is valid)."""
    return value.startswith(SECRET_PREFIX)


class TokenRegistry:
    """The session tokens of this server run; see the module docstring.

    `clock` (epoch seconds) and `call_later(delay, callback)` are attributes so tests can
    swap in a fake clock: expiry is then tested without sleeping.
    """

    def __init__(self, store: Store, *, default_ttl: int, max_ttl: int,
                 session_active: Callable[[str], bool],
                 clock: Callable[[], float] = time.time,
                 call_later: CallLater | None = None) -> None:
        self.store = store
        self.max_ttl = max_ttl
        self.default_ttl = min(default_ttl, max_ttl)
        self.session_active = session_active
        self.clock = clock
        self.call_later: CallLater = call_later or self._loop_call_later
        self._by_digest: dict[str, _Live] = {}
        self._by_id: dict[str, _Live] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @staticmethod
    def _loop_call_later(delay: float, callback: Callable[[], None]) -> Cancellable:
        return asyncio.get_running_loop().call_later(delay, callback)

    # -- input -------------------------------------------------------------------------

    def parse_ttl(self, value: Any) -> int:
        """A requested lifetime in seconds: the default if absent, else 1…token_max_ttl."""
        if value is None:
            return self.default_ttl
        if not isinstance(value, int) or isinstance(value, bool):
            raise DebugServerError(f"ttl must be a whole number of seconds, not {value!r:.40}",
                                   reason="bad-argument")
        if value <= 0 or value > self.max_ttl:
            raise DebugServerError(
                f"ttl {value} is out of range: a token lives 1 to {self.max_ttl} seconds "
                "(the maximum is c.DebugServerApp.token_max_ttl)", reason="bad-argument")
        return value

    @staticmethod
    def parse_scope(value: Any) -> str:
        """A requested scope: `control` or `observe` (required, so no one gets more by default)."""
        if value not in SCOPES:
            raise DebugServerError(f"scope {value!r:.40} is not one of control, observe",
                                   reason="bad-argument")
        return str(value)

    # -- issue, list, revoke -------------------------------------------------------------

    async def issue(self, session_id: str, scope: str, ttl: int, user: str) -> dict[str, Any]:
        """Create a token; the answer is the only place its secret ever appears."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 bits
        token_id = uuid.uuid4().hex[:12]
        now = self.clock()
        grant = Grant(token_id, session_id, scope, now + ttl)
        record = {"id": token_id, "session_id": session_id, "scope": scope,
                  "created": _iso(now), "expires": _iso(grant.expires)}
        await self.store.insert_token(record | {"hash": _digest(secret)})
        await self.store.add_audit(session_id, "token-issue", user,
                                   {"token_id": token_id, "scope": scope, "ttl": ttl})
        live = _Live(grant, _digest(secret))
        self._by_digest[live.digest] = self._by_id[token_id] = live
        if not self.session_active(session_id):
            # The session ended while the record was being written.
            self._kill(live, "ended with its session")
        else:
            live.timer = self.call_later(ttl, lambda: self._on_timer(token_id))
        return record | {"secret": secret}

    async def list_tokens(self, session_id: str) -> list[dict[str, Any]]:
        """A session's tokens, oldest first, without secrets or hashes."""
        now = self.clock()
        out = []
        for row in await self.store.list_tokens(session_id):
            live = self._by_id.get(row["id"])
            active = (live is not None and live.dead is None and not row["revoked"]
                      and now < live.grant.expires)
            out.append({"id": row["id"], "session_id": row["session_id"],
                        "scope": row["scope"], "created": row["created"],
                        "expires": row["expires"], "revoked": row["revoked"],
                        "active": active})
        return out

    async def revoke(self, session_id: str, token_id: str, user: str) -> None:
        """Revoke a token at once (idempotent); 404 if the session has no such token."""
        live = self._by_id.get(token_id)
        if live is not None and live.grant.session_id == session_id:
            self._kill(live, "was revoked")  # before any await: refused from this moment
        elif token_id not in {t["id"] for t in await self.store.list_tokens(session_id)}:
            raise TokenNotFound(f"session {session_id} has no token with id {token_id!r}")
        await self.store.revoke_token(token_id)
        await self.store.add_audit(session_id, "token-revoke", user, {"token_id": token_id})

    def end_session(self, session_id: str) -> None:
        """Kill every token of a session that has ended (called by the manager)."""
        ended = [t for t in self._by_id.values()
                 if t.grant.session_id == session_id and t.dead is None]
        for live in ended:
            self._kill(live, "ended with its session")
        if ended:
            task = asyncio.ensure_future(self._persist_end(session_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _persist_end(self, session_id: str) -> None:
        try:
            await self.store.revoke_session_tokens(session_id)
        except Exception:
            log.exception("could not record the revocation of session %s's tokens", session_id)

    async def drain(self) -> None:
        """Wait for pending store writes (before the store closes)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- check and watch ---------------------------------------------------------------

    def check(self, secret: str, session_id: str) -> Grant:
        """The grant of a token presented for `session_id`; TokenRefused if it is not valid."""
        digest = _digest(secret)
        live = self._by_digest.get(digest)
        # The dict finds the candidate; the comparison that decides runs in constant time.
        if live is None or not hmac.compare_digest(live.digest, digest):
            raise TokenRefused("the session token is not valid: it is unknown, or was issued "
                               "by an earlier run of the server")
        if live.dead is None and self.clock() >= live.grant.expires:
            self._kill(live, "has expired")
        if live.dead is None and not self.session_active(live.grant.session_id):
            self._kill(live, "ended with its session")
        if live.dead is not None:
            raise TokenRefused(f"the session token {live.grant.token_id} {live.dead}; ask "
                               "the session's owner for a new one")
        if live.grant.session_id != session_id:
            raise TokenRefused(f"the session token {live.grant.token_id} is not valid for "
                               f"session {session_id!r}: a token works only for its own "
                               "session")
        return live.grant

    def watch(self, token_id: str, on_close: CloseCallback) -> Callable[[], None]:
        """Call `on_close(why)` once when the token dies; returns the unsubscribe function.

        For connections authenticated by the token (WebSockets, tunnels): they close when
        it is revoked, expires or its session ends. A token that died meanwhile calls back
        on the next loop iteration.
        """
        live = self._by_id.get(token_id)
        if live is None or live.dead is not None:
            why = live.dead if live is not None and live.dead else "is not valid"
            asyncio.get_running_loop().call_soon(on_close, why)
            return lambda: None
        live.watchers.add(on_close)
        return lambda: live.watchers.discard(on_close)

    def _on_timer(self, token_id: str) -> None:
        live = self._by_id[token_id]
        if live.dead is not None:
            return
        remaining = live.grant.expires - self.clock()
        if remaining > 0:
            # The loop's monotonic timer and the wall clock drifted apart: wait the rest.
            live.timer = self.call_later(remaining, lambda: self._on_timer(token_id))
            return
        self._kill(live, "has expired")

    def _kill(self, live: _Live, why: str) -> None:
        live.dead = why
        if live.timer is not None:
            live.timer.cancel()
            live.timer = None
        watchers, live.watchers = live.watchers, set()
        log.info("session token %s of session %s %s", live.grant.token_id,
                 live.grant.session_id, why)
        for on_close in watchers:
            try:
                on_close(why)
            except Exception:
                log.exception("closing a connection of token %s failed", live.grant.token_id)
