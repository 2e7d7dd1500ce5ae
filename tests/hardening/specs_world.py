"""The files and processes the hostile launch specs aim at, and the checks of each answer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import requests

from ..support.os_users import other_user, system_python
from ..support.server_process import ServerProcess
from .faults_support import descendants, make_root, start_server
from .specs_escapes import Places

# Writes its argv (after argv[0]) as JSON to $ARGV_OUT: what the target really received.
ARGV_DUMP_PY = """\
import json, os, sys
with open(os.environ["ARGV_OUT"], "w") as out:
    json.dump(sys.argv[1:], out)
"""

ARGV_DUMP_C = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    FILE *out = fopen(getenv("ARGV_OUT"), "w");
    if (!out) return 1;
    fputc('[', out);
    for (int i = 1; i < argc; i++) {
        fputc('"', out);
        for (char *c = argv[i]; *c; c++) {
            if (*c == '"' || *c == '\\') fputc('\\', out);
            if (*c == '\n') { fputs("\\n", out); continue; }
            fputc(*c, out);
        }
        fputc('"', out);
        if (i + 1 < argc) fputc(',', out);
    }
    fputc(']', out);
    fclose(out);
    return 0;
}
"""

# Loaded by LD_PRELOAD: leaves a file named after the process that loaded it.
PRELOAD_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((constructor)) static void mark(void) {
    const char *dir = getenv("MARK_DIR");
    char path[512];
    if (!dir) return;
    snprintf(path, sizeof path, "%s/preloaded-%d", dir, (int)getpid());
    close(open(path, O_CREAT | O_WRONLY, 0600));
}
"""

# On PYTHONPATH as sitecustomize: leaves a file named after the process that imported it.
SITECUSTOMIZE_PY = """\
import os
_dir = os.environ.get("MARK_DIR")
if _dir:
    open(os.path.join(_dir, "imported-%d" % os.getpid()), "w").close()
"""

EVIL_PY = """\
import pathlib
pathlib.Path(__file__).with_name("EVIL_RAN").touch()
"""

#: c.DebugServerApp.max_request_body (the default, which the world's server keeps).


@dataclass
class World:
    """A server, its root, the places outside it, and the tallies of the answers."""

    server: ServerProcess
    root: Path
    outside: Path
    places: Places
    session: requests.Session
    secrets: set[str] = field(default_factory=set)
    leaked: set[str] = field(default_factory=set)  # secrets found in the log so far
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    calls: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def auth(self) -> tuple[dict[str, str], dict[str, str]]:
        """Headers and query of the next call: every other call carries `?token=` (the
        form a browser uses, and the one whose URI tornado would log in clear)."""
        self.calls += 1
        if self.calls % 2:
            return {}, {"token": self.server.token}
        return {"Authorization": f"token {self.server.token}"}, {}

    def post_spec(self, label: str, body: bytes, keep: bool = False) -> tuple[int, Any]:
        """POST one launch spec; check and tally its answer; end a created session unless
        `keep` (then the caller ends it)."""
        headers, query = self.auth()
        # (An over-limit body is answered 413 with `Connection: close` before it is read:
        # the pooled connection is not reused.)
        response = self.session.post(f"{self.url}/api/debug/sessions", data=body,
                                     headers=headers, params=query, timeout=90)
        self.counts["specs"] += 1
        status, answer = response.status_code, _json(response)
        self.check_answer(label, status, answer)
        if status == 201 and isinstance(answer, dict):
            self.check_inside(label, answer)
            if not keep:
                self.delete(answer["id"])
        return status, answer

    def check_answer(self, label: str, status: int, answer: Any) -> None:
        """No 5xx; a 4xx is a sentence that names its reason."""
        if status >= 500:
            self.counts["status_5xx"] += 1
            self.problems.append(f"{label}: {status} {str(answer)[:300]}")
        elif status >= 400:
            self.counts["status_4xx"] += 1
            problem = error_body_problem(answer)
            if problem:
                self.problems.append(f"{label}: {status} {problem}: {str(answer)[:300]}")
        else:
            self.counts["status_2xx"] += 1

    def check_inside(self, label: str, model: dict[str, Any]) -> None:
        """A created session's paths, and its target's real cwd and exe, are in root."""
        outside = [f"{k}={v!r}" for k, v in _model_paths(model) if not self.inside(v)]
        outside += self._process_escapes(model)
        if outside:
            self.counts["outside_root"] += 1
            self.problems.append(f"{label}: session resolved outside root: {outside}")

    def _process_escapes(self, model: dict[str, Any]) -> list[str]:
        out = []
        pid = model.get("pid")
        if pid and model.get("request") == "launch":
            try:
                target = psutil.Process(pid)
                out += [f"target cwd {c!r}" for c in [target.cwd()] if not self.inside(c)]
                exe = target.exe()
                if model.get("debugger") != "debugpy" and not self.inside(exe):
                    out.append(f"target exe {exe!r}")
            except psutil.Error:
                pass  # it has exited already: the model's paths were checked
        for worker in self.workers(model["id"]):
            try:
                cwd = worker.cwd()
            except psutil.Error:
                continue
            # A worker may run from a neutral folder, never from one a spec led outside to.
            if Path(cwd).is_relative_to(self.outside):
                out.append(f"worker cwd {cwd!r}")
        return out

    def inside(self, path: str) -> bool:
        return Path(path).resolve().is_relative_to(self.root.resolve())

    def workers(self, session_id: str) -> list[psutil.Process]:
        out = []
        for proc in descendants(self.server.proc.pid):  # type: ignore[union-attr]
            try:
                if session_id in proc.cmdline():
                    out.append(proc)
            except psutil.Error:
                pass
        return out

    def delete(self, session_id: str) -> None:
        headers, query = self.auth()
        self.session.delete(f"{self.url}/api/debug/sessions/{session_id}", headers=headers,
                            params=query, timeout=60)


def error_body_problem(answer: Any) -> str | None:
    """What is wrong with a 4xx body, if anything."""
    if not isinstance(answer, dict):
        return "body is not a JSON object"
    message, reason = answer.get("message"), answer.get("reason")
    if not isinstance(message, str) or len(message.split()) < 3:
        return "no 'message' sentence"
    if "Traceback" in message:
        return "a traceback in 'message'"
    if not isinstance(reason, str) or not reason:
        return "no 'reason'"
    return None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:300]


def _model_paths(model: dict[str, Any]) -> list[tuple[str, str]]:
    spec = model.get("spec") or {}
    paths = [(k, spec[k]) for k in ("program", "cwd", "core") if isinstance(spec.get(k), str)]
    paths += [("breakpoint", bp["path"]) for bp in spec.get("breakpoints", [])
              if isinstance(bp, dict) and isinstance(bp.get("path"), str)]
    return paths


def build_world(base: Path) -> tuple[World, list[subprocess.Popen[bytes]]]:
    """Root and outside folders, compiled helpers, a decoy, a foreign process, a server."""
    root = make_root(base)
    outside = base / "outside"
    (outside / "pp").mkdir(parents=True)
    (outside / "marks").mkdir()
    (outside / "evil.py").write_text(EVIL_PY)
    shutil.copy(root / "waiter", outside / "evil")
    (outside / "core").write_bytes(b"\x7fELF" + b"\x00" * 60)
    (outside / "pp" / "sitecustomize.py").write_text(SITECUSTOMIZE_PY)
    _compile(PRELOAD_C, outside / "preload.so", "-shared", "-fPIC")
    (root / "argv_dump.py").write_text(ARGV_DUMP_PY)
    _compile(ARGV_DUMP_C, root / "argv_dump")
    (root / "link_prog").symlink_to(outside / "evil.py")
    (root / "link_out").symlink_to(outside)
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    children = [subprocess.Popen([sys.executable, str(root / "targets" / "waiter.py")],
                                 stdout=subprocess.DEVNULL, start_new_session=True)]
    foreign = _foreign_process()
    if foreign is not None:
        children.append(foreign)
    server = start_server(root, base / "state")
    places = Places(root=root, outside=outside, decoy_pid=children[0].pid,
                    foreign_pid=None if foreign is None else foreign.pid,
                    server_pid=server.proc.pid)  # type: ignore[union-attr]
    world = World(server, root, outside, places, requests.Session())
    world.secrets.add(server.token)
    return world, children


def _compile(source: str, out: Path, *flags: str) -> None:
    src = out.with_suffix(".c")
    src.write_text(source)
    subprocess.run(["gcc", "-O0", *flags, "-o", str(out), str(src)], check=True,
                   capture_output=True)


def _foreign_process() -> subprocess.Popen[bytes] | None:
    """A process of another OS user (only possible when the tests run as root)."""
    user, python = other_user(), system_python()
    if user is None or python is None:
        return None
    return subprocess.Popen([python, "-c", "import time; time.sleep(3600)"],
                            user=user.pw_uid, group=user.pw_gid, cwd="/",
                            start_new_session=True)


def end_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(10)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
