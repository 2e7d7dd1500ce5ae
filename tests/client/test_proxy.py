"""client/proxy.py: which proxy a connection takes (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)."""

from __future__ import annotations

import pytest

from jupyter_debug_server.client.errors import DebugServerClientError
from jupyter_debug_server.client.proxy import (
    bypassed,
    check_connect_response,
    connect_request,
    parse_proxy_url,
    proxy_for,
)

pytestmark = pytest.mark.timeout(10)


def test_the_scheme_picks_the_variable_and_lowercase_wins() -> None:
    env = {"HTTPS_PROXY": "http://upper:3128", "https_proxy": "lower:8080",
           "HTTP_PROXY": "http://plain:3128"}
    secure = proxy_for("https", "hub.example.com", 443, env)
    assert secure is not None and (secure.host, secure.port) == ("lower", 8080)
    assert secure.variable == "https_proxy"
    plain = proxy_for("http", "hub.example.com", 80, env)
    assert plain is not None and (plain.host, plain.port) == ("plain", 3128)
    assert proxy_for("https", "hub.example.com", 443, {}) is None
    assert proxy_for("https", "hub.example.com", 443, {"HTTPS_PROXY": " "}) is None


def test_loopback_is_never_proxied() -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://proxy:3128"}
    for host in ("localhost", "127.0.0.1", "127.3.4.5", "::1", "[::1]"):
        assert proxy_for("http", host, 8888, env) is None, host


@pytest.mark.parametrize(("no_proxy", "host", "port", "expected"), [
    ("*", "anything.example", 443, True),
    ("example.com", "example.com", 443, True),
    ("example.com", "hub.example.com", 443, True),
    (".example.com", "hub.example.com", 443, True),
    ("*.example.com", "hub.example.com", 443, True),
    ("example.com", "notexample.com", 443, False),
    ("example.com:8443", "hub.example.com", 443, False),
    ("example.com:8443", "hub.example.com", 8443, True),
    ("10.0.0.0/8, other", "10.1.2.3", 80, True),
    ("10.0.0.0/8", "11.1.2.3", 80, False),
    ("10.0.0.0/8", "ten.example", 80, False),
    ("fd00::/8", "fd12::1", 80, True),
    ("[fd12::1]:80", "fd12::1", 80, True),
    ("[fd12::1]:80", "fd12::1", 81, False),
    ("HUB.Example.COM", "hub.example.com", 443, True),
    ("a.test b.test", "b.test", 443, True),
    ("", "hub.example.com", 443, False),
])
def test_no_proxy_matching(no_proxy: str, host: str, port: int, expected: bool) -> None:
    assert bypassed(host, port, no_proxy) is expected
    env = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    assert (proxy_for("https", host, port, env) is None) is expected


def test_credentials_become_a_header_and_stay_out_of_messages() -> None:
    proxy = parse_proxy_url("http://al%40ce:s3cret@proxy.corp:3128", "HTTPS_PROXY")
    assert proxy.headers == {"Proxy-Authorization": "Basic YWxAY2U6czNjcmV0"}
    assert "s3cret" not in repr(proxy) and proxy.address == "proxy.corp:3128"
    request = connect_request("hub.example.com", 443, proxy).decode()
    assert request.startswith("CONNECT hub.example.com:443 HTTP/1.1\r\n")
    assert "Proxy-Authorization: Basic YWxAY2U6czNjcmV0\r\n" in request
    assert request.endswith("\r\n\r\n")
    assert connect_request("fd12::1", 80, proxy).startswith(b"CONNECT [fd12::1]:80 ")


@pytest.mark.parametrize("value", ["socks5://proxy:1080", "https://proxy:3128",
                                   "http://:3128", "http://proxy:notaport"])
def test_an_unusable_proxy_url_is_refused_with_a_sentence(value: str) -> None:
    with pytest.raises(DebugServerClientError) as caught:
        proxy_for("https", "hub.example.com", 443,
                  {"HTTPS_PROXY": value.replace("proxy", "u:pw@proxy", 1)})
    assert caught.value.reason == "bad-proxy"
    assert "HTTPS_PROXY=" in caught.value.message and "pw" not in caught.value.message


def test_a_refused_connect_names_the_proxy_and_the_way_around_it() -> None:
    proxy = parse_proxy_url("http://u:pw@proxy.corp:3128", "HTTPS_PROXY")
    check_connect_response(b"HTTP/1.1 200 Connection established", "hub", 443, proxy)
    with pytest.raises(DebugServerClientError) as caught:
        check_connect_response(b"HTTP/1.1 407 Proxy Authentication Required\r\nX: y",
                               "hub", 443, proxy)
    assert caught.value.status == 407 and caught.value.reason == "proxy-refused"
    assert "proxy.corp:3128" in caught.value.message and "NO_PROXY=hub" in caught.value.message
    assert "pw" not in caught.value.message
