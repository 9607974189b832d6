"""Running server commands as an unprivileged OS user, and checking what that user can reach.

PostgreSQL refuses to run as root, so when pgspatial is invoked as root the embedded
server runs as ``Settings.server_user`` (``postgres`` by default).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pgspatial.errors import EnvironmentProblem

__all__ = ["ServerUser", "resolve_server_user"]


@dataclass(frozen=True)
class ServerUser:
    """The OS account that owns the data directory and runs the server."""

    name: str
    uid: int
    gid: int
    groups: frozenset[int]
    home: str

    @property
    def is_current(self) -> bool:
        """True when the server runs as the invoking user (no user switch needed)."""
        return self.uid == os.geteuid()

    def can_traverse(self, path: Path) -> bool:
        """Whether this user can reach ``path``: execute permission on it and every parent."""
        if self.uid == 0:
            return True
        current = Path(os.path.abspath(path))
        for directory in [current, *current.parents]:
            try:
                info = directory.stat()
            except FileNotFoundError:
                continue
            if info.st_uid == self.uid:
                bit = stat.S_IXUSR
            elif info.st_gid in self.groups:
                bit = stat.S_IXGRP
            else:
                bit = stat.S_IXOTH
            if not info.st_mode & bit:
                return False
        return True

    def chown(self, path: Path) -> None:
        """Give ``path`` to this user (no-op when it is the invoking user)."""
        if not self.is_current:
            os.chown(path, self.uid, self.gid)

    def make_private_dir(self, path: Path) -> None:
        """Create ``path`` (and missing parents) with mode 0700 owned by this user."""
        path.mkdir(parents=True, exist_ok=True)
        self.chown(path)
        path.chmod(0o700)

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        capture: bool = True,
        check: bool = False,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command as this user with a minimal, predictable environment."""
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.home,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "USER": self.name,
            **(env or {}),
        }
        switch: dict[str, object] = {}
        if not self.is_current:
            switch = {"user": self.uid, "group": self.gid, "extra_groups": sorted(self.groups)}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            list(args),
            env=child_env,
            cwd="/",
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
            check=check,
            timeout=timeout,
            **switch,
        )


def resolve_server_user(name: str) -> ServerUser:
    """The account that should run the server: ``name`` when invoked as root, else oneself."""
    if os.geteuid() != 0:
        entry = pwd.getpwuid(os.geteuid())
    else:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise EnvironmentProblem(
                f"PostgreSQL refuses to run as root and the OS user {name!r} does not exist. "
                f"Create it (`useradd --system {name}`), set PGSPATIAL_SERVER_USER to another "
                "unprivileged user, or run pgspatial as a non-root user."
            ) from None
        if entry.pw_uid == 0:
            raise EnvironmentProblem(
                f"PGSPATIAL_SERVER_USER={name!r} is root; PostgreSQL refuses to run as root. "
                "Choose an unprivileged user such as 'postgres'."
            )
    groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if entry.pw_name in g.gr_mem}
    return ServerUser(
        name=entry.pw_name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        groups=frozenset(groups),
        home=entry.pw_dir or "/",
    )
