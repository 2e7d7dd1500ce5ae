"""The main job: `jupyter-debug-server serve --demo` leaves a session stopped at its
breakpoint, launched through the client library like any user would, and an env file
that works."""

from __future__ import annotations

import os
import pwd
import shlex
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from jupyter_debug_server.cli import serve
from jupyter_debug_server.client import DebugServerClient

from ..support.server_process import ServerProcess

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ServerProcess]:
    root = tmp_path / "root"
    root.mkdir()
    # What an earlier run or someone else left where the env file goes: a symlink to a
    # file that must not be written through.
    runtime = tmp_path / "state" / "runtime"
    runtime.mkdir(parents=True, mode=0o700)
    (tmp_path / "victim").write_text("untouched\n")
    (runtime / serve.DEMO_ENV).symlink_to(tmp_path / "victim")
    srv = ServerProcess(root, tmp_path / "state", extra=["--demo", "--no-browser"])
    srv.start(ready="Demo session")
    yield srv
    srv.stop()


def test_the_demo_session_is_created_through_the_rest_api(demo: ServerProcess) -> None:
    status, models = demo.request("GET", "/api/debug/sessions")
    assert status == 200 and [m["name"] for m in models] == ["demo"]
    model = models[0]
    assert model["state"] == "stopped" and model["stopped"]["reason"] == "breakpoint"
    # A session created over REST with the server's token is owned by the server's OS
    # user; the extension's manager called in-process (as before) recorded "demo".
    assert model["owner"] == pwd.getpwuid(os.getuid()).pw_name
    # The same launch spec as a user's `launch -b demo.py:LINE`: relative to root_dir.
    assert model["spec"]["program"] == str(demo.root / serve.DEMO_DIR / "demo.py")
    assert model["spec"]["breakpoints"] == [
        {"path": str(demo.root / serve.DEMO_DIR / "demo.py"), "line": serve._demo_line()}]


@pytest.mark.parametrize(("ip", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8888/"),
    ("0.0.0.0", "http://127.0.0.1:8888/"),
    ("", "http://127.0.0.1:8888/"),
    ("::", "http://[::1]:8888/"),
    ("::1", "http://[::1]:8888/"),
    ("10.1.2.3", "http://10.1.2.3:8888/"),
])
def test_the_demo_reaches_its_own_server_on_the_address_it_listens_on(ip: str,
                                                                      url: str) -> None:
    app = SimpleNamespace(ip=ip, port=8888, base_url="/", certfile="")
    assert serve._own_url(app) == url.rstrip("/")
    app.base_url = "/hub/user/ada/"
    assert serve._own_url(app) == url + "hub/user/ada"
    app.certfile = "/etc/ssl/server.pem"
    assert serve._own_url(app).startswith("https://")


def test_the_demo_reaches_its_own_server_over_tls(tmp_path: Path) -> None:
    """With --ServerApp.certfile (here self-signed) the demo's client trusts the server's
    own certificate; the session still ends up stopped at the breakpoint."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=jds-test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    (tmp_path / "root").mkdir()
    srv = ServerProcess(tmp_path / "root", tmp_path / "state", extra=["--demo", "--no-browser"],
                        server_args=[f"--ServerApp.certfile={cert}",
                                     f"--ServerApp.keyfile={key}"])
    try:
        srv.start(ready="Demo session")
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False  # the certificate names no address (as above)
        with DebugServerClient(f"https://127.0.0.1:{srv.port}/", srv.token,
                               ssl_context=context) as client:
            [model] = client.sessions()
        assert (model["name"], model["state"]) == ("demo", "stopped")
    finally:
        srv.stop()
    assert not [line for line in srv.log if "could not start" in line]


def test_demo_session_is_stopped_at_the_marked_line_and_env_file_works(
        demo: ServerProcess) -> None:
    # Outside root_dir, in Jupyter's runtime directory (JUPYTER_RUNTIME_DIR here).
    env_file = demo.state / "runtime" / serve.DEMO_ENV
    assert not env_file.is_symlink() and env_file.is_file()
    assert (demo.state.parent / "victim").read_text() == "untouched\n"
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert not (demo.root / "debug_demo" / "demo.env").exists()
    assert not [p for p in env_file.parent.iterdir() if p.name.startswith(".")]
    values = dict(line.removeprefix("export ").split("=", 1)
                  for line in env_file.read_text().splitlines())
    values = {k: shlex.split(v)[0] for k, v in values.items()}
    assert values["JDS_TOKEN"] == demo.token
    assert values["JDS_URL"].endswith(f":{demo.port}")
    status, model = demo.request("GET", f"/api/debug/sessions/{values['JDS_SESSION']}")
    assert status == 200 and model["state"] == "stopped"
    program = demo.root / "debug_demo" / "demo.py"
    line = program.read_text().splitlines()[model["stopped"]["line"] - 1]
    assert line.rstrip().endswith("# DEMO-BREAKPOINT")
    assert model["stopped"]["line"] == serve._demo_line()
    assert (model["stopped"]["path"], model["stopped"]["reason"]) == (str(program), "breakpoint")
    # The printed instructions name the env file, and JupyterLab's URL on the session.
    assert any(f"source {env_file}" in line for line in demo.log)
    lab = f"/lab?debug-session={values['JDS_SESSION']}&token={demo.token}"
    assert any(f"http://127.0.0.1:{demo.port}{lab}" in line for line in demo.log)


def test_write_private_replaces_a_stale_file_and_never_follows_a_link(tmp_path: Path) -> None:
    target = tmp_path / "demo.env"
    target.write_text("stale\n")
    target.chmod(0o644)
    serve.write_private(target, "fresh\n")
    assert target.read_text() == "fresh\n" and target.stat().st_mode & 0o777 == 0o600
    (tmp_path / "elsewhere").write_text("keep\n")
    target.unlink()
    target.symlink_to(tmp_path / "elsewhere")
    serve.write_private(target, "new\n")
    assert not target.is_symlink() and target.read_text() == "new\n"
    assert (tmp_path / "elsewhere").read_text() == "keep\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.env", "elsewhere"]
