"""A second OS user for the tests that check nothing serves another user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess

OTHER_USER = "jds-intruder"


def other_user() -> pwd.struct_passwd | None:
    """The account `jds-intruder`, created on first use; None unless we run as root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        OTHER_USER], check=True, capture_output=True)
        return pwd.getpwnam(OTHER_USER)


def system_python() -> str | None:
    """An interpreter the other user can run (ours may live under /root)."""
    return shutil.which("python3", path="/usr/bin:/bin")
