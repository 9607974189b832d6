"""The embedded PostGIS cluster: initdb, start, stop, status and destroy, idempotently.

With ``start(replica=True)`` the cluster also gets a streaming replica beside it (see
:mod:`pgspatial.local.replica`), started and stopped with it and removed by ``destroy``.
"""

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
from pgspatial.local.replica import (
    ReplicaLayout,
    ReplicaStatus,
    base_backup,
    drop_slot,
    plan_replica_layout,
    primary_extra_config,
    read_replication,
    standby_extra_config,
    wait_until_streaming,
)
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
    # None when the cluster has no replica (``pgspatial db start --replica`` makes one).
    replica: ReplicaStatus | None = None

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
        if self.replica is not None:
            lines.extend(self.replica.describe())
        return "\n".join(lines)


class LocalCluster:
    """A PostgreSQL + PostGIS cluster owned by one project, under ``Settings.home``.

    Every method is idempotent: ``start`` on a running cluster does nothing, ``stop`` on a
    stopped one does nothing, and ``start`` after a crash clears the stale pid file first.
    The same holds for the optional streaming replica.
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
        """Whether the cluster exists and runs, read from disk and /proc, never assumed.

        With a replica, its lag is asked of the primary (one query) when both run.
        """
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
            replica=self._replica_status(state, primary_running=pid is not None),
        )

    def url(self, state: ClusterState | None = None, *, database: str | None = None) -> str:
        """SQLAlchemy URL of the cluster's database over 127.0.0.1 (trust authentication)."""
        state = state or self._require_state()
        dbname = database or self.settings.database_name
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{state.port}/{dbname}"

    def replica_url(self, state: ClusterState | None = None, *, database: str | None = None) -> str:
        """SQLAlchemy URL of the same database on the replica (read-only, in recovery).

        Raises :class:`ClusterError` when the cluster has no replica.
        """
        state = state or self.state()
        if state is None or _replica_layout(state) is None or state.replica_port is None:
            raise ClusterError(
                f"The embedded cluster in {self.home} has no replica; "
                "run `pgspatial db start --replica` to make one."
            )
        dbname = database or self.settings.database_name
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{state.replica_port}/{dbname}"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, *, replica: bool = False) -> ClusterStatus:
        """Initialise when needed, start when stopped, and make sure the database exists.

        With ``replica=True`` also make the streaming replica when there is none (a base
        backup of the primary), start it when stopped, and return once it is in recovery
        and streaming. Without it an existing replica is left as it is: ``start()`` alone
        never costs a second server.
        """
        with self._lock():
            binaries = find_server(self.settings.pg_bindir)
            user = resolve_server_user(self.settings.server_user)
            state = self.state()
            if state is None or not (Path(state.data_dir) / "PG_VERSION").exists():
                state = self._initdb(binaries, user)
            data_dir = Path(state.data_dir)
            if postmaster_pid(data_dir) is None:
                self._clear_stale(data_dir, Path(state.socket_dir))
                self._choose_port(state)
                self._write_config(
                    data_dir, state.port, Path(state.socket_dir), state, primary_extra_config()
                )
                self._pg_ctl_start(state, user, data_dir, state.port)
                self._follow_primary(state, user)
            self._bootstrap(state)
            if replica:
                self._start_replica(state, user)
        return self.status()

    def stop(self) -> bool:
        """Stop the replica, then the server (fast shutdown). False when neither was running."""
        with self._lock():
            state = self.state()
            if state is None:
                return False
            stopped_replica = self._stop_replica(state)
            stopped_primary = self._pg_ctl_stop(state, Path(state.data_dir))
            return stopped_replica or stopped_primary

    def stop_replica(self) -> bool:
        """Stop only the replica (fast shutdown). False when it was not running."""
        with self._lock():
            state = self.state()
            return state is not None and self._stop_replica(state)

    def destroy(self) -> None:
        """Stop the servers and delete their data, state and any directories made for them."""
        state = self.state()
        if state is not None:
            try:
                self.stop()
            except ClusterError:
                if (layout := _replica_layout(state)) is not None:
                    kill_orphans(layout.data_dir)
                kill_orphans(Path(state.data_dir))
            self._remove_replica_dirs(state)
            for directory in (state.data_dir, *state.owned_dirs):
                shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.home / ".lock").unlink()
        with contextlib.suppress(OSError):
            self.home.rmdir()

    def destroy_replica(self) -> bool:
        """Stop the replica and delete it (and its slot on the primary); keep the primary.

        Returns False when there was no replica. ``start(replica=True)`` makes a new one.
        """
        with self._lock():
            state = self.state()
            if state is None or state.replica_data_dir is None:
                return False
            try:
                self._stop_replica(state)
            except ClusterError:
                kill_orphans(Path(state.replica_data_dir))
            if postmaster_pid(Path(state.data_dir)) is not None:
                with self.connect_admin(state) as conn:
                    drop_slot(conn)
            self._remove_replica_dirs(state)
            state.replica_data_dir = state.replica_socket_dir = None
            state.replica_port = None
            state.save(self.state_file)
            return True

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

    def _log_file(self, data_dir: Path) -> Path:
        return data_dir / "server.log"

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

    def _clear_stale(self, data_dir: Path, socket_dir: Path) -> None:
        """After a crash: kill lingering children and remove the dead postmaster's lock files.

        PostgreSQL itself ignores a lock file whose pid is gone, but not one whose pid is a
        zombie (a killed postmaster nobody reaped, common in containers): remove both kinds.
        """
        pid_file = data_dir / "postmaster.pid"
        if pid_file.exists():
            kill_orphans(data_dir)
            pid_file.unlink(missing_ok=True)
            for lock in socket_dir.glob(".s.PGSQL.*.lock"):
                lock.unlink(missing_ok=True)

    def _choose_port(self, state: ClusterState) -> None:
        if not port_is_free(state.port):
            state.port = pick_free_port()
            state.save(self.state_file)

    def _write_config(
        self, data_dir: Path, port: int, socket_dir: Path, state: ClusterState, extra: str
    ) -> None:
        """(Re)write ``pgspatial.conf`` in ``data_dir``: tuning, port, socket, then ``extra``."""
        conf = data_dir / _CONF_NAME
        text = render_config(port=port, socket_dir=socket_dir, tuning=ServerTuning.for_machine())
        conf.write_text(text + extra)
        resolve_server_user(state.server_user).chown(conf)

    def _pg_ctl_start(
        self, state: ClusterState, user: ServerUser, data_dir: Path, port: int
    ) -> None:
        log_file = self._log_file(data_dir)
        result = user.run(
            [
                str(Path(state.bindir) / "pg_ctl"),
                "start",
                "-D",
                str(data_dir),
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
            what = "replica" if data_dir != Path(state.data_dir) else "PostgreSQL"
            raise ClusterError(
                f"The embedded {what} did not start (port {port}). Server log {log_file}:\n{tail}"
            )

    def _pg_ctl_stop(self, state: ClusterState, data_dir: Path) -> bool:
        """Fast shutdown of the server in ``data_dir``; False when it was not running."""
        if postmaster_pid(data_dir) is None:
            return False
        user = resolve_server_user(state.server_user)
        result = user.run(
            [str(Path(state.bindir) / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast",
             "-w", "-t", "60"]
        )  # fmt: skip
        if result.returncode != 0:
            raise ClusterError(
                f"pg_ctl stop failed: {result.stderr.strip() or result.stdout.strip()}. "
                f"See {self._log_file(data_dir)}."
            )
        return True

    # -- the replica -------------------------------------------------------------------------

    def _stop_replica(self, state: ClusterState) -> bool:
        layout = _replica_layout(state)
        return layout is not None and self._pg_ctl_stop(state, layout.data_dir)

    def _start_replica(self, state: ClusterState, user: ServerUser) -> None:
        """Make the replica when missing, start it when stopped, wait until it streams."""
        layout = _replica_layout(state)
        if layout is None:
            layout = self._make_replica(state, user)
        assert state.replica_port is not None
        if postmaster_pid(layout.data_dir) is None:
            self._clear_stale(layout.data_dir, layout.socket_dir)
            if state.replica_port == state.port or not port_is_free(state.replica_port):
                state.replica_port = pick_free_port()
                state.save(self.state_file)
            self._write_standby_config(state, layout)
            self._pg_ctl_start(state, user, layout.data_dir, state.replica_port)
        wait_until_streaming(
            socket_dir=layout.socket_dir,
            port=state.replica_port,
            timeout_s=30,
            log_file=self._log_file(layout.data_dir),
        )

    def _make_replica(self, state: ClusterState, user: ServerUser) -> ReplicaLayout:
        """Base-backup the running primary into the replica's directory and record it."""
        layout = plan_replica_layout(self.home, Path(state.data_dir))
        if postmaster_pid(layout.data_dir) is not None:
            kill_orphans(layout.data_dir)  # a server left in a directory nobody records
        with self.connect_admin(state) as conn:
            drop_slot(conn)  # left by an attempt that failed before it was recorded
        try:
            base_backup(
                user=user,
                bindir=Path(state.bindir),
                primary_socket_dir=Path(state.socket_dir),
                primary_port=state.port,
                layout=layout,
            )
        except ClusterError:
            with self.connect_admin(state) as conn:
                drop_slot(conn)
            raise
        state.replica_data_dir = str(layout.data_dir)
        state.replica_socket_dir = str(layout.socket_dir)
        state.replica_port = pick_free_port()
        state.save(self.state_file)
        return layout

    def _write_standby_config(self, state: ClusterState, layout: ReplicaLayout) -> None:
        assert state.replica_port is not None
        extra = standby_extra_config(
            primary_socket_dir=Path(state.socket_dir), primary_port=state.port
        )
        self._write_config(layout.data_dir, state.replica_port, layout.socket_dir, state, extra)

    def _follow_primary(self, state: ClusterState, user: ServerUser) -> None:
        """After the primary (re)started, point a running replica at its current port."""
        layout = _replica_layout(state)
        if layout is None or postmaster_pid(layout.data_dir) is None:
            return
        self._write_standby_config(state, layout)
        user.run([str(Path(state.bindir) / "pg_ctl"), "reload", "-D", str(layout.data_dir)])

    def _replica_status(
        self, state: ClusterState, *, primary_running: bool
    ) -> ReplicaStatus | None:
        layout = _replica_layout(state)
        if layout is None or state.replica_port is None:
            return None
        pid = postmaster_pid(layout.data_dir)
        facts = None
        if pid is not None and primary_running:
            with (
                contextlib.suppress(psycopg.Error),
                psycopg.connect(
                    host=state.socket_dir, port=state.port, user=SUPERUSER, dbname="postgres",
                    autocommit=True, connect_timeout=2,
                ) as conn,
            ):  # fmt: skip
                facts = read_replication(conn)
        return ReplicaStatus(
            running=pid is not None,
            port=state.replica_port,
            data_dir=layout.data_dir,
            socket_dir=layout.socket_dir,
            pid=pid,
            url=self.replica_url(state) if pid is not None else None,
            streaming=None if facts is None else facts.streaming,
            lag_bytes=None if facts is None else facts.lag_bytes,
            replay_lag_s=None if facts is None else facts.replay_lag_s,
        )

    def _remove_replica_dirs(self, state: ClusterState) -> None:
        for directory in (state.replica_data_dir, state.replica_socket_dir):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)

    # -- connections -----------------------------------------------------------------------

    def connect_admin(
        self, state: ClusterState | None = None, dbname: str = "postgres"
    ) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit superuser connection to the primary over the unix socket."""
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
            if _replica_layout(state) is None:
                drop_slot(conn)  # a replica deleted by hand must not pin WAL on the primary
        with self.connect_admin(state, dbname) as conn:
            for extension in EXTENSIONS:
                conn.execute(
                    psycopg.sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(
                        psycopg.sql.Identifier(extension)
                    )
                )


def _replica_layout(state: ClusterState) -> ReplicaLayout | None:
    """Where the recorded replica lives, or None when there is none (or it was deleted)."""
    if state.replica_data_dir is None or state.replica_port is None:
        return None
    data_dir = Path(state.replica_data_dir)
    if not (data_dir / "PG_VERSION").exists():
        return None
    return ReplicaLayout(data_dir=data_dir, socket_dir=Path(state.replica_socket_dir or data_dir))
