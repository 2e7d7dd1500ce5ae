#!/usr/bin/env python
"""Benchmark: a step in the JupyterLab panel against the REST step route it stands on.

Modes (see bench/README.md), each a session of its own ``jupyter server`` subprocess on
``bench/targets/loop.py``, stopped at its breakpoint:

- ``panel``  Chromium (Debian's, through Playwright for Python) shows JupyterLab at
             ``/lab?debug-session=<id>``; a step is a click on the panel's "Step Over"
             button. Timed in the page with ``performance.now()``: from just before the
             click until a MutationObserver (set up before the click) sees the detail's
             ``a.jds-Location`` show a new ``file:line`` with the session ``stopped``.
- ``rest``   ``POST /api/debug/sessions/{id}/step {"kind": "over"}`` from Python on a
             keep-alive connection, which answers after the next stop (``rest`` of
             step_latency.py).

The rounds interleave the modes (one step of each per round by default). The report gives
p50 and p90 of both, their ratio, and the target ``panel p50 <= 1.5 x REST p50 + 20 ms``
(PASS or FAIL; exit status 1 on FAIL).

Usage: ``python bench/panel_step.py [--steps 30] [--rounds 30] [--modes panel,rest]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
from collections.abc import Callable
from typing import Any

from lib.bench_context import Context, python_context
from lib.bench_modes import Mode, Skip
from lib.bench_process import REPO_ROOT
from lib.bench_run import bench_parser, parse_bench_args, run_bench
from lib.bench_server import RestMode
from lib.dapclient import DapError

ALL_MODES = ("panel", "rest")
RATIOS: tuple[tuple[str, str, float | None], ...] = (("panel", "rest", None),)
#: The target: panel p50 <= FACTOR x REST p50 + SLACK_MS.
FACTOR = 1.5
SLACK_MS = 20.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
REPO_LABEXTENSION = REPO_ROOT / "jupyter_debug_server" / "labextension"
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}

# In the page: click `button` ("Step Over") and resolve with the milliseconds until the
# session's detail shows a new stop location. The observer is set up before the click.
TIMED_STEP_JS = """
([button, timeoutMs]) => new Promise((resolve, reject) => {
  const detail = button.closest('.jds-SessionDetail');
  const where = () => {
    const link = detail.querySelector('a.jds-Location');
    return link ? link.textContent.trim() : '';
  };
  const before = where();
  let started = 0;
  const observer = new MutationObserver(() => {
    const now = where();
    if (detail.dataset.state === 'stopped' && now && now !== before) {
      const elapsed = performance.now() - started;
      observer.disconnect();
      clearTimeout(timer);
      resolve({ms: elapsed, before, after: now});
    }
  });
  const timer = setTimeout(() => {
    observer.disconnect();
    reject(new Error(`the location stayed ${JSON.stringify(before)} for ${timeoutMs} ms`));
  }, timeoutMs);
  observer.observe(detail, {subtree: true, childList: true, characterData: true,
                            attributes: true});
  started = performance.now();
  button.click();
})
"""


class PanelMode(RestMode):
    """``rest``'s server and session, stepped by clicking "Step Over" in the panel."""

    use_repo_build = True

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.name = "panel"
        self.description = "JupyterLab panel: click Step Over -> new location shown"
        self.driver: Any = None
        self.browser: Any = None
        self.page: Any = None
        self.console_errors: list[str] = []

    def _start_server(self) -> int:
        # RestMode gives the server workdir/jupyter-<name>/{config,data,runtime}: put the
        # page config (no news toast) and, from a checkout, its extension build there
        # (the data dir is searched before the environment's copy) before it starts.
        jupyter_dir = self.ctx.workdir / f"jupyter-{self.name}"
        labconfig = jupyter_dir / "config" / "labconfig"
        labconfig.mkdir(parents=True, exist_ok=True)
        (labconfig / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
        if self.use_repo_build and (REPO_LABEXTENSION / "package.json").is_file():
            labext = jupyter_dir / "data" / "labextensions"
            labext.mkdir(parents=True, exist_ok=True)
            (labext / "jupyter-debug-server").symlink_to(REPO_LABEXTENSION)
        self.port = super()._start_server()
        return self.port

    def start(self) -> None:
        try:
            from playwright.sync_api import sync_playwright  # noqa: PLC0415 (optional)
        except ImportError as exc:
            raise Skip(f"playwright is not installed: {exc}") from exc
        if not os.access(CHROMIUM, os.X_OK):
            raise Skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
        super().start()  # server, session stopped at the breakpoint
        timeout_ms = self.ctx.setup_timeout * 1000
        self.driver = sync_playwright().start()
        self.browser = self.driver.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=timeout_ms)
        self.page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.set_default_timeout(timeout_ms)
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.goto(f"http://127.0.0.1:{self.port}/lab?debug-session={self.session_id}"
                       f"&token={self.token}")
        detail = self.page.locator(
            f'.jds-SessionDetail[data-session-id="{self.session_id}"][data-state="stopped"]')
        try:
            detail.locator("a.jds-Location").wait_for(state="visible")
        except Exception as exc:
            raise Skip(f"the panel did not show the stopped session: {exc}") from exc

    def _button(self) -> Any:
        """The "Step Over" button, once enabled (untimed)."""
        button = self.page.locator(".jds-SessionDetail").get_by_role(
            "button", name="Step Over", exact=True)
        deadline_ms = self.ctx.step_timeout * 1000
        button.wait_for(state="visible", timeout=deadline_ms)
        handle = button.element_handle(timeout=deadline_ms)
        handle.wait_for_element_state("enabled", timeout=deadline_ms)
        return handle

    def step(self) -> float:
        button = self._button()
        try:
            result = self.page.evaluate(TIMED_STEP_JS, [button, self.ctx.step_timeout * 1000])
        except Exception as exc:  # a Playwright error: the page's reject, a closed page
            raise DapError(f"the panel's step failed: {exc}") from exc
        return float(result["ms"]) / 1000.0

    def close(self) -> None:
        if self.console_errors:
            print(f"  panel: browser console errors: {self.console_errors[:5]}")
        if self.browser is not None:
            with contextlib.suppress(Exception):
                self.browser.close()
        if self.driver is not None:
            with contextlib.suppress(Exception):
                self.driver.stop()
        self.browser = self.driver = self.page = None
        super().close()


def p50_p90(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000.0 for s in samples)
    if len(ms) == 1:
        return ms[0], ms[0]
    return statistics.median(ms), statistics.quantiles(ms, n=10, method="inclusive")[8]


def report_target(made: list[Mode], verdict: list[bool]) -> Callable[[dict[str, Any], set[str]],
                                                                    bool]:
    """Print p50/p90 of both, the ratio and PASS/FAIL; `verdict` gets the outcome."""

    def extra_report(result: dict[str, Any], _requested: set[str]) -> bool:
        by_name = {mode.name: mode for mode in made}
        panel, rest = by_name.get("panel"), by_name.get("rest")
        print()
        if panel is None or rest is None or not panel.samples or not rest.samples:
            print("panel vs REST: not measured (both modes need samples): FAIL")
            verdict.append(False)
            return False
        (pp50, pp90), (rp50, rp90) = p50_p90(panel.samples), p50_p90(rest.samples)
        limit = FACTOR * rp50 + SLACK_MS
        passed = pp50 <= limit
        print(f"panel p50 {pp50:.2f} ms, p90 {pp90:.2f} ms")
        print(f"REST  p50 {rp50:.2f} ms, p90 {rp90:.2f} ms")
        print(f"panel/REST: p50 {pp50 / rp50:.2f}x ({pp50 - rp50:+.2f} ms), "
              f"p90 {pp90 / rp90:.2f}x ({pp90 - rp90:+.2f} ms)")
        print(f"target: panel p50 <= {FACTOR:g} x REST p50 + {SLACK_MS:g} ms = {limit:.2f} ms: "
              f"{'PASS' if passed else 'FAIL'}")
        result["panel_target"] = {"panel_p50_ms": pp50, "panel_p90_ms": pp90,
                                  "rest_p50_ms": rp50, "rest_p90_ms": rp90,
                                  "limit_ms": limit, "passed": passed}
        verdict.append(passed)
        return passed

    return extra_report


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, ALL_MODES, "also exit 1 if a mode failed (FAIL always does)")
    parser.set_defaults(steps=30, rounds=30, warmup=3)
    parser.add_argument("--installed-extension", action="store_true",
                        help="serve the extension the environment installed, not this "
                             "checkout's build (jupyter_debug_server/labextension)")
    args: argparse.Namespace = parse_bench_args(parser, argv, ALL_MODES)
    PanelMode.use_repo_build = not args.installed_extension
    made: list[Mode] = []
    verdict: list[bool] = []

    def make_mode(name: str, ctx: Context) -> Mode:
        mode: Mode = PanelMode(ctx) if name == "panel" else RestMode(ctx)
        made.append(mode)
        return mode

    def versions() -> dict[str, str]:
        from importlib.metadata import version  # noqa: PLC0415

        found = {}
        for package in ("jupyterlab", "playwright", "debugpy"):
            with contextlib.suppress(Exception):
                found[package] = version(package)
        return found

    status = run_bench(
        args,
        prefix="jds-panel-bench-",
        make_context=lambda workdir: python_context(workdir, args),
        make_mode=make_mode,
        versions=versions,
        ratios=RATIOS,
        baselines=("rest",),
        extra_report=report_target(made, verdict),
    )
    return 1 if not all(verdict) or not verdict else status


if __name__ == "__main__":
    sys.exit(main())
