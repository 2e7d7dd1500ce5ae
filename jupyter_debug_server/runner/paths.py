"""Path policy: where a user's path may point, in one place.

Every path a client gives (a program, a core file, a cwd, a breakpoint's source, the
breakpoints route's `path`) is resolved here against the server's root_dir and must stay
inside it unless c.DebugServerApp.allow_paths_outside_root says otherwise. Every way a
path can fail is a LaunchSpecError whose sentence names the value. Blocking (it stats
files): callers run it off the event loop, or on a path already known to be cheap.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import LaunchSpecError

__all__ = ["PathPolicy", "readable_file", "show"]


class PathPolicy:
    """Resolves user paths against the server's root_dir and keeps them inside it."""

    def __init__(self, root_dir: str, allow_outside_root: bool) -> None:
        self.root = Path(root_dir).expanduser().resolve()
        self.allow_outside_root = allow_outside_root

    def resolve(self, value: str, what: str, base: Path | None = None) -> Path:
        """Resolve `value` (relative to `base` or root_dir) and check the policy.

        Every way a path can fail to resolve (NUL, text that is not a file name, an
        unknown `~user`, a symlink loop, a name too long) is a LaunchSpecError naming it.
        """
        _check_path_text(value, what)
        try:
            path = Path(value).expanduser()
        except RuntimeError:  # `~name` of no user (or no home directory at all)
            raise LaunchSpecError(
                f"{what} {show(value)} starts with '~' but names no user with a home "
                "directory; give a path relative to the server's root directory or an "
                "absolute one", reason="bad-path") from None
        if not path.is_absolute():
            path = (base or self.root) / path
        try:
            path = path.resolve()
            path.stat()  # what resolve() does not raise for: a loop, a name too long
        except RuntimeError:  # Python < 3.13 reports a symlink loop this way
            loop = OSError(errno.ELOOP, os.strerror(errno.ELOOP))
            raise _path_error(what, value, loop) from None
        except FileNotFoundError:
            pass  # a missing file is judged by the caller (a breakpoint may name one)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.ENOTDIR):
                raise _path_error(what, value, exc) from None
        if not self.allow_outside_root and not path.is_relative_to(self.root):
            raise LaunchSpecError(
                f"{what} {show(value)} resolves to {str(path)!r}, which is outside the server's "
                f"root directory {str(self.root)!r}; set "
                "c.DebugServerApp.allow_paths_outside_root = True to allow it",
                reason="path-outside-root",
            )
        return path


def show(value: str, limit: int = 120) -> str:
    """A user's value for an error sentence: its repr, shortened past `limit` characters."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value)} chars)"


def _check_path_text(value: str, what: str) -> None:
    """A path must be text the OS takes as a file name: no NUL, valid Unicode."""
    if "\x00" in value:
        raise LaunchSpecError(f"{what} {show(value)} contains a NUL character, which no "
                              "file name can hold", reason="bad-path")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise LaunchSpecError(f"{what} {show(value)} is not valid Unicode (it holds a lone "
                              "surrogate), so it names no file", reason="bad-path") from None


def _path_error(what: str, value: str, exc: OSError) -> LaunchSpecError:
    """A LaunchSpecError for a path the OS refused to resolve or look up."""
    why = {errno.ELOOP: "goes through a loop of symbolic links",
           errno.ENAMETOOLONG: "is too long for the file system (a name or the whole "
                               "path exceeds its limit)"}.get(exc.errno or 0)
    return LaunchSpecError(f"{what} {show(value)} "
                           f"{why or f'cannot be looked up: {exc.strerror}'}",
                           reason="bad-path")


def readable_file(path: Path, what: str, value: str) -> None:
    """A path must name a regular file the server's user can read (LaunchSpecError)."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise LaunchSpecError(f"{what} {show(value)} does not exist (looked for "
                              f"{str(path)!r})", reason="not-found") from None
    except PermissionError:
        raise LaunchSpecError(f"{what} {show(value)} cannot be reached: a folder on its path "
                              "is not searchable by the server's user",
                              reason="not-readable") from None
    except OSError as exc:
        raise _path_error(what, value, exc) from None
    if not stat.S_ISREG(mode):
        raise LaunchSpecError(f"{what} {show(value)} is not a regular file",
                              reason="not-a-file")
    if not os.access(path, os.R_OK):
        raise LaunchSpecError(f"{what} {show(value)} is not readable by the server's user",
                              reason="not-readable")
