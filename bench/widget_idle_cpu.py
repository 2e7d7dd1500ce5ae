#!/usr/bin/env python
"""Benchmark: what a notebook widget that follows an idle stopped session costs its kernel.

Issue 17: "the kernel's CPU use while a widget follows an idle stopped session is ~0".
One ``jupyter-debug-server serve`` subprocess, one debugpy session stopped at its
breakpoint (``targets/loop.py``), one ipykernel started as that server's kernel
(``JPY_PARENT_PID``) with ``%load_ext jupyter_debug_server``. Interleaved rounds of:

- ``baseline``  the kernel idle, no widget following anything;
- ``widget``    a ``SessionWidget`` on the stopped session, open and following (its
                events WebSocket open, its first updates sent before the window starts).

Measured per window: the kernel's CPU time (the sum of its threads' run time in
``/proc/PID/task/*/schedstat``, in nanoseconds: psutil's clock ticks of 10 ms are too
coarse for an idle kernel) divided by the window's wall time, and the comm messages the
kernel sent in the window (read off IOPub). Target: the widget adds at most 1 ms of CPU
per second (0.1 % of a core) over the baseline measured in the same run, and sends
nothing while the session is idle. Exit status 1 when either fails.

Usage: ``python bench/widget_idle_cpu.py [--seconds 10] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from jupyter_client.manager import KernelManager
from lib.bench_context import TARGET_SOURCE, find_break_line

from jupyter_debug_server.client import TOKEN_ENV, URL_ENV, DebugServerClient

#: The widget may add this much kernel CPU time per second of wall time (seconds).
TARGET_CPU_PER_SECOND = 0.001


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(workdir: Path) -> Iterator[tuple[subprocess.Popen[str], DebugServerClient, Path]]:
    """A server subprocess with its root in `workdir/root`; its process, a client, runtime."""
    root, state = workdir / "root", workdir / "state"
    root.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    runtime = state / "runtime"
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_RUNTIME_DIR=str(runtime),
               JUPYTER_DATA_DIR=str(state / "data"), JUPYTER_CONFIG_DIR=str(state / "config"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_debug_server.cli", "serve", "--port", str(port),
         "--root-dir", str(root), "--", "--ServerApp.port_retries=0",
         f"--DebugServerApp.db_path={state / 'debug.db'}"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # the extension logs its store once it is ready
        if "jupyter_debug_server: store" in line:
            break
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start within 60 s")
    # The rest of its log is read by a thread, so that the server never blocks on a pipe.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    client = DebugServerClient(f"http://127.0.0.1:{port}", token)
    try:
        yield proc, client, runtime
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class _Kernel:
    """The server's kernel: runs cells, counts the comm messages it sends."""

    def __init__(self, server: subprocess.Popen[str], runtime: Path, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in (URL_ENV, TOKEN_ENV)}
        env.update(JPY_PARENT_PID=str(server.pid), JUPYTER_RUNTIME_DIR=str(runtime))
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        assert self.km.provisioner is not None
        self.pid = int(self.km.provisioner.pid)  # type: ignore[attr-defined]

    def run(self, code: str) -> int:
        """Run a cell; how many comm messages came under it."""
        comms: list[str] = []
        reply = self.kc.execute_interactive(
            code, timeout=60, allow_stdin=False,
            output_hook=lambda m: comms.append(m["msg_type"]) if "comm" in m["msg_type"]
            else None)
        if reply["content"]["status"] != "ok":
            raise SystemExit(f"the kernel failed to run {code!r}: {reply['content']}")
        return len(comms)

    def drain(self, quiet: float = 0.2) -> int:
        """Read IOPub until nothing came for `quiet` s; how many comm messages came."""
        count = 0
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=quiet)
            except queue.Empty:
                return count
            count += msg["msg_type"] in ("comm_msg", "comm_open")

    def cpu(self) -> float:
        """CPU seconds of the kernel's threads: /proc's schedstat counts nanoseconds
        (psutil's cpu_times count clock ticks of 10 ms, too coarse for an idle kernel)."""
        total = 0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError):  # (a thread that ended meanwhile)
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _window(kernel: _Kernel, seconds: float) -> tuple[float, int]:
    """Kernel CPU seconds per wall second over a window of `seconds`, and the comm
    messages sent in it."""
    kernel.drain()
    start_cpu, start = kernel.cpu(), time.monotonic()
    time.sleep(seconds)  # the measured window: nothing else runs in the kernel meanwhile
    used, wall = kernel.cpu() - start_cpu, time.monotonic() - start
    return used / wall, kernel.drain()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each window")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="jds-widget-idle-"))
    results: dict[str, list[float]] = {"baseline": [], "widget": []}
    sent: dict[str, int] = {"baseline": 0, "widget": 0}
    try:
        with _server(workdir) as (proc, client, runtime):
            target = workdir / "root" / "loop.py"
            shutil.copyfile(TARGET_SOURCE, target)
            line = find_break_line(target)
            model = client.create_session({
                "debugger": "debugpy", "program": str(target),
                "breakpoints": [{"path": str(target), "line": line}]})
            stopped = client.wait_settled(model["id"], 60)
            if stopped["state"] != "stopped":
                raise SystemExit(f"the session did not stop: {stopped['state']}")
            kernel = _Kernel(proc, runtime, workdir / "root")
            try:
                kernel.run("%load_ext jupyter_debug_server")
                kernel.run("from jupyter_debug_server.kernel.widgets import SessionWidget")
                for _ in range(args.rounds):
                    used, count = _window(kernel, args.seconds)
                    results["baseline"].append(used)
                    sent["baseline"] += count
                    opened = kernel.run(f"w = SessionWidget({model['id']!r})")
                    # Its first updates (the stop, the stack, the variables) come before
                    # the window, which measures following an idle session only.
                    if opened + kernel.drain(quiet=1.0) < 2:
                        raise SystemExit("the widget sent no update of the stopped session")
                    used, count = _window(kernel, args.seconds)
                    results["widget"].append(used)
                    sent["widget"] += count
                    kernel.run("w.close(); w.unfollowed.result(10)")
            finally:
                kernel.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"{'mode':<10} {'windows':>7} {'median ms/s':>12} {'max ms/s':>9} {'comm msgs':>10}")
    for mode, values in results.items():
        print(f"{mode:<10} {len(values):>7} {statistics.median(values) * 1000:>12.3f} "
              f"{max(values) * 1000:>9.3f} {sent[mode]:>10}")
    added = statistics.median(results["widget"]) - statistics.median(results["baseline"])
    ok = added <= TARGET_CPU_PER_SECOND and sent["widget"] == 0
    print(f"\nwidget - baseline = {added * 1000:+.3f} ms of kernel CPU per second "
          f"({added * 100:+.4f} % of a core); comm messages while idle: {sent['widget']}")
    print(f"target: <= {TARGET_CPU_PER_SECOND * 1000:.1f} ms/s and no message: "
          f"{'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
