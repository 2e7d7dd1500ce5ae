"""What every command that talks to a server gets: its options, a client, how to print.

Each such command is a function `run(ctx: Context) -> exit status`, set on its
subparser as `run=`; `run_command` calls it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TypeVar

from ..client import DebugServerClient, DebugServerClientError

T = TypeVar("T")


class Context:
    """What a command needs: the parsed options, a client, and how to print."""

    def __init__(self, options: argparse.Namespace, client: DebugServerClient) -> None:
        self.options = options
        self.client = client
        self.json = bool(getattr(options, "json", False))

    def emit(self, value: Any, text: Callable[[], str]) -> int:
        """Print the server's JSON with --json, else the human text; exit status 0."""
        print(json.dumps(value, indent=2) if self.json else text(), flush=True)
        return 0

    def on_session(self, call: Callable[[str], T]) -> T:
        """Run `call` with the session id, accepting a unique prefix of an id.

        The id is tried as given first (no extra request); only if the server does not
        know it are the sessions listed to find the one it abbreviates.
        """
        given = self.options.session
        try:
            return call(given)
        except DebugServerClientError as exc:
            if exc.status != 404 or exc.reason != "no-such-session":
                raise
            matches = self.client.ids_matching(given)
            if len(matches) > 1:
                raise DebugServerClientError(
                    400, "ambiguous-session",
                    f"session id prefix {given!r} matches {len(matches)} sessions "
                    f"({', '.join(matches[:5])}); give more characters") from None
            if not matches:
                raise
        self.options.session = matches[0]
        return call(matches[0])


class UsageError(Exception):
    """A command's arguments do not fit together: argparse's usage error (exit 2)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


def usage(options: argparse.Namespace, message: str) -> UsageError:
    """The usage error `message` of the command whose options these are."""
    return UsageError(options.parser, message)


def run_command(options: argparse.Namespace, client: DebugServerClient) -> int:
    """Run the chosen command; usage errors become argparse's exit status 2."""
    try:
        return int(options.run(Context(options, client)))
    except UsageError as exc:
        exc.parser.error(str(exc))  # exits with status 2
        raise AssertionError("unreachable") from None
