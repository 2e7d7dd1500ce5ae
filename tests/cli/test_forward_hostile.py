"""`forward` against what is not an IDE: the user's own browser and broken DAP.

A browser page can reach `forward --port` (a same-user process: the peer-uid check passes)
with a no-cors `fetch()` or a form POST; before strict framing the forward took such an
HTTP request for a DAP message and the session ran its body. Here a real server process,
real debugpy and gdb sessions and the forward as a subprocess get, byte for byte, what
Chromium sends for those requests, then malformed DAP; the code in them must never run,
no byte may come back, the connection must close, and a real DAP client must still
attach and step afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from jupyter_debug_server.client import TOKEN_ENV, URL_ENV, DebugServerClient
from jupyter_debug_server.dap import encode

from ..support.dap_client import DapTestClient
from ..support.forward import ForwardProcess, join, tcp_ide
from ..support.native import marker_line, targets_server
from ..support.server_process import ServerProcess

pytestmark = pytest.mark.timeout(150)

# A cookie Jupyter set for 127.0.0.1 (cookies ignore the port, so a browser sends it to
# the forward's port too): it must never reach a log line.
COOKIE_SECRET = "2|1:0|10:1764000000|4:user|40:c2VjcmV0LWNvb2tpZS12YWx1ZS1qZHMtdGVzdA=="
CHROME_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Safari/537.36")
CH_UA = '"Chromium";v="131", "Not_A Brand";v="24"'


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with targets_server(tmp_path_factory.mktemp("forward-hostile")) as srv:
        yield srv


@pytest.fixture
def client(server: ServerProcess) -> Iterator[DebugServerClient]:
    with DebugServerClient(f"http://127.0.0.1:{server.port}/", server.token) as c:
        yield c


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Nothing in the environment points at a server: --url/--token decide."""
    values = {k: v for k, v in os.environ.items() if k not in (URL_ENV, TOKEN_ENV)}
    values["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "no-runtime")
    return values


# The forward refuses before any debugger sees a byte: two debuggers whose consoles run
# different payloads (Python, gdb's `shell`) show it; lldb would add a third only.
TWO_CONSOLES = pytest.mark.parametrize("debugger", ["debugpy", "gdb"], indirect=True)


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_env(request: pytest.FixtureRequest, env: dict[str, str],
             tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The forward's loop and environment: uvloop, or the standard loop (uvloop's import
    fails); the two start reading an accepted socket differently."""
    loop = str(request.param)
    if loop == "uvloop":
        return loop, env
    (tmp_path / "no_uvloop").mkdir()
    (tmp_path / "no_uvloop" / "uvloop.py").write_text("raise ImportError('no uvloop')\n")
    return loop, {**env, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "no_uvloop"), *filter(None, [env.get("PYTHONPATH")])])}


def stopped_session(client: DebugServerClient, server: ServerProcess, debugger: str) -> str:
    """A session stopped at a breakpoint: loop.py's loop, or the start of points.c's main."""
    if debugger == "debugpy":
        spec: dict[str, Any] = {"debugger": "debugpy", "program": "targets/loop.py",
                                "breakpoints": [{"path": "targets/loop.py", "line": 13}]}
    else:
        line = marker_line(server.root / "native" / "points.c", "MAIN-START")
        spec = {"debugger": "gdb", "program": "native/points",
                "breakpoints": [{"path": "native/points.c", "line": line}]}
    model = client.wait_settled(client.create_session(spec)["id"], 60)
    assert model["state"] == "stopped", model
    return str(model["id"])


def payload(debugger: str, marker: Path) -> str:
    """An `evaluate` request that creates `marker` if the session runs it."""
    if debugger == "debugpy":
        expression = f"__import__('os').system('touch {marker}')"
    else:
        expression = f"shell touch {marker}"  # the gdb debug console runs gdb commands
    return json.dumps({"seq": 1, "type": "request", "command": "evaluate",
                       "arguments": {"expression": expression, "context": "repl"}})


def http_request(port: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """An HTTP/1.1 POST to /x:y as Chromium writes it (its header order)."""
    lines = ["POST /x:y HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive",
             f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def browser_fetch(port: int, body: str) -> bytes:
    """`fetch("http://127.0.0.1:PORT/x:y", {method: "POST", mode: "no-cors", body})`
    from a page on another origin: a string body is text/plain;charset=UTF-8."""
    return http_request(port, [
        ("sec-ch-ua-platform", '"Linux"'), ("User-Agent", CHROME_UA), ("sec-ch-ua", CH_UA),
        ("Content-Type", "text/plain;charset=UTF-8"), ("sec-ch-ua-mobile", "?0"),
        ("Accept", "*/*"), ("Origin", "http://evil.example"),
        ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "no-cors"),
        ("Sec-Fetch-Dest", "empty"), ("Referer", "http://evil.example/"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Accept-Language", "en-US,en;q=0.9")], body.encode())


def _form(port: int, content_type: str, body: bytes) -> bytes:
    """A top-level form POST (a navigation) that carries the user's 127.0.0.1 cookie."""
    return http_request(port, [
        ("Cache-Control", "max-age=0"), ("sec-ch-ua", CH_UA), ("sec-ch-ua-mobile", "?0"),
        ("sec-ch-ua-platform", '"Linux"'), ("Origin", "null"),
        ("Content-Type", content_type), ("Upgrade-Insecure-Requests", "1"),
        ("User-Agent", CHROME_UA),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Sec-Fetch-Site", "cross-site"), ("Sec-Fetch-Mode", "navigate"),
        ("Sec-Fetch-User", "?1"), ("Sec-Fetch-Dest", "document"),
        ("Accept-Encoding", "gzip, deflate, br, zstd"),
        ("Accept-Language", "en-US,en;q=0.9"),
        ("Cookie", f'_xsrf=2|abc; username-127-0-0-1-8888="{COOKIE_SECRET}"')], body)


def form_urlencoded(port: int, body: str) -> bytes:
    """`<form method=post>` with one field `<input name=dap value=BODY>`."""
    return _form(port, "application/x-www-form-urlencoded",
                 urlencode({"dap": body}).encode())


def form_text_plain(port: int, body: str) -> bytes:
    """`<form method=post enctype=text/plain>` with one field whose name is the JSON
    body without its closing `}}` plus `, "x": "`, and whose value is `"}}`: the browser
    writes `name=value` and a CRLF, which is that JSON object again (an old CSRF trick)."""
    assert body.endswith("}}")
    name, value = body[:-2] + ', "x": "', '"}}'
    return _form(port, "text/plain", f"{name}={value}\r\n".encode())


def not_dap(body: str) -> dict[str, bytes]:
    """Broken or non-initialize DAP carrying `body` (an evaluate request)."""
    data = body.encode()
    return {
        "an extra header line": b"Content-Length: %d\r\nContent-Type: application/"
                                b"vscode-jsonrpc; charset=utf-8\r\n\r\n%b" % (len(data), data),
        "a lower-case header": b"content-length: %d\r\n\r\n%b" % (len(data), data),
        "a negative length": b"Content-Length: -%d\r\n\r\n%b" % (len(data), data),
        "a huge length": b"Content-Length: 99999999999999999999\r\n\r\n%b" % data,
        "a first message that is not initialize": encode(json.loads(body)),
    }


async def expect_closed_unanswered(port: int, data: bytes, what: str) -> None:
    """Send `data` as a fresh connection; the forward must close it without a byte."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = b""
    try:
        writer.write(data)
        with contextlib.suppress(ConnectionError):
            await writer.drain()  # (the forward may already have reset the connection)

        async def read_all() -> None:
            nonlocal got
            while chunk := await reader.read(65536):
                got += chunk
                raise AssertionError(f"{what}: the forward answered {got[:300]!r}")
        try:
            await asyncio.wait_for(read_all(), 30)
        except ConnectionResetError:
            pass  # closed with our request unread: a reset, no byte either
        except TimeoutError:
            raise AssertionError(f"{what}: the forward kept the connection open") from None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert got == b"", what


async def attach_and_step(port: int, debugger: str) -> None:
    """A real DAP client attaches through the forward and steps once."""
    ide: DapTestClient = await tcp_ide(port)
    try:
        await join(ide)
        stop = (await ide.wait_event("stopped"))["body"]
        mark = len(ide.events)
        await ide.request("next", {"threadId": stop["threadId"]})
        step = (await ide.wait_event("stopped", after=mark))["body"]
        assert step["reason"] == "step", (debugger, step)
        await ide.request("disconnect", {})
    finally:
        ide.channel.close()


def check_log(forward: ForwardProcess, refusals: int, *secrets: str) -> None:
    """One warning per refused connection, none of them quoting what was sent."""
    log = "".join(forward.stderr)
    refused = [line for line in forward.stderr if "refused the connection from" in line]
    assert len(refused) == refusals, log
    for line in refused:
        assert "not DAP" in line and "nothing was relayed" in line, line
    for secret in secrets:
        assert secret not in log, (secret, log)
    assert log.count("joined session") == 1, log  # only the real client's connection


@TWO_CONSOLES
def test_browser_requests_run_nothing_and_get_no_reply(
        server: ServerProcess, client: DebugServerClient,
        loop_env: tuple[str, dict[str, str]], debugger: str, tmp_path: Path) -> None:
    loop, env = loop_env
    sid = stopped_session(client, server, debugger)
    marker = tmp_path / "MARKER"
    body = payload(debugger, marker)
    url = f"http://127.0.0.1:{server.port}/"

    async def scenario() -> None:
        # A bare --port (an OS-chosen port), as the docs recommend.
        forward = await ForwardProcess.start(url, server.token, sid, "--port", env=env)
        try:
            port = await forward.port()
            assert port > 0
            requests = {"a no-cors fetch()": browser_fetch(port, body),
                        "a urlencoded form POST": form_urlencoded(port, body),
                        "a text/plain form POST": form_text_plain(port, body)}
            for what, data in requests.items():
                await expect_closed_unanswered(port, data, what)
            await forward.log_line("refused the connection from", timeout=30)
            await attach_and_step(port, debugger)
            await forward.log_line("ended: the IDE disconnected")
            check_log(forward, len(requests), COOKIE_SECRET, str(marker), "evil.example")
            assert f"({loop} event loop)" in "".join(forward.stderr)
        finally:
            await forward.stop()

    asyncio.run(scenario())
    # The real client's step went through the session after every hostile byte: had any
    # of them been relayed, its evaluate would have run by now.
    assert not marker.exists(), f"{debugger} ran the browser's evaluate"
    assert client.session(sid)["state"] == "stopped"
    client.terminate(sid)


@TWO_CONSOLES
def test_malformed_or_uninitialized_dap_is_closed_unrelayed(
        server: ServerProcess, client: DebugServerClient, env: dict[str, str],
        debugger: str, tmp_path: Path) -> None:
    sid = stopped_session(client, server, debugger)
    marker = tmp_path / "MARKER"
    url = f"http://127.0.0.1:{server.port}/"

    async def scenario() -> None:
        forward = await ForwardProcess.start(url, server.token, sid, "--port", "0", env=env)
        try:
            port = await forward.port()
            cases = not_dap(payload(debugger, marker))
            for what, data in cases.items():
                await expect_closed_unanswered(port, data, what)
            await attach_and_step(port, debugger)
            await forward.log_line("ended: the IDE disconnected")
            check_log(forward, len(cases), str(marker))
            assert "is not an 'initialize' request" in "".join(forward.stderr)
        finally:
            await forward.stop()

    asyncio.run(scenario())
    assert not marker.exists(), f"{debugger} ran an evaluate that came before initialize"
    client.terminate(sid)


def test_stdio_refuses_a_browser_request_and_exits_1(
        server: ServerProcess, client: DebugServerClient, env: dict[str, str],
        tmp_path: Path) -> None:
    sid = stopped_session(client, server, "debugpy")
    marker = tmp_path / "MARKER"
    url = f"http://127.0.0.1:{server.port}/"

    async def scenario() -> None:
        for what, data in {"a no-cors fetch()": browser_fetch(9, payload("debugpy", marker)),
                           **not_dap(payload("debugpy", marker))}.items():
            forward = await ForwardProcess.start(url, server.token, sid, "--stdio", env=env)
            try:
                assert forward.proc.stdin is not None and forward.proc.stdout is not None
                forward.proc.stdin.write(data)  # and keep stdin open: the forward decides
                await forward.proc.stdin.drain()
                out = await asyncio.wait_for(forward.proc.stdout.read(), 30)
                assert out == b"", (what, out)
                assert await forward.wait() == 1, (what, forward.stderr)
                refusal = await forward.log_line("refused the IDE on stdin:")
                assert "not DAP" in refusal and "nothing was relayed" in refusal, refusal
                assert str(marker) not in "".join(forward.stderr)
            finally:
                await forward.stop()
        # No refused forward ever joined the session; an IDE on stdio still works.
        assert (await asyncio.to_thread(client.session, sid))["clients"] == 0
        forward = await ForwardProcess.start(url, server.token, sid, "--stdio", env=env)
        try:
            ide = forward.ide()
            await join(ide)
            stop = (await ide.wait_event("stopped"))["body"]
            mark = len(ide.events)
            await ide.request("next", {"threadId": stop["threadId"]})
            assert (await ide.wait_event("stopped", after=mark))["body"]["reason"] == "step"
            await ide.request("disconnect", {})
            assert await forward.wait() == 0
        finally:
            await forward.stop()

    asyncio.run(scenario())
    assert not marker.exists()
    client.terminate(sid)


def test_a_connection_without_a_whole_first_message_is_closed_after_30_s(
        server: ServerProcess, client: DebugServerClient, env: dict[str, str]) -> None:
    # Neither a silent connection nor one that stops inside its first message holds the
    # forward (or a tunnel) for ever; the forward's limit is 30 s (_GREETING_TIMEOUT).
    sid = stopped_session(client, server, "debugpy")
    url = f"http://127.0.0.1:{server.port}/"

    async def closed_unanswered(port: int, data: bytes) -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = asyncio.get_running_loop().time()
        writer.write(data)
        try:
            assert await asyncio.wait_for(reader.read(), 60) == b""
        finally:
            writer.close()
        return asyncio.get_running_loop().time() - start

    async def scenario() -> None:
        forward = await ForwardProcess.start(url, server.token, sid, "--port", env=env)
        try:
            port = await forward.port()
            waited = await asyncio.gather(
                closed_unanswered(port, b""),
                closed_unanswered(port, b'Content-Length: 60\r\n\r\n{"seq":1,'))
            assert all(25 < seconds < 50 for seconds in waited), waited
            await forward.log_line("no DAP message within 30 s")
            closed = [line for line in forward.stderr if "no DAP message within" in line]
            assert len(closed) == 2, forward.stderr
            assert "joined session" not in "".join(forward.stderr)
        finally:
            await forward.stop()

    asyncio.run(scenario())
    client.terminate(sid)
