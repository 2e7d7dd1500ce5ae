"""REST hardening: hostile input gets a 4xx sentence, no secret reaches the log, and no
request body is buffered beyond c.DebugServerApp.max_request_body.

The inputs are those of issue 11 (NUL, `~nosuchuser`, symlink loops, names too long,
lone surrogates, deep nesting, huge numbers), sent to a real server with every way of
presenting a credential (`?token=`, `?t%6Fken=`, `Authorization`, a session token, a
`jds_…` secret elsewhere in the query); afterwards the server's log, access log included,
holds no credential and no traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from jupyter_server.utils import url_path_join
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from jupyter_debug_server.api.redaction import redact_text, redact_uri

from ..hardening.report import record, record_max
from ..support.server_process import ServerProcess

pytestmark = pytest.mark.timeout(180)

LOOP = "targets/loop.py"
NO_USER = "~nosuchuser_jds_test/x.py"
LONG_NAME = "targets/" + "n" * 300 + ".py"
LONG_PATH = "targets/" + "d/" * 2100 + "x.py"  # over PATH_MAX (4096)
SECRET_SHAPED = "jds_" + "S" * 43


class _Record(logging.Handler):
    """Every record as the server's log would print it (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def server_log(jp_serverapp: Any) -> Iterator[_Record]:
    """The server's log at DEBUG level: application, tornado's loggers and access log."""
    record = _Record()
    names = ["", "ServerApp", "tornado.access", "tornado.general", "tornado.application",
             jp_serverapp.log.name, "jupyter_debug_server"]
    loggers = {logging.getLogger(n) for n in names} | {jp_serverapp.log}
    saved = {lg: lg.level for lg in loggers}
    for lg in loggers:
        lg.addHandler(record)
        lg.setLevel(logging.DEBUG)
    yield record
    for lg, level in saved.items():
        lg.removeHandler(record)
        lg.setLevel(level)


class Client:
    """Requests with a raw body and a chosen way of presenting the credential."""

    def __init__(self, port: int, base_url: str, token: str) -> None:
        self.port, self.base_url, self.token = port, base_url, token
        self.session_secret: str | None = None
        self.calls = 0

    def credentials(self, session_route: bool) -> tuple[dict[str, str], str]:
        """Headers and query of the next request: each way in turn."""
        self.calls += 1
        # (Only `token` besides a route's own arguments: since issue 14 any other query
        # argument is refused, so secrets in unknown ones (`x=jds_…`, `TOKEN=…`) are the
        # `unknown-arguments-with-secrets` row of the session inputs.)
        ways: list[tuple[dict[str, str], str]] = [
            ({"Authorization": f"token {self.token}"}, ""),
            ({}, f"token={self.token}"),
            ({}, f"t%6Fken={self.token}"),
            ({"Authorization": f"Bearer {self.token}"}, f"%74oken={self.token}"),
        ]
        if session_route and self.session_secret is not None:
            ways.append(({"Authorization": f"Bearer {self.session_secret}"},
                         f"token={self.session_secret}"))
        return ways[self.calls % len(ways)]

    async def fetch(self, method: str, path: str, body: bytes | None = None,
                    query: str = "") -> tuple[int, Any]:
        headers, auth_query = self.credentials("sessions/" in path)
        # Logged with every 4xx: a page's address may carry a token too.
        headers = headers | {"Referer": f"http://127.0.0.1/lab?t%6Fken={self.token}"}
        query = "&".join(q for q in (auth_query, query) if q)
        url = (f"http://127.0.0.1:{self.port}"
               f"{url_path_join(self.base_url, 'api/debug', path)}?{query}")
        if body is None and method in ("POST", "PUT"):
            body = b"{}"
        request = HTTPRequest(url, method=method, body=body, headers=headers,
                              request_timeout=60)
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        text = response.body.decode(errors="replace") if response.body else ""
        try:
            return response.code, json.loads(text) if text else None
        except json.JSONDecodeError:
            return response.code, text


@pytest.fixture
def client(jp_serverapp: Any, http_server_client: Any, jp_http_port: int,
           jp_base_url: str) -> Client:
    """A client of the test server (http_server_client: the server then accepts)."""
    return Client(jp_http_port, jp_base_url, jp_serverapp.identity_provider.token)


def _spec(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def _nested(depth: int) -> bytes:
    return b'{"program": "targets/loop.py", "args": ' + b"[" * depth + b"]" * depth + b"}"


# (name, body, reason, needles): each refused with 400, a sentence naming the value.
HOSTILE_SPECS: list[tuple[str, bytes, str, tuple[str, ...]]] = [
    ("program-nul", _spec(program="targets/lo\x00op.py"), "bad-launch-spec",
     ("'program'", "'targets/lo\\x00op.py'")),
    ("cwd-nul", _spec(program=LOOP, cwd="targets\x00"), "bad-launch-spec", ("'cwd'",)),
    ("breakpoint-path-nul",
     _spec(program=LOOP, breakpoints=[{"path": "targets/a\x00.py", "line": 1}]),
     "bad-path", ("breakpoints[0].path", "'targets/a\\x00.py'", "NUL")),
    ("program-unknown-user", _spec(program=NO_USER), "bad-path", (repr(NO_USER), "'~'")),
    ("cwd-unknown-user", _spec(program=LOOP, cwd="~nosuchuser_jds_test"), "bad-path",
     ("cwd", "'~nosuchuser_jds_test'")),
    ("breakpoint-unknown-user",
     _spec(program=LOOP, breakpoints=[{"path": NO_USER, "line": 1}]), "bad-path",
     ("breakpoints[0].path", repr(NO_USER))),
    ("program-symlink-loop", _spec(program="targets/spin"), "bad-path",
     ("'targets/spin'", "loop of symbolic links")),
    ("program-under-symlink-loop", _spec(program="targets/spin/x.py"), "bad-path",
     ("'targets/spin/x.py'", "loop of symbolic links")),
    ("cwd-symlink-loop", _spec(program=LOOP, cwd="targets/spin"), "bad-path",
     ("cwd", "'targets/spin'", "loop")),
    ("breakpoint-symlink-loop",
     _spec(program=LOOP, breakpoints=[{"path": "targets/spin", "line": 1}]), "bad-path",
     ("breakpoints[0].path", "'targets/spin'", "loop")),
    ("program-name-too-long", _spec(program=LONG_NAME), "bad-path",
     ("program", "too long", "nnnn")),
    ("program-path-too-long", _spec(program=LONG_PATH), "bad-path",
     ("program", "too long", "chars)")),
    ("breakpoint-name-too-long",
     _spec(program=LOOP, breakpoints=[{"path": LONG_NAME, "line": 1}]), "bad-path",
     ("breakpoints[0].path", "too long")),
    ("program-lone-surrogate", b'{"program": "targets/\\ud800.py"}', "bad-json",
     ("'program'", "'targets/\\ud800.py'", "U+D800")),
    ("breakpoint-lone-surrogate",
     b'{"program": "targets/loop.py", "breakpoints": [{"path": "\\udc80", "line": 1}]}',
     "bad-json", ("'breakpoints[0].path'", "U+DC80")),
    ("key-lone-surrogate", b'{"program": "targets/loop.py", "env": {"\\udfff": "1"}}',
     "bad-json", ("U+DFFF",)),
    ("args-lone-surrogate", b'{"program": "targets/loop.py", "args": ["\\ud83d"]}',
     "bad-json", ("'args[0]'", "U+D83D")),
    ("nested-100000", _nested(100_000), "bad-json", ("deeper than 64",)),
    ("nested-1000", _nested(1000), "bad-json", ("deeper than 64",)),
    ("nested-65", _nested(65), "bad-json", ("deeper than 64", "'args")),
    ("pid-5000-digits", b'{"request": "attach", "pid": 1' + b"0" * 5000 + b"}", "bad-json",
     ("out of range", "5001 digits")),
    ("pid-2-to-the-64", _spec(request="attach", pid=2**64), "bad-json",
     (str(2**64), "out of range")),
    ("pid-overflowing-float", b'{"request": "attach", "pid": 1e400}', "bad-json",
     ("1e400", "out of range")),
    ("pid-nan", b'{"request": "attach", "pid": NaN}', "bad-json", ("NaN",)),
    ("pid-minus-infinity", b'{"request": "attach", "pid": -Infinity}', "bad-json",
     ("-Infinity",)),
]


def _assert_sentence(status: int, body: Any, reason: str, needles: tuple[str, ...],
                     what: str) -> list[str]:
    """Problems with one refusal (an empty list when it is a 400 naming the value)."""
    problems = []
    if status != 400 or not isinstance(body, dict) or set(body) != {"message", "reason"}:
        return [f"{what}: {status} {str(body)[:300]}"]
    if body["reason"] != reason:
        problems.append(f"{what}: reason {body['reason']!r}, expected {reason!r}")
    problems += [f"{what}: {needle!r} not in {body['message'][:300]!r}"
                 for needle in needles if needle not in body["message"]]
    return problems


def _assert_log_clean(log: _Record, secrets: list[str]) -> None:
    text = log.text()
    assert "/api/debug/" in text  # the access log was captured
    record("rest", secrets_searched=len(secrets),
           secrets_in_log=sum(s in text or quote(s) in text for s in secrets),
           tracebacks_in_log=text.count("Traceback"))
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}…) is in the log"
        assert quote(secret) not in text
    assert "Traceback" not in text
    assert " ERROR " not in text, [line for line in log.lines if " ERROR " in line]


async def test_hostile_launch_specs_get_400_sentences_and_the_log_keeps_no_secret(
        client: Client, targets: Path, server_log: _Record, manager: Any) -> None:
    (targets / "spin").symlink_to("spin")  # a symlink loop inside root_dir
    problems = []
    for name, body, reason, needles in HOSTILE_SPECS:
        status, reply = await client.fetch("POST", "sessions", body)
        problems += _assert_sentence(status, reply, reason, needles, name)
        record("rest", hostile_requests=1, responses_5xx=int(status >= 500))
    assert problems == []
    status, listed = await client.fetch("GET", "sessions")
    assert status == 200 and listed == []
    _assert_log_clean(server_log, [client.token, SECRET_SHAPED])


async def _stopped_session(client: Client, manager: Any) -> str:
    status, model = await client.fetch("POST", "sessions",
                                       _spec(program=LOOP, stop_on_entry=True))
    assert status == 201, model
    session = manager.get(model["id"])
    assert await session.wait_for(lambda: session.state == "stopped", 60), session.state
    return str(model["id"])


def _session_inputs(sid: str) -> list[tuple[str, str, str, bytes | None, str, str,
                                            tuple[str, ...]]]:
    route = f"sessions/{sid}"
    return [
        ("put-breakpoints-nul", "PUT", f"{route}/breakpoints",
         _spec(path="targets/\x00.py", breakpoints=[{"line": 1}]), "", "bad-path",
         ("'targets/\\x00.py'", "NUL")),
        ("put-breakpoints-unknown-user", "PUT", f"{route}/breakpoints",
         _spec(path=NO_USER, breakpoints=[]), "", "bad-path", (repr(NO_USER),)),
        ("put-breakpoints-symlink-loop", "PUT", f"{route}/breakpoints",
         _spec(path="targets/spin", breakpoints=[]), "", "bad-path",
         ("'targets/spin'", "loop")),
        ("put-breakpoints-too-long", "PUT", f"{route}/breakpoints",
         _spec(path=LONG_NAME, breakpoints=[]), "", "bad-path", ("too long",)),
        ("put-breakpoints-surrogate", "PUT", f"{route}/breakpoints",
         b'{"path": "targets/\\ud800", "breakpoints": []}', "", "bad-json",
         ("'path'", "U+D800")),
        ("get-breakpoints-too-long", "GET", f"{route}/breakpoints", None,
         f"path={quote(LONG_PATH)}", "bad-path", ("too long", "chars)")),
        ("get-breakpoints-unknown-user", "GET", f"{route}/breakpoints", None,
         f"path={quote(NO_USER)}", "bad-path", (repr(NO_USER),)),
        ("get-breakpoints-symlink-loop", "GET", f"{route}/breakpoints", None,
         "path=targets/spin", "bad-path", ("loop",)),
        ("dap-nested", "POST", f"{route}/dap",
         b'{"command": "evaluate", "arguments": {"x": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
         "", "bad-json", ("deeper than 64",)),
        ("dap-huge-number", "POST", f"{route}/dap",
         b'{"command": "threads", "arguments": {"n": 1' + b"0" * 4400 + b"}}", "",
         "bad-json", ("out of range",)),
        ("evaluate-surrogate", "POST", f"{route}/evaluate",
         b'{"expression": "\\udc80"}', "", "bad-json", ("'expression'", "U+DC80")),
        ("continue-thread-2-to-the-63", "POST", f"{route}/continue",
         _spec(thread_id=2**63), "", "bad-json", (str(2**63),)),
        ("step-nan", "POST", f"{route}/step", b'{"thread_id": NaN}', "", "bad-json",
         ("NaN",)),
        ("unknown-arguments-with-secrets", "GET", f"{route}/stack", None,
         f"x={SECRET_SHAPED}&T%4FKEN={SECRET_SHAPED}&{SECRET_SHAPED}=1", "unknown-argument",
         ("'TOKEN'", "'x'", "levels, start, thread_id")),
        ("tokens-ttl-overflow", "POST", f"{route}/tokens",
         b'{"scope": "observe", "ttl": 1e999}', "", "bad-json", ("1e999",)),
    ]


async def test_hostile_session_requests_get_400_sentences_and_the_log_keeps_no_secret(
        client: Client, targets: Path, server_log: _Record, api: Any, manager: Any) -> None:
    (targets / "spin").symlink_to("spin")
    sid = await _stopped_session(client, manager)
    try:
        status, token = await api("POST", f"sessions/{sid}/tokens", {"scope": "control"})
        assert status == 201, token
        client.session_secret = token["secret"]
        problems = []
        for name, method, path, body, query, reason, needles in _session_inputs(sid):
            if path.endswith("/tokens"):  # session tokens are refused there: use Jupyter's
                client.calls = 0
            status, reply = await client.fetch(method, path, body, query)
            problems += _assert_sentence(status, reply, reason, needles, name)
            record("rest", hostile_requests=1, responses_5xx=int(status >= 500))
        assert problems == []
        # The session still answers and did not move.
        status, stack = await client.fetch("GET", f"sessions/{sid}/stack")
        assert status == 200 and stack["frames"], stack
        assert manager.get(sid).breakpoints == {}
    finally:
        status, _ended = await api("DELETE", f"sessions/{sid}")
        assert status == 200
    _assert_log_clean(server_log, [client.token, token["secret"], SECRET_SHAPED])


@pytest.mark.allow_error_logs
async def test_a_bug_is_a_500_sentence_and_a_redacted_log_line(
        client: Client, server_log: _Record, manager: Any, jp_fetch: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception (injected) answers a generic sentence with an error id and
    is logged as one line: no request repr, no traceback, no secret from its message."""
    await jp_fetch("api", "debug", "sessions")  # the manager exists once a route ran

    async def broken(*_args: Any) -> Any:
        raise RuntimeError(f"cannot list: token {client.token} and {SECRET_SHAPED}")

    monkeypatch.setattr(manager._app.manager, "list_models", broken)
    client.calls = 1  # ?token=…
    status, reply = await client.fetch("GET", "sessions")
    assert status == 500
    assert set(reply) == {"message", "reason"} and reply["reason"] == "internal-error"
    assert "error id" in reply["message"] and client.token not in reply["message"]
    assert "cannot list" not in reply["message"]  # the exception's text stays server-side
    error_id = reply["message"].split("error id ")[1].split(")")[0]
    lines = sorted({line for line in server_log.lines if error_id in line})
    assert len(lines) == 1, lines  # (seen by more than one logger: it propagates)
    assert "RuntimeError: 'cannot list: token [secret] and jds_[secret]'" in lines[0]
    assert "our code: " in lines[0] and "in get" in lines[0]  # where, in our handler
    _assert_log_clean_except_error(server_log, [client.token, SECRET_SHAPED])


def _assert_log_clean_except_error(log: _Record, secrets: list[str]) -> None:
    text = log.text()
    for secret in secrets:
        assert secret not in text and quote(secret) not in text
    assert "Traceback" not in text


async def test_refused_before_the_body_but_cors_preflight_still_answers(
        client: Client) -> None:
    """prepare() refuses a request without credentials before reading its body, except
    the method Jupyter marks as open to anyone (OPTIONS, a browser's CORS preflight)."""
    url = (f"http://127.0.0.1:{client.port}"
           f"{url_path_join(client.base_url, 'api/debug/sessions')}")
    for method, body, expected in (("OPTIONS", None, 200), ("POST", b"{}", 403),
                                   ("GET", None, 403)):
        response = await AsyncHTTPClient().fetch(
            HTTPRequest(url, method=method, body=body, request_timeout=30),
            raise_error=False)
        assert response.code == expected, (method, response.code, response.body)


# -- redaction ----------------------------------------------------------------------

REDACT_CASES = [
    ("/api/debug/sessions?token=abc", "/api/debug/sessions?token=[secret]"),
    ("/x?t%6Fken=abc&a=1", "/x?t%6Fken=[secret]&a=1"),
    ("/x?%74%6F%6B%65%6E=abc", "/x?%74%6F%6B%65%6E=[secret]"),
    ("/x?ToKeN=abc", "/x?ToKeN=[secret]"),
    ("/x?session_token=abc", "/x?session_token=[secret]"),
    ("/x?a=1&x=jds_abc-_9", "/x?a=1&x=jds_[secret]"),
    ("/x?x=%6Ads_abc", "/x?x=jds_[secret]"),
    ("/x?x=jds%5Fabc%2Fdef", "/x?x=jds_[secret]"),
    ("/jds_abc/y", "/jds_[secret]/y"),
    ("/x?a=b", "/x?a=b"),
    ("/x", "/x"),
]


@pytest.mark.parametrize(("uri", "expected"), REDACT_CASES)
def test_redact_uri(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_redact_known_secrets_also_percent_encoded() -> None:
    secret = "0123456789abcdef+/="
    assert redact_uri(f"/x?a={secret}", [secret]) == "/x?a=[secret]"
    assert secret not in redact_uri(f"/x?a={quote(secret, safe='')}", [secret])
    assert redact_text(f"no {secret} here; jds_abc", [secret]) == (
        "no [secret] here; jds_[secret]")
    assert redact_text("short ab", ["ab"]) == "short ab"  # too short to be a credential


# -- the body limit before the body is read -----------------------------------------

MIB = 1024 * 1024


def _peak_rss_reset(pid: int) -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) of `pid`."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def _peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/pid/status")


def _exchange(port: int, head: bytes, body: Iterator[bytes], *,
              expect_continue: bool = False) -> tuple[bytes, int]:
    """Send a request head, then the body's chunks from a thread while reading the reply.

    With `Expect: 100-continue` (in `head`) the body follows only a `100 Continue`, as
    curl does it; otherwise it is sent at once, and the server may answer and close the
    connection before reading it. Returns the reply and how many body bytes were sent.
    """
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head)
        if expect_continue:
            first = sock.recv(65536)
            if not first.startswith(b"HTTP/1.1 100"):
                return first, 0

        def send() -> None:
            nonlocal sent
            try:
                for chunk in body:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass  # the server answered and closed: what a refusal does

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        reply = b""
        try:
            while data := sock.recv(65536):
                reply += data
                if _complete(reply):
                    break
        except ConnectionResetError:
            pass
        with contextlib.suppress(OSError):  # (the server may have closed it)
            sock.shutdown(socket.SHUT_RDWR)
        sender.join(60)
        return reply, sent


def _complete(reply: bytes) -> bool:
    """Whether `reply` holds a whole response (not a 100 Continue) with its body."""
    head, sep, body = reply.partition(b"\r\n\r\n")
    if not sep or head.startswith(b"HTTP/1.1 100"):
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def _post_head(port: int, headers: dict[str, str], length: int | None,
               expect_continue: bool) -> bytes:
    head = f"POST /api/debug/sessions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += (f"Content-Length: {length}\r\n" if length is not None
             else "Transfer-Encoding: chunked\r\n")
    if expect_continue:
        head += "Expect: 100-continue\r\n"
    return (head + "\r\n").encode()


def _spaces(size: int) -> Iterator[bytes]:
    chunk = b" " * MIB
    for start in range(0, size, MIB):
        yield chunk[:size - start]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    root = tmp_path / "root"
    root.mkdir()
    srv = ServerProcess(root, tmp_path / "state")
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.timeout(240)
def test_a_large_body_is_refused_before_it_is_buffered(own_server: ServerProcess) -> None:
    """100 MiB, unauthenticated and authenticated: answered 403/413, peak RSS barely moves."""
    assert own_server.proc is not None
    pid = own_server.proc.pid
    size = 100 * MIB
    auth = {"Authorization": f"token {own_server.token}"}
    for headers, status in (({}, b"403"), (auth, b"413")):
        _peak_rss_reset(pid)
        base = _peak_rss(pid)
        # As curl sends it: the refusal comes before a byte of the body.
        head = _post_head(own_server.port, headers, size, expect_continue=True)
        reply, sent = _exchange(own_server.port, head, _spaces(size), expect_continue=True)
        assert reply.startswith(b"HTTP/1.1 " + status), reply[:300]
        assert sent == 0
        # The connection is dropped after the answer: a keep-alive client is told so.
        assert b"\r\nConnection: close\r\n" in reply.split(b"\r\n\r\n", 1)[0], reply[:300]
        message = json.loads(reply.split(b"\r\n\r\n", 1)[1])["message"]
        if status == b"413":
            assert "max_request_body" in message and str(size) in message, message
        # Sent at once: the server answers, closes, and never holds the body.
        head = _post_head(own_server.port, headers, size, expect_continue=False)
        reply, sent = _exchange(own_server.port, head, _spaces(size))
        assert reply.startswith(b"HTTP/1.1 " + status), reply[:300]
        growth = _peak_rss(pid) - base
        record_max("rest", body_rss_growth_kib=growth // 1024)
        assert growth <= 8 * MIB, f"peak RSS grew by {growth / MIB:.1f} MiB"
    # The server still answers, and a body within the limit is still read.
    status, reply = own_server.request("POST", "/api/debug/sessions", {"program": "nope.py"})
    assert status == 400 and reply["reason"] == "not-found", reply


@pytest.mark.timeout(120)
def test_a_chunked_body_over_the_limit_is_413(own_server: ServerProcess) -> None:
    """A body of unannounced length is cut off at the limit with a sentence."""
    assert own_server.proc is not None
    pid = own_server.proc.pid
    _peak_rss_reset(pid)
    base = _peak_rss(pid)
    head = _post_head(own_server.port, {"Authorization": f"token {own_server.token}"}, None,
                      expect_continue=False)
    chunk = b"%x\r\n" % (64 * 1024) + b" " * (64 * 1024) + b"\r\n"
    reply, _sent = _exchange(own_server.port, head, iter([chunk] * 20 * 16))  # 20 MiB
    assert reply.startswith(b"HTTP/1.1 413"), reply[:300]
    assert b"\r\nConnection: close\r\n" in reply.split(b"\r\n\r\n", 1)[0], reply[:300]
    body = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert body["reason"] == "body-too-large" and "more than 1048576 bytes" in body["message"]
    assert _peak_rss(pid) - base <= 8 * MIB
    assert own_server.request("GET", "/api/debug/sessions")[0] == 200
    assert all("Traceback" not in line for line in own_server.log)
    assert os.path.exists(f"/proc/{pid}")
