"""`serve --demo` launches its session through the client library, like any user would."""

from __future__ import annotations

import os
import pwd
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
    srv = ServerProcess(root, tmp_path / "state", extra=["--demo"])
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
    srv = ServerProcess(tmp_path / "root", tmp_path / "state", extra=["--demo"], server_args=[
        f"--ServerApp.certfile={cert}", f"--ServerApp.keyfile={key}"])
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
