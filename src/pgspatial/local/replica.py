"""The embedded cluster's streaming replica: where it lives, how it is made, how it is doing.

The replica is a second PostgreSQL server in a data directory next to the primary's, made
by ``pg_basebackup -R -X stream`` over the primary's unix socket, and kept in step by
streaming replication through a physical replication slot. It exists so that read-replica
routing (:class:`pgspatial.engine.RoutingSession`) can be tested against a real standby:
one that is in recovery, lags, refuses writes and cancels queries on recovery conflicts.

:class:`~pgspatial.local.cluster.LocalCluster` drives the lifecycle (``start(replica=True)``,
``stop_replica``, ``destroy_replica``); this module holds the parts that concern only the
replica, so that the cluster module stays about one server.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from pgspatial.errors import ClusterError
from pgspatial.local.layout import _MAX_SOCKET_PATH, _SOCKET_NAME_LEN, _key
from pgspatial.local.osuser import ServerUser

__all__ = [
    "REPLICA_APP_NAME",
    "REPLICA_SLOT",
    "ReplicaLayout",
    "ReplicaStatus",
    "ReplicationFacts",
    "base_backup",
    "connect_replica",
    "drop_slot",
    "plan_replica_layout",
    "primary_extra_config",
    "read_replication",
    "standby_extra_config",
    "wait_until_streaming",
]

#: ``application_name`` of the standby's WAL receiver, as the primary's
#: ``pg_stat_replication`` shows it.
REPLICA_APP_NAME = "pgspatial_replica"
#: The physical replication slot that keeps the WAL the replica has not replayed yet.
REPLICA_SLOT = "pgspatial_replica"
#: Upper bound on the WAL the primary keeps for a replica that stopped (or vanished).
_MAX_SLOT_WAL_KEEP = "1GB"
# The standby's connection settings. pgspatial.conf carries them; pg_basebackup -R writes
# them into postgresql.auto.conf, which is read last and would override pgspatial.conf.
_CONNECTION_SETTINGS = ("primary_conninfo", "primary_slot_name")


@dataclass(frozen=True)
class ReplicaLayout:
    """The directories chosen for the replica."""

    data_dir: Path
    socket_dir: Path


def plan_replica_layout(home: Path, primary_data_dir: Path) -> ReplicaLayout:
    """``replica`` beside the primary's data directory, wherever that went.

    Beside ``<home>/data`` that is ``<home>/replica``; when the primary fell back to
    /var/lib/pgspatial/<key>/data (a server user that cannot enter the project), the replica
    goes to /var/lib/pgspatial/<key>/replica, which the server user can reach for the same
    reason. The socket stays in the data directory unless its path would pass the ~100-byte
    limit of a unix socket address; then it goes to a short directory in the temp dir.
    """
    data_dir = primary_data_dir.parent / "replica"
    socket_dir = data_dir
    if len(str(socket_dir)) + _SOCKET_NAME_LEN > _MAX_SOCKET_PATH:
        socket_dir = Path(tempfile.gettempdir()) / f"pgspatial-sock-{_key(home)}-r"
    return ReplicaLayout(data_dir=data_dir, socket_dir=socket_dir)


def primary_extra_config() -> str:
    """Lines for the primary's pgspatial.conf: bound the WAL kept for an absent replica.

    The slot makes the primary keep every WAL segment the replica has not replayed, which
    is what lets a replica stopped for a while catch up; the bound keeps a forgotten
    replica from filling the disk (past it, the replica must be made again).
    """
    return f"""
# WAL kept for the replica's slot (pgspatial db start --replica), at most.
max_slot_wal_keep_size = '{_MAX_SLOT_WAL_KEEP}'
"""


def standby_extra_config(*, primary_socket_dir: Path, primary_port: int) -> str:
    """Lines for the replica's pgspatial.conf: where its primary is, and which slot to use.

    Written on every start, so a primary that moved to another port (because its old one
    was taken) is followed. The connection goes over the primary's unix socket as the
    superuser, which initdb's ``--auth=trust`` pg_hba allows for replication.
    """
    conninfo = (
        f"host={_conninfo_value(str(primary_socket_dir))} port={primary_port} user=postgres "
        f"application_name={REPLICA_APP_NAME}"
    )
    return f"""
# Streaming replica of the embedded cluster (pgspatial db start --replica).
primary_conninfo = '{_conf_string(conninfo)}'
primary_slot_name = '{REPLICA_SLOT}'
hot_standby = on
"""


def _conninfo_value(value: str) -> str:
    """A libpq conninfo value, quoted so that spaces and quotes in a path survive."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _conf_string(value: str) -> str:
    """``value`` escaped for a single-quoted postgresql.conf string (quotes, backslashes)."""
    return value.replace("\\", "\\\\").replace("'", "''")


def base_backup(
    *,
    user: ServerUser,
    bindir: Path,
    primary_socket_dir: Path,
    primary_port: int,
    layout: ReplicaLayout,
) -> None:
    """Copy the running primary into ``layout.data_dir`` as a standby (``pg_basebackup -R``).

    Whatever was there is removed first (a half-made copy from an interrupted attempt), and
    a failure removes what it made, the slot included, so the next attempt starts clean.
    ``--checkpoint=fast`` starts the copy at once instead of after a spread checkpoint.
    """
    if layout.data_dir.exists():
        shutil.rmtree(layout.data_dir)
    user.make_private_dir(layout.data_dir)
    if layout.socket_dir != layout.data_dir:
        user.make_private_dir(layout.socket_dir)
        layout.socket_dir.chmod(0o755)
    result = user.run(
        [
            str(bindir / "pg_basebackup"),
            "--pgdata", str(layout.data_dir),
            "--host", str(primary_socket_dir),
            "--port", str(primary_port),
            "--username", "postgres",
            "--no-password",
            "--wal-method=stream",
            "--write-recovery-conf",
            "--create-slot",
            "--slot", REPLICA_SLOT,
            "--checkpoint=fast",
        ]
    )  # fmt: skip
    if result.returncode != 0:
        shutil.rmtree(layout.data_dir, ignore_errors=True)
        raise ClusterError(
            f"pg_basebackup could not copy the primary into {layout.data_dir}: "
            f"{result.stderr.strip() or result.stdout.strip()}. Nothing was kept; "
            "fix the cause and run `pgspatial db start --replica` again."
        )
    # The primary's log came along with the copy; the replica starts a log of its own.
    (layout.data_dir / "server.log").unlink(missing_ok=True)
    _move_connection_settings(layout.data_dir / "postgresql.auto.conf")


def _move_connection_settings(auto_conf: Path) -> None:
    """Drop what ``-R`` wrote to postgresql.auto.conf: pgspatial.conf carries it instead.

    postgresql.auto.conf is read last and would override pgspatial.conf, pinning the
    standby to the port the primary had on the day the copy was made.
    """
    with contextlib.suppress(FileNotFoundError):
        lines = auto_conf.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not line.lstrip().startswith(_CONNECTION_SETTINGS)]
        auto_conf.write_text("".join(kept))  # same inode: owner and mode are kept


def drop_slot(connection: psycopg.Connection[tuple[object, ...]]) -> None:
    """Drop the replica's slot on the primary if it exists and no standby is using it."""
    connection.execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
        "WHERE slot_name = %s AND NOT active",
        (REPLICA_SLOT,),
    )


def connect_replica(socket_dir: Path, port: int) -> psycopg.Connection[tuple[object, ...]]:
    """A new autocommit superuser connection to the replica over its unix socket."""
    return psycopg.connect(
        host=str(socket_dir), port=port, user="postgres", dbname="postgres",
        autocommit=True, connect_timeout=5,
    )  # fmt: skip


def wait_until_streaming(*, socket_dir: Path, port: int, timeout_s: float, log_file: Path) -> None:
    """Wait until the standby accepts connections, is in recovery and streams from the primary.

    ``pg_ctl start -w`` already waited for connections; streaming follows within moments
    when the primary is reachable. Raises :class:`ClusterError` with the end of the
    replica's log when it does not happen within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    seen = "no answer"
    while time.monotonic() < deadline:
        try:
            with connect_replica(socket_dir, port) as conn:
                row = conn.execute(
                    "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)"
                ).fetchone()
        except psycopg.OperationalError as exc:
            seen = str(exc).strip()
        else:
            assert row is not None
            in_recovery, receiver = bool(row[0]), row[1]
            if not in_recovery:
                raise ClusterError(
                    f"The replica in {log_file.parent} is not in recovery: it was promoted or "
                    "its standby.signal is missing. Remove it with `pgspatial db destroy "
                    "--replica` and start it again."
                )
            if receiver == "streaming":
                return
            seen = f"in recovery, WAL receiver {receiver or 'not running'}"
        time.sleep(0.1)
    raise ClusterError(
        f"The replica did not start streaming from the primary within {timeout_s:.0f} s "
        f"({seen}). Replica log {log_file}:\n{_tail(log_file)}"
    )


def _tail(log_file: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log_file.read_text().splitlines()[-lines:])
    return "(no log)"


@dataclass(frozen=True)
class ReplicaStatus:
    """A snapshot of the replica; lag figures are None when they cannot be read cheaply."""

    running: bool
    port: int
    data_dir: Path
    socket_dir: Path
    pid: int | None = None
    url: str | None = None
    streaming: bool | None = None
    lag_bytes: int | None = None
    replay_lag_s: float | None = None

    def describe(self) -> list[str]:
        """Lines for ``pgspatial db status``."""
        if not self.running:
            head = f"replica: stopped (port {self.port})"
        else:
            head = f"replica: running (pid {self.pid}, port {self.port})"
            if self.streaming is not None:
                head += ", streaming" if self.streaming else ", NOT streaming from the primary"
            if self.lag_bytes is not None:
                head += f", {self.lag_bytes} bytes behind"
            if self.replay_lag_s is not None:
                head += f", replay lag {self.replay_lag_s:.3f} s"
        lines = [head, f"replica data directory: {self.data_dir}"]
        if self.url:
            lines.append(f"replica url: {self.url}")
        return lines


@dataclass(frozen=True)
class ReplicationFacts:
    """What the primary's ``pg_stat_replication`` says about the replica."""

    streaming: bool
    lag_bytes: int | None
    replay_lag_s: float | None


def read_replication(connection: psycopg.Connection[tuple[object, ...]]) -> ReplicationFacts:
    """The replica's streaming state and lag, as the primary sees it (one cheap query)."""
    row = connection.execute(
        "SELECT state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, "
        "extract(epoch FROM replay_lag)::float8 "
        "FROM pg_stat_replication WHERE application_name = %s",
        (REPLICA_APP_NAME,),
    ).fetchone()
    if row is None:
        return ReplicationFacts(streaming=False, lag_bytes=None, replay_lag_s=None)
    state, lag, replay = row
    lag_bytes = int(lag) if isinstance(lag, int) else None
    replay_lag_s = float(replay) if isinstance(replay, float) else None
    if replay_lag_s is None and lag_bytes == 0:
        replay_lag_s = 0.0  # NULL once caught up with nothing new to replay: no lag
    return ReplicationFacts(
        streaming=state == "streaming", lag_bytes=lag_bytes, replay_lag_s=replay_lag_s
    )
