"""jupyter-debug-server: debug programs outside the kernel from Jupyter, over DAP."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    # Here, not at the top: a worker or the client library imports this package too, and
    # must not pay for (or depend on) jupyter_server.
    from .app import DebugServerApp  # noqa: PLC0415 (see above)

    return [{"module": "jupyter_debug_server", "app": DebugServerApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # The prebuilt JupyterLab extension (labextension/ built into this folder); a wheel
    # installs it under share/jupyter/labextensions, `jupyter labextension develop` links it.
    return [{"src": "labextension", "dest": "jupyter-debug-server"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_debug_server`: register the `%debug_session` magics."""
    # Here, not at the top: the server imports this package and must not import IPython.
    from .kernel import load_ipython_extension as load  # noqa: PLC0415 (see above)

    load(ipython)
