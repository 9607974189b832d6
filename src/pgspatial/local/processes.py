"""Process and port facts about a cluster: is its postmaster alive, is a port free."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from pathlib import Path

__all__ = ["kill_orphans", "pick_free_port", "port_is_free", "postmaster_pid"]


def _cwd_of(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may contain spaces.
    return stat.rpartition(")")[2].split()[0] in {"Z", "X"}


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid of the live postmaster serving ``data_dir``, or None.

    A ``postmaster.pid`` whose process is gone, or whose pid now belongs to a process that
    does not run in this data directory (pid reuse after a crash), counts as not running,
    and so does a killed postmaster that nobody has reaped yet (a zombie).
    """
    pid_file = data_dir / "postmaster.pid"
    try:
        first_line = pid_file.read_text().splitlines()[0]
        pid = int(first_line.strip())
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    if _is_zombie(pid):
        return None
    cwd = _cwd_of(pid)
    if cwd is not None and os.path.realpath(cwd) != os.path.realpath(data_dir):
        return None
    return pid


def kill_orphans(data_dir: Path, *, timeout: float = 15.0) -> int:
    """Kill server processes left running in ``data_dir`` after their postmaster died.

    After ``kill -9`` of a postmaster its children linger until they notice; while they hold
    the shared memory a new postmaster refuses to start. Returns how many were killed.
    """
    target = os.path.realpath(data_dir)
    victims = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            cwd = _cwd_of(int(entry.name))
            if cwd is not None and os.path.realpath(cwd) == target:
                victims.append(int(entry.name))
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in victims):
        time.sleep(0.05)
    return len(victims)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now (as PostgreSQL binds, SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
