"""A real ipykernel (started by jupyter_client) that finds a test server the way a
notebook's kernel does: `JPY_PARENT_PID` names the server, whose `jpserver-<pid>.json` in
the runtime dir gives its URL and token (no JUPYTER_DEBUG_SERVER_* variables are set)."""

from __future__ import annotations

import ast
import contextlib
import os
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager

from jupyter_debug_server.client import TOKEN_ENV, URL_ENV

from ..support.server_process import ServerProcess

Message = dict[str, Any]


@dataclass
class Cell:
    """What one executed cell produced."""

    status: str
    result: dict[str, Any] = field(default_factory=dict)  # execute_result's data
    displays: list[dict[str, Any]] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return str(self.result.get("text/plain", ""))

    @property
    def html(self) -> str:
        return str(self.result.get("text/html", ""))

    def everything(self) -> str:
        return repr(self)


class Kernel:
    """A started ipykernel and a blocking client of it."""

    def __init__(self, km: KernelManager) -> None:
        self.km = km
        self.kc = km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def __call__(self, code: str, timeout: float = 90) -> Cell:
        outputs: list[dict[str, Any]] = []
        reply = self.kc.execute_interactive(code, output_hook=outputs.append,
                                            timeout=timeout, allow_stdin=False)
        cell = Cell(reply["content"]["status"])
        for msg in outputs:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "execute_result":
                cell.result = content["data"]
            elif kind == "display_data":
                cell.displays.append(content["data"])
            elif kind == "stream":
                setattr(cell, content["name"], getattr(cell, content["name"]) + content["text"])
            elif kind == "error":
                cell.errors.append(content)
        assert "Traceback" not in cell.everything(), cell
        return cell

    def ok(self, code: str, timeout: float = 90) -> Cell:
        cell = self(code, timeout)
        assert cell.status == "ok" and not cell.errors and not cell.stderr, cell
        return cell

    def refused(self, code: str) -> str:
        """The one-line UsageError a cell failed with (no traceback, no error output)."""
        cell = self(code)
        assert cell.status == "error" and not cell.errors and not cell.result, cell
        assert cell.stderr.startswith("UsageError: ") and cell.stderr.count("\n") == 1, cell
        return cell.stderr.removeprefix("UsageError: ").strip()

    def value(self, expression: str) -> Any:
        """The value of `expression` in the kernel (through repr and literal_eval)."""
        return ast.literal_eval(self.ok(f"print(repr({expression}))").stdout.strip())


class IOPub:
    """Every IOPub message of a kernel, kept (comm messages included, whichever cell they
    came under), read as they come: `execute_interactive` drops the messages of other
    cells, and a widget's updates come from its own thread at any time."""

    def __init__(self, kernel: Kernel) -> None:
        self.kc = kernel.kc
        self.seen: list[Message] = []

    def execute(self, code: str) -> str:
        """Start running `code` (no waiting); its msg_id."""
        return str(self.kc.execute(code, allow_stdin=False))

    def until(self, predicate: Callable[[Message], bool], timeout: float = 30) -> Message:
        """Read messages until one satisfies `predicate` (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no such message within {timeout} s; seen {self.seen[-20:]}"
            try:
                msg = self.kc.get_iopub_msg(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(msg)
            if predicate(msg):
                return msg

    def idle(self, msg_id: str, timeout: float = 60) -> Message:
        """Read until the cell `msg_id` is done (its `status: idle`)."""
        return self.until(lambda m: m["msg_type"] == "status"
                          and m["parent_header"].get("msg_id") == msg_id
                          and m["content"]["execution_state"] == "idle", timeout)


def kernel_env(server: ServerProcess) -> dict[str, str]:
    """The environment of a kernel that this server started."""
    assert server.proc is not None
    env = {k: v for k, v in os.environ.items() if k not in (URL_ENV, TOKEN_ENV)}
    env.update(JPY_PARENT_PID=str(server.proc.pid),
               JUPYTER_RUNTIME_DIR=str(server.state / "runtime"))
    return env


@contextlib.contextmanager
def started_kernel(server: ServerProcess) -> Iterator[Kernel]:
    """A kernel in the server's root with the extension loaded, shut down on exit."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(server.root), env=kernel_env(server))
    kernel = Kernel(km)
    try:
        kernel.ok("%load_ext jupyter_debug_server")
        yield kernel
    finally:
        kernel.kc.stop_channels()
        km.shutdown_kernel(now=True)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class Widgets(IOPub):
    """The widgets of a kernel as a front end sees them: each comm's state (its open
    message's, then every update merged in) and custom messages; and a front end's
    messages sent to them."""

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self.states: dict[str, dict[str, Any]] = {}
        self.custom: dict[str, list[dict[str, Any]]] = {}
        self.updates: dict[str, int] = {}  # how many updates each comm got

    def until(self, predicate: Callable[[Message], bool], timeout: float = 30) -> Message:
        return super().until(lambda m: self._take(m) or predicate(m), timeout)

    def _take(self, msg: Message) -> bool:
        content = msg["content"]
        if msg["msg_type"] == "comm_open" and content.get("target_name") == "jupyter.widget":
            self.states[content["comm_id"]] = dict(content["data"]["state"])
        elif msg["msg_type"] == "comm_msg" and content["comm_id"] in self.states:
            data = content["data"]
            if data.get("method") == "update":
                self.states[content["comm_id"]].update(data["state"])
                self.updates[content["comm_id"]] = self.updates.get(content["comm_id"], 0) + 1
            elif data.get("method") == "custom":
                self.custom.setdefault(content["comm_id"], []).append(data["content"])
        return False

    def run(self, code: str, timeout: float = 90) -> list[Message]:
        """Run a cell to its end; its messages (an error or stderr fails)."""
        msg_id = self.execute(code)
        first = len(self.seen)
        self.idle(msg_id, timeout)
        mine = [m for m in self.seen[first:] if m["parent_header"].get("msg_id") == msg_id]
        bad = [m for m in mine if m["msg_type"] == "error"
               or (m["msg_type"] == "stream" and m["content"]["name"] == "stderr")]
        assert not bad, bad
        return mine

    def shown(self, code: str) -> str:
        """Run a cell whose result is a widget; the widget's comm id."""
        results = [m for m in self.run(code) if m["msg_type"] == "execute_result"]
        assert results and WIDGET_VIEW in results[0]["content"]["data"], results
        comm_id = str(results[0]["content"]["data"][WIDGET_VIEW]["model_id"])
        assert comm_id in self.states, "the widget's comm_open came before its result"
        return comm_id

    def wait(self, comm_id: str, predicate: Callable[[dict[str, Any]], bool],
             timeout: float = 30) -> dict[str, Any]:
        """The widget's state once `predicate` holds for it."""
        if not predicate(self.states[comm_id]):
            self.until(lambda _m: predicate(self.states[comm_id]), timeout)
        return self.states[comm_id]

    def send(self, comm_id: str, content: dict[str, Any]) -> None:
        """A front end's custom message to the widget (as a button click sends one)."""
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {
            "method": "custom", "content": content}})
        self.kc.shell_channel.send(msg)
