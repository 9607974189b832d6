"""The embedded PostGIS cluster: initdb, start, stop, status and destroy, idempotently."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgspatial.errors import ClusterError
from pgspatial.local.binaries import ServerBinaries, find_server
from pgspatial.local.layout import ClusterState, default_home, plan_layout
from pgspatial.local.osuser import ServerUser, resolve_server_user
from pgspatial.local.processes import kill_orphans, pick_free_port, port_is_free, postmaster_pid
from pgspatial.local.tuning import ServerTuning, render_config
from pgspatial.settings import Settings

__all__ = ["ClusterStatus", "LocalCluster"]

EXTENSIONS = ("postgis", "pgstattuple", "pg_stat_statements")
SUPERUSER = "postgres"
_CONF_NAME = "pgspatial.conf"


@dataclass(frozen=True)
class ClusterStatus:
    """A truthful snapshot of the embedded cluster."""

    home: Path
    initialized: bool
    running: bool
    pid: int | None = None
    port: int | None = None
    data_dir: Path | None = None
    socket_dir: Path | None = None
    server_user: str | None = None
    fallback_reason: str | None = None
    url: str | None = None

    def describe(self) -> str:
        """Human-readable lines for ``pgspatial db status``."""
        if not self.initialized:
            return f"not initialized (home: {self.home}); run `pgspatial db start`"
        lines = [
            f"{'running' if self.running else 'stopped'}"
            + (f" (pid {self.pid}, port {self.port})" if self.running else f" (port {self.port})"),
            f"data directory: {self.data_dir}",
            f"server user: {self.server_user}",
        ]
        if self.fallback_reason:
            lines.append(f"note: {self.fallback_reason}")
        if self.url:
            lines.append(f"url: {self.url}")
        return "\n".join(lines)


class LocalCluster:
    """A PostgreSQL + PostGIS cluster owned by one project, under ``Settings.home``.

    Every method is idempotent: ``start`` on a running cluster does nothing, ``stop`` on a
    stopped one does nothing, and ``start`` after a crash clears the stale pid file first.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.home = Path(os.path.abspath(self.settings.home or default_home()))
        self.state_file = self.home / "state.json"

    # -- queries ---------------------------------------------------------------------------

    def state(self) -> ClusterState | None:
        """The recorded state, or None before the first start."""
        return ClusterState.load(self.state_file)

    def status(self) -> ClusterStatus:
        """Whether the cluster exists and runs, read from disk and /proc, never assumed."""
        state = self.state()
        if state is None or not (Path(state.data_dir) / "PG_VERSION").exists():
            return ClusterStatus(home=self.home, initialized=False, running=False)
        pid = postmaster_pid(Path(state.data_dir))
        return ClusterStatus(
            home=self.home,
            initialized=True,
            running=pid is not None,
            pid=pid,
            port=state.port,
            data_dir=Path(state.data_dir),
            socket_dir=Path(state.socket_dir),
            server_user=state.server_user,
            fallback_reason=state.fallback_reason,
            url=self.url(state) if pid is not None else None,
        )

    def url(self, state: ClusterState | None = None, *, database: str | None = None) -> str:
        """SQLAlchemy URL of the cluster's database over 127.0.0.1 (trust authentication)."""
        state = state or self._require_state()
        dbname = database or self.settings.database_name
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{state.port}/{dbname}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ClusterStatus:
        """Initialise when needed, start when stopped, and make sure the database exists."""
        with self._lock():
            binaries = find_server(self.settings.pg_bindir)
            user = resolve_server_user(self.settings.server_user)
            state = self.state()
            if state is None or not (Path(state.data_dir) / "PG_VERSION").exists():
                state = self._initdb(binaries, user)
            data_dir = Path(state.data_dir)
            if postmaster_pid(data_dir) is None:
                self._clear_stale(state)
                self._choose_port(state)
                self._write_config(state)
                self._pg_ctl_start(state, user)
            self._bootstrap(state)
        return self.status()

    def stop(self) -> bool:
        """Stop the server (fast shutdown). Returns False when it was not running."""
        with self._lock():
            state = self.state()
            if state is None or postmaster_pid(Path(state.data_dir)) is None:
                return False
            user = resolve_server_user(state.server_user)
            result = user.run(
                [
                    str(Path(state.bindir) / "pg_ctl"),
                    "stop",
                    "-D",
                    state.data_dir,
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "60",
                ]
            )
            if result.returncode != 0:
                raise ClusterError(
                    f"pg_ctl stop failed: {result.stderr.strip() or result.stdout.strip()}. "
                    f"See {self._log_file(state)}."
                )
            return True

    def destroy(self) -> None:
        """Stop the server and delete its data, state and any directories created for it."""
        state = self.state()
        if state is not None:
            try:
                self.stop()
            except ClusterError:
                kill_orphans(Path(state.data_dir))
            for directory in (state.data_dir, *state.owned_dirs):
                shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.home / ".lock").unlink()
        with contextlib.suppress(OSError):
            self.home.rmdir()

    # -- helpers ---------------------------------------------------------------------------

    def _require_state(self) -> ClusterState:
        state = self.state()
        if state is None:
            raise ClusterError(
                f"No embedded cluster in {self.home}; run `pgspatial db start` first."
            )
        return state

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _log_file(self, state: ClusterState) -> Path:
        return Path(state.data_dir) / "server.log"

    def _initdb(self, binaries: ServerBinaries, user: ServerUser) -> ClusterState:
        layout = plan_layout(self.home, user)
        for owned in layout.owned_dirs:
            owned.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        if not user.can_traverse(layout.data_dir.parent):
            raise ClusterError(
                f"The server user {user.name!r} cannot reach {layout.data_dir.parent}. "
                "Set PGSPATIAL_HOME to a directory it can enter."
            )
        if layout.data_dir.exists():
            shutil.rmtree(layout.data_dir)  # a half-made directory from a failed initdb
        user.make_private_dir(layout.data_dir)
        if layout.socket_dir != layout.data_dir:
            user.make_private_dir(layout.socket_dir)
            layout.socket_dir.chmod(0o755)
        result = user.run(
            [
                binaries.tool("initdb"),
                "-D", str(layout.data_dir),
                "-U", SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
            ]
        )  # fmt: skip
        if result.returncode != 0:
            raise ClusterError(f"initdb failed in {layout.data_dir}: {result.stderr.strip()}")
        with open(layout.data_dir / "postgresql.conf", "a") as conf:
            conf.write(f"\ninclude_if_exists = '{_CONF_NAME}'\n")
        state = ClusterState(
            data_dir=str(layout.data_dir),
            socket_dir=str(layout.socket_dir),
            port=pick_free_port(),
            server_user=user.name,
            bindir=str(binaries.bindir),
            major=binaries.major,
            fallback_reason=layout.fallback_reason,
            owned_dirs=tuple(str(d) for d in layout.owned_dirs),
        )
        state.save(self.state_file)
        return state

    def _clear_stale(self, state: ClusterState) -> None:
        """After a crash: kill lingering children and remove the dead postmaster's lock files.

        PostgreSQL itself ignores a lock file whose pid is gone, but not one whose pid is a
        zombie (a killed postmaster nobody reaped, common in containers): remove both kinds.
        """
        data_dir = Path(state.data_dir)
        pid_file = data_dir / "postmaster.pid"
        if pid_file.exists():
            kill_orphans(data_dir)
            pid_file.unlink(missing_ok=True)
            for lock in Path(state.socket_dir).glob(".s.PGSQL.*.lock"):
                lock.unlink(missing_ok=True)

    def _choose_port(self, state: ClusterState) -> None:
        if not port_is_free(state.port):
            state.port = pick_free_port()
            state.save(self.state_file)

    def _write_config(self, state: ClusterState) -> None:
        conf = Path(state.data_dir) / _CONF_NAME
        text = render_config(
            port=state.port, socket_dir=Path(state.socket_dir), tuning=ServerTuning.for_machine()
        )
        conf.write_text(text)
        resolve_server_user(state.server_user).chown(conf)

    def _pg_ctl_start(self, state: ClusterState, user: ServerUser) -> None:
        log_file = self._log_file(state)
        result = user.run(
            [
                str(Path(state.bindir) / "pg_ctl"),
                "start",
                "-D",
                state.data_dir,
                "-l",
                str(log_file),
                "-w",
                "-t",
                "60",
            ]
        )
        if result.returncode != 0:
            tail = ""
            with contextlib.suppress(OSError):
                tail = "\n".join(log_file.read_text().splitlines()[-15:])
            raise ClusterError(
                f"The embedded PostgreSQL did not start (port {state.port}). "
                f"Server log {log_file}:\n{tail}"
            )

    def connect_admin(
        self, state: ClusterState | None = None, dbname: str = "postgres"
    ) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit superuser connection over the unix socket."""
        state = state or self._require_state()
        deadline = time.monotonic() + 30
        while True:
            try:
                return psycopg.connect(
                    host=state.socket_dir, port=state.port, user=SUPERUSER, dbname=dbname,
                    autocommit=True, connect_timeout=5,
                )  # fmt: skip
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ClusterError(f"Cannot connect to the embedded cluster: {exc}") from exc
                time.sleep(0.1)

    def _bootstrap(self, state: ClusterState) -> None:
        dbname = self.settings.database_name
        with self.connect_admin(state) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if not exists:
                conn.execute(
                    psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(dbname))
                )
        with self.connect_admin(state, dbname) as conn:
            for extension in EXTENSIONS:
                conn.execute(
                    psycopg.sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                        psycopg.sql.Identifier(extension)
                    )
                )
