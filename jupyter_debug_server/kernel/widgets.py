"""Live notebook widgets of debug sessions: `SessionWidget`, `OutputWidget`, `SessionsWidget`.

Built on anywidget 0.11 (which runs on ipywidgets 8.1's comm protocol) rather than
ipywidgets' own controls: the front end is one plain-DOM ES module next to this file
(`widget.js`, `widget.css`; no build step, nothing fetched from the network), and output
can be streamed as custom messages carrying only the new text, where ipywidgets'
`Output.append_stdout` resends the whole output list on every call.

The widgets are fed by the kernel's one updater thread (updater.py, followers.py), which
keeps pushing while another cell runs. The traits hold what is shown and nothing else: the
client's token stays in the Python client objects, never in a trait (widget state is saved
into the .ipynb). Button clicks arrive as custom messages on the kernel's shell channel
(so, like every widget message, after a running cell finishes) and are handed to the
updater at once; the client library is called there, never on the kernel's loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..client import DebugServerClient, connect
from .followers import OutputFollower, SessionFollower, SessionsFollower, clone
from .updater import Pusher, updater

__all__ = ["OutputWidget", "SessionWidget", "SessionsWidget"]

_HERE = Path(__file__).parent
# Read once at import: the same text is every widget's `_esm`/`_css` (anywidget would
# watch a Path for changes, which needs a thread of its own).
_ESM = (_HERE / "widget.js").read_text(encoding="utf-8")
_CSS = (_HERE / "widget.css").read_text(encoding="utf-8")
#: Output lines an output tail keeps, by default.
TAIL_LINES = 200


class _DebugWidget(anywidget.AnyWidget):
    """What the three widgets share: the front end, the error line, following."""

    _esm = _ESM
    _css = _CSS
    view = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    following = traitlets.Bool(False).tag(sync=True)

    def _start(self, client: DebugServerClient | None, run: Any) -> None:
        """Give the follower `run(client, pusher, updater)` to the updater thread."""
        self._client = clone(client) if client is not None else connect()
        self._updater = updater()
        self._pusher = Pusher(self._push)
        self._follower = run(self._client, self._pusher, self._updater)
        self.on_msg(self._on_message)
        if self.comm is not None:
            self.comm.on_close(lambda _msg: self._stop_following())
        self._updater.follow(id(self), self._follower.run)

    def _push(self, traits: dict[str, Any], messages: list[dict[str, Any]]) -> None:
        """Apply one coalesced update (in the updater thread, the only writer of traits)."""
        if self.comm is None:
            return  # closed meanwhile
        with self.hold_sync():
            for name, value in traits.items():
                setattr(self, name, value)
        for message in messages:
            self.send(message)

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A custom message of the front end (on the kernel's thread: hand it on)."""
        if isinstance(content, dict) and content.get("type") == "tail":
            resend = getattr(self._follower, "resend_output", None)
            if resend is not None:
                self._updater.call(resend)

    def _stop_following(self) -> Any:
        self._updater.call(self._pusher.cancel)
        return self._updater.unfollow(id(self))

    def close(self) -> None:
        """Stop following (the updater closes this widget's streams), close the comm."""
        if getattr(self, "_updater", None) is not None:
            self.unfollowed = self._stop_following()
        super().close()


class SessionWidget(_DebugWidget):
    """A debug session, live: state, location with source context, stack, variables of the
    top frame, watches, snapshot timeline, output tail, and control buttons."""

    session_id = traitlets.Unicode("").tag(sync=True)
    session = traitlets.Dict().tag(sync=True)
    location = traitlets.Dict().tag(sync=True)
    stack: traitlets.List[Any] = traitlets.List().tag(sync=True)
    variables: traitlets.List[Any] = traitlets.List().tag(sync=True)
    watches: traitlets.List[Any] = traitlets.List().tag(sync=True)
    snapshots = traitlets.Dict({"count": 0, "latest": []}).tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)
    tail_lines = traitlets.Int(TAIL_LINES).tag(sync=True)

    def __init__(self, session_id: str, client: DebugServerClient | None = None, *,
                 tail_lines: int = TAIL_LINES, **kwargs: Any) -> None:
        super().__init__(view="session", session_id=session_id, tail_lines=tail_lines,
                         **kwargs)
        self._start(client, lambda c, p, u: SessionFollower(c, session_id, p, u, tail_lines))

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "command":
            follower: SessionFollower = self._follower
            self._updater.submit(follower.command(str(content.get("command")),
                                                  str(content.get("kind") or "over")))
            return
        super()._on_message(widget, content, buffers)


class OutputWidget(_DebugWidget):
    """A session's output, followed live (the last `tail_lines` lines)."""

    session_id = traitlets.Unicode("").tag(sync=True)
    session = traitlets.Dict().tag(sync=True)
    tail_lines = traitlets.Int(TAIL_LINES).tag(sync=True)

    def __init__(self, session_id: str, client: DebugServerClient | None = None, *,
                 tail_lines: int = TAIL_LINES, **kwargs: Any) -> None:
        super().__init__(view="output", session_id=session_id, tail_lines=tail_lines,
                         **kwargs)
        self._start(client, lambda c, p, u: OutputFollower(c, session_id, p, u, tail_lines))


class SessionsWidget(_DebugWidget):
    """The server's debug sessions, live (the newest 100)."""

    sessions: traitlets.List[Any] = traitlets.List().tag(sync=True)

    def __init__(self, client: DebugServerClient | None = None, **kwargs: Any) -> None:
        super().__init__(view="sessions", **kwargs)
        self._start(client, SessionsFollower)
