"""A second OS user for the tests that check nothing serves another user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess

OTHER_USER = "jds-intruder"


def os_user(name: str, *, home: bool = False) -> pwd.struct_passwd:
    """The account `name`, created with useradd on first use (root only): a system account
    without a home, or with `home` a user with a home of its own, mode 0700."""
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        kind = ["--create-home", "--user-group"] if home else ["--system", "--no-create-home"]
        subprocess.run(["useradd", *kind, "--shell", "/usr/sbin/nologin", name],
                       check=True, capture_output=True)
        user = pwd.getpwnam(name)
    if home:
        os.chmod(user.pw_dir, 0o700)
    return user


def other_user() -> pwd.struct_passwd | None:
    """The account `jds-intruder`, created on first use; None unless we run as root."""
    if os.geteuid() != 0:
        return None
    return os_user(OTHER_USER)


def system_python() -> str | None:
    """An interpreter the other user can run (ours may live under /root)."""
    return shutil.which("python3", path="/usr/bin:/bin")
