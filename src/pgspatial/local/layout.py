"""Where the embedded cluster lives on disk, and the state file that remembers it."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from pgspatial.local.osuser import ServerUser

__all__ = ["ClusterState", "default_home", "plan_layout"]

# A unix socket path must fit in sockaddr_un.sun_path (108 bytes on Linux, with the NUL).
_MAX_SOCKET_PATH = 100
_SOCKET_NAME_LEN = len("/.s.PGSQL.65535")


def default_home(start: Path | None = None) -> Path:
    """``.pgspatial`` in the project root: the nearest parent holding pyproject.toml or .git."""
    here = Path(os.path.abspath(start or Path.cwd()))
    for directory in [here, *here.parents]:
        if (directory / ".pgspatial").is_dir():
            return directory / ".pgspatial"
        if (directory / "pyproject.toml").is_file() or (directory / ".git").exists():
            return directory / ".pgspatial"
    return here / ".pgspatial"


@dataclass
class ClusterState:
    """What ``state.json`` records so that restarts find the same cluster on the same port."""

    data_dir: str
    socket_dir: str
    port: int
    server_user: str
    bindir: str
    major: int
    fallback_reason: str | None = None
    # Directories pgspatial created outside the home and removes on destroy.
    owned_dirs: tuple[str, ...] = ()
    # The streaming replica (``pgspatial db start --replica``); None until one is made.
    replica_data_dir: str | None = None
    replica_socket_dir: str | None = None
    replica_port: int | None = None

    @classmethod
    def load(cls, path: Path) -> ClusterState | None:
        """The recorded state, or None when there is none.

        Files written before a field existed load with its default, and keys this version
        does not know (written by a newer pgspatial) are ignored rather than fatal.
        """
        if not path.is_file():
            return None
        raw = json.loads(path.read_text())
        known = {field.name for field in fields(cls)}
        values = {key: value for key, value in raw.items() if key in known}
        values["owned_dirs"] = tuple(values.get("owned_dirs", ()))
        return cls(**values)

    def save(self, path: Path) -> None:
        """Write the state atomically."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)


@dataclass(frozen=True)
class Layout:
    """The directories chosen for a new cluster."""

    data_dir: Path
    socket_dir: Path
    fallback_reason: str | None
    owned_dirs: tuple[Path, ...]


def _key(home: Path) -> str:
    return hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:12]


def _fallback_bases() -> list[Path]:
    bases = []
    if os.geteuid() == 0:
        bases.append(Path("/var/lib/pgspatial"))
    bases.append(Path(tempfile.gettempdir()) / f"pgspatial-{os.geteuid()}")
    return bases


def plan_layout(home: Path, user: ServerUser) -> Layout:
    """Choose the data and socket directories for a cluster whose state lives in ``home``.

    The data directory is ``home/data`` when the server user can reach it. When it cannot
    (a clone under a 0700 home directory, with the server running as ``postgres``), the data
    goes under /var/lib/pgspatial or the temp dir, keyed by the home's path; permissions of
    directories we do not own are never loosened.
    """
    data_dir = home / "data"
    reason = None
    owned: list[Path] = []
    if not user.can_traverse(home.parent):
        blocked = _first_blocked(home.parent, user)
        for base in _fallback_bases():
            candidate = base / _key(home)
            if user.can_traverse(base.parent):
                reason = (
                    f"the server user {user.name!r} cannot enter {blocked}, "
                    f"so the data directory is under {candidate}"
                )
                data_dir = candidate / "data"
                owned.append(candidate)
                break
    socket_dir = data_dir
    if len(str(socket_dir)) + _SOCKET_NAME_LEN > _MAX_SOCKET_PATH:
        socket_dir = Path(tempfile.gettempdir()) / f"pgspatial-sock-{_key(home)}"
        owned.append(socket_dir)
    return Layout(
        data_dir=data_dir, socket_dir=socket_dir, fallback_reason=reason, owned_dirs=tuple(owned)
    )


def _first_blocked(path: Path, user: ServerUser) -> Path:
    chain = [Path(os.path.abspath(path)), *Path(os.path.abspath(path)).parents]
    for directory in reversed(chain):
        if not user.can_traverse(directory):
            return directory
    return path
