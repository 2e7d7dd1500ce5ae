"""Fixtures of the browser tests: a real ``jupyter lab``, Chromium through Playwright, the
REST API, and the gates every test passes at teardown (no traceback in the server's log,
no unexpected error in the browser console).

Run in a pytest process of their own (pytest-jupyter's loop fixtures and Playwright's
sync API do not mix): ``python -m pytest -p no:cacheprovider ui-tests``. $JDS_UI_PYTHON
names the Python whose ``jupyter lab`` is tested (default: this one).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from ui_debugger import PAGING_PY, SHAPES_C
from ui_lab import ARTIFACTS, LabServer, ui_python, use_repo_build
from ui_page import COUNTER_PY, ConsoleLog, open_lab
from ui_rest import Rest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
SCREENSHOTS = ARTIFACTS / "screenshots"
#: Playwright's expect() waits at most this long (ms); every other wait names its own.
EXPECT_TIMEOUT_MS = 15_000

HELLO_C = """\
#include <stdio.h>

int main(void) {
    int total = 0;
    for (int i = 0; i < 3; i++) {
        total += i;
        printf("step %d\\n", i);
    }
    printf("done %d\\n", total);
    return 0;
}
"""

expect.set_options(timeout=EXPECT_TIMEOUT_MS)
_WORKSPACES = itertools.count(1)  # a workspace per test: each starts with an empty layout


def pytest_report_header() -> list[str]:
    build = "this checkout's build (linked)" if use_repo_build() else "the installed one"
    return [f"ui-tests: jupyter lab of {ui_python()}; labextension: {build}"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the item (the page fixture names failed screenshots)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Before any fixture is torn down (sessions still as the test left them), save a
    screenshot of the test's page to build/ui-tests/screenshots/<test>.png."""
    pair = getattr(item, "funcargs", {}).get("page_only")
    if pair is None:
        return
    page: Page = pair[0]
    pair[1].collect_toasts()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / f"{_safe_name(item.name)}.png"
    try:
        page.screenshot(path=str(shot), timeout=15_000)
    except Exception as exc:  # a broken page must not hide the test's own failure
        print(f"screenshot {shot} failed: {exc}")
        return
    call = getattr(item, "report_call", None)
    if call is not None and call.failed:
        print(f"screenshot of the failure: {shot}")


# -- the server --------------------------------------------------------------------------


def make_root(root: Path) -> Path:
    """The server's root_dir: counter.py and, with gcc, the hello and shapes programs
    built with -g."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "counter.py").write_text(COUNTER_PY)
    (root / "hello.c").write_text(HELLO_C)
    (root / "shapes.c").write_text(SHAPES_C)
    (root / "paging.py").write_text(PAGING_PY)
    if shutil.which("gcc"):
        for name in ("hello", "shapes"):
            subprocess.run(["gcc", "-g", "-O0", "-o", str(root / name), str(root / f"{name}.c")],
                           check=True, timeout=60)
    return root


@pytest.fixture(scope="session")
def lab_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LabServer]]:
    """Start a ``jupyter lab`` with its own root and Jupyter dirs: `lab_factory(name, *args)`."""
    servers: list[LabServer] = []

    def start(name: str, *extra_args: str) -> LabServer:
        base = tmp_path_factory.mktemp(name)
        server = LabServer(name, make_root(base / "root"), base / "jupyter", extra_args)
        servers.append(server)
        server.start()
        return server

    yield start
    problems = []
    for server in servers:
        server.stop()
        if server.tracebacks():
            problems.append(f"{server.name} (log: {server.log_path}):\n"
                            + "\n".join(server.tracebacks()))
    if problems:
        pytest.fail("a server logged a traceback:\n" + "\n\n".join(problems))


@pytest.fixture(scope="session")
def lab(lab_factory: Callable[..., LabServer]) -> LabServer:
    """The shared server of the tests that need no special configuration."""
    return lab_factory("lab")


@pytest.fixture
def server(lab: LabServer) -> LabServer:
    """The server of this test (overridden by tests that need their own)."""
    return lab


@pytest.fixture
def rest(server: LabServer) -> Iterator[Rest]:
    """The REST API of the test's server; ends every session still going at teardown."""
    api = Rest(server.url, server.token)
    yield api
    api.stop_all()


@pytest.fixture(autouse=True)
def server_log_gate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test during which its server logged a traceback."""
    if "server" not in request.fixturenames:
        yield
        return
    server: LabServer = request.getfixturevalue("server")
    start = server.mark()
    yield
    found = server.tracebacks(start)
    if found:
        pytest.fail(f"the server logged a traceback (log: {server.log_path}):\n"
                    + "\n\n".join(found))


# -- the browser -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    chromium = playwright_driver.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
    yield chromium
    chromium.close()


@pytest.fixture
def console(page_only: tuple[Page, ConsoleLog]) -> ConsoleLog:
    """The browser console's errors; `console.expect(pattern)` allows matching ones."""
    return page_only[1]


@pytest.fixture
def page_only(browser: Browser,
              request: pytest.FixtureRequest) -> Iterator[tuple[Page, ConsoleLog]]:
    """A fresh browser context and page (1400x900) with its console collected; at the
    end any unexpected console error fails the test (the screenshot is taken before,
    by pytest_runtest_teardown)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    context.set_default_navigation_timeout(60_000)
    page = context.new_page()
    log = ConsoleLog(page)
    yield page, log
    context.close()
    unexpected = log.unexpected()
    if unexpected:
        pytest.fail("browser errors (console, uncaught, notifications):\n"
                    + "\n".join(unexpected))


@pytest.fixture
def page(page_only: tuple[Page, ConsoleLog], server: LabServer) -> Page:
    """The test's page, logged in to its server's JupyterLab with a fresh workspace."""
    lab_page = page_only[0]
    open_lab(lab_page, server, workspace=f"t{next(_WORKSPACES)}")
    return lab_page


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.[]" else "_" for c in name)
