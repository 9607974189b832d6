"""A real PgBouncer in front of any PostgreSQL, for tests.

Errata 15: pgspatial's PgBouncer mode (``create_engine(..., pgbouncer=True)``) exists because
of how PgBouncer 1.18 behaves in transaction mode: it refuses the ``options`` startup
parameter, hands one server connection to many clients (so a psycopg auto-prepared
``_pg3_0`` collides or goes missing), and lets a session ``SET`` leak to the next client.
None of that can be shown with mocks, so this module runs the real thing::

    with PgBouncer(database_url, pool_mode="transaction", default_pool_size=1) as bouncer:
        engine = pgspatial.create_engine(bouncer.url, pgbouncer=True)

The bouncer runs in the foreground as a child process (never a daemon), as the unprivileged
server user when invoked as root (PgBouncer, like PostgreSQL, should not run as root),
listens on ``127.0.0.1`` only (no unix socket), trusts the one user of the upstream URL,
and keeps its config, user list and log in a private temporary directory that is removed
when it stops. ``stop()`` (also reached through ``__exit__``, a garbage-collection finalizer
and interpreter exit) terminates and reaps it; when started from the main thread on Linux
the kernel also kills it if the test process dies without cleaning up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from sqlalchemy.engine import URL

from pgspatial.errors import ConfigError, EnvironmentProblem, PgSpatialError, ServerNotFound
from pgspatial.local.osuser import ServerUser, resolve_server_user
from pgspatial.local.processes import pick_free_port
from pgspatial.settings import Settings
from pgspatial.urls import sqlalchemy_url

__all__ = ["PgBouncer", "PgBouncerError", "PoolMode", "find_pgbouncer"]

PoolMode = Literal["session", "transaction", "statement"]

_POOL_MODES: frozenset[str] = frozenset({"session", "transaction", "statement"})
_LISTEN_HOST = "127.0.0.1"
_SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PARAMETER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PORT_TAKEN = "Address already in use"
_PORT_ATTEMPTS = 3
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class PgBouncerError(PgSpatialError):
    """PgBouncer could not be configured, started or stopped; the message has its log tail."""


def find_pgbouncer(binary: str | Path | None = None, *, search_path: str | None = None) -> str:
    """The absolute path of the ``pgbouncer`` executable: ``binary``, else the first on
    ``search_path`` (default: PATH, then /usr/sbin and friends, where Debian installs it
    out of a normal user's PATH).
    """
    if binary is not None:
        path = Path(binary)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.resolve())
        raise ServerNotFound(
            f"{path} is not an executable PgBouncer binary. Pass the path of `pgbouncer`, or "
            "leave binary out to search PATH and /usr/sbin (Debian package `pgbouncer`)."
        )
    if search_path is None:
        search_path = os.pathsep.join([os.environ.get("PATH", ""), *_SEARCH_DIRS])
    found = shutil.which("pgbouncer", path=search_path)
    if found is None:
        raise ServerNotFound(
            f"PgBouncer is not installed (no `pgbouncer` in {search_path}). Install the "
            "Debian package `pgbouncer` (`apt-get install pgbouncer`) or pass binary=... ."
        )
    return str(Path(found).resolve())


def _no_newline(what: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ConfigError(f"{what} must be a single line, got {value!r}.")
    return value


def _quoted(value: str) -> str:
    """A value for a PgBouncer connection string: single-quoted, quotes doubled."""
    return "'" + _no_newline("A connection-string value", value).replace("'", "''") + "'"


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (PgBouncer's immediate shutdown), then SIGKILL; always reaps the process."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=timeout)


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the parent dies, or None.

    Only from the main thread: the signal fires when the *thread* that forked exits, so a
    bouncer started from a short-lived worker thread would be killed under its users.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - libc without prctl
        return None
    # Resolved here, in the parent: the child calls it between fork and exec and must not
    # import or allocate more than necessary.
    sigterm = ctypes.c_ulong(int(signal.SIGTERM))
    option = ctypes.c_int(_PR_SET_PDEATHSIG)
    parent = os.getpid()

    def set_parent_death_signal() -> None:
        # After the uid switch (subprocess switches user before calling this), because a
        # credential change clears the parent-death signal.
        prctl(option, sigterm)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return set_parent_death_signal


class PgBouncer:
    """A PgBouncer process in front of ``upstream_url``'s server, for the length of a test.

    Clients connect to :attr:`url`: the upstream database name and user, on ``127.0.0.1``
    and a free port. The upstream host must be reachable over TCP (PgBouncer is given its
    host, port and database name; a password in the URL is passed on to the server).

    ``ignore_startup_parameters`` is empty by default, as in a stock PgBouncer, so a client
    sending ``options`` is refused; ``server_reset_query`` None keeps PgBouncer's default
    (``DISCARD ALL``, used in session mode only). ``query_wait_timeout_s`` bounds how long a
    client waits for a server connection: a test that holds the only one while another
    client waits fails after that instead of hanging for PgBouncer's default 120 s.
    ``extra_settings`` adds or overrides any other ``[pgbouncer]`` setting (e.g.
    ``admin_users`` for the admin console, ``server_lifetime``). ``port`` fixes the listen
    port (default: a free one, picked again if another program takes it first).
    """

    def __init__(
        self,
        upstream_url: str | URL,
        *,
        pool_mode: PoolMode = "transaction",
        default_pool_size: int = 1,
        max_client_conn: int = 100,
        ignore_startup_parameters: Sequence[str] = (),
        server_reset_query: str | None = None,
        query_wait_timeout_s: int = 10,
        extra_settings: Mapping[str, str] | None = None,
        server_user: str | None = None,
        binary: str | Path | None = None,
        start_timeout_s: float = 10.0,
        port: int | None = None,
    ) -> None:
        if pool_mode not in _POOL_MODES:
            raise ConfigError(f"pool_mode must be one of {sorted(_POOL_MODES)}, got {pool_mode!r}.")
        for name, value in (
            ("default_pool_size", default_pool_size),
            ("max_client_conn", max_client_conn),
            ("query_wait_timeout_s", query_wait_timeout_s),
        ):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}.")
        for parameter in ignore_startup_parameters:
            if not _PARAMETER.match(parameter):
                raise ConfigError(
                    f"ignore_startup_parameters: {parameter!r} is not a parameter name."
                )
        upstream = sqlalchemy_url(upstream_url)
        host = upstream.host or upstream.query.get("host")
        if not isinstance(host, str) or not host or host.startswith("/"):
            raise ConfigError(
                f"The upstream URL {upstream.render_as_string()} has no TCP host; PgBouncer "
                "needs one (e.g. postgresql://user@127.0.0.1:5432/db)."
            )
        self.upstream_host = host
        self.upstream_port = upstream.port or 5432
        self.database = upstream.database or "postgres"
        self.user = upstream.username or "postgres"
        for what, name in (("database", self.database), ("user", self.user)):
            if not _NAME.match(name):
                raise ConfigError(
                    f"The upstream {what} name {name!r} is not supported by this helper "
                    "(letters, digits, '_', '.', '-'); use a plainer name for tests."
                )
        self._upstream_password = upstream.password
        self.pool_mode: PoolMode = pool_mode
        self.default_pool_size = default_pool_size
        self.max_client_conn = max_client_conn
        self.ignore_startup_parameters = tuple(ignore_startup_parameters)
        self.server_reset_query = server_reset_query
        self.query_wait_timeout_s = query_wait_timeout_s
        self.extra_settings = dict(extra_settings or {})
        for key, text in self.extra_settings.items():
            if not _PARAMETER.match(key):
                raise ConfigError(f"extra_settings: {key!r} is not a PgBouncer setting name.")
            _no_newline(f"extra_settings[{key!r}]", text)
        self.binary = find_pgbouncer(binary)
        self.server_user: ServerUser = resolve_server_user(
            server_user if server_user is not None else Settings().server_user
        )
        if port is not None and not 0 < port < 65536:
            raise ConfigError(f"port must be between 1 and 65535, got {port}.")
        self.start_timeout_s = start_timeout_s
        self.requested_port = port
        self.port: int | None = None
        self.directory: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes], float], PgBouncer] | None = None

    # -- public ----------------------------------------------------------------------------

    @property
    def url(self) -> URL:
        """``postgresql+psycopg://user@127.0.0.1:PORT/db``: where clients connect."""
        if self.port is None:
            raise PgBouncerError("PgBouncer is not running: call start() or use it in `with`.")
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            host=_LISTEN_HOST,
            port=self.port,
            database=self.database,
        )

    @property
    def running(self) -> bool:
        """Whether the PgBouncer process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while running."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        """PgBouncer's log (its stdout and stderr) while the temporary directory exists."""
        return None if self.directory is None else self.directory / "pgbouncer.log"

    def log_tail(self, lines: int = 30) -> str:
        """The last ``lines`` lines of the log ('' when there is none)."""
        path = self.log_path
        if path is None or not path.exists():
            return ""
        text = path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def render_config(self, *, port: int, directory: Path) -> str:
        """The ``pgbouncer.ini`` text for listening on ``port`` with files in ``directory``."""
        target = [
            f"host={_quoted(self.upstream_host)}",
            f"port={self.upstream_port}",
            f"dbname={_quoted(self.database)}",
        ]
        if self._upstream_password is not None:
            target.append(f"password={_quoted(self._upstream_password)}")
        settings: dict[str, str] = {
            "listen_addr": _LISTEN_HOST,
            "listen_port": str(port),
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": str(directory / "userlist.txt"),
            "pool_mode": self.pool_mode,
            "default_pool_size": str(self.default_pool_size),
            "max_client_conn": str(self.max_client_conn),
            "ignore_startup_parameters": ",".join(self.ignore_startup_parameters),
            "query_wait_timeout": str(self.query_wait_timeout_s),
            "pidfile": "",
            "logfile": "",  # the foreground process logs to stderr, which goes to our log
        }
        if self.server_reset_query is not None:
            settings["server_reset_query"] = _no_newline(
                "server_reset_query", self.server_reset_query
            )
        settings.update(self.extra_settings)
        lines = [
            "; written by pgspatial.testing.pgbouncer",
            "[databases]",
            f"{self.database} = {' '.join(target)}",
            "",
            "[pgbouncer]",
            *(f"{key} = {value}" for key, value in settings.items()),
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> Self:
        """Write the config, start PgBouncer and wait until it accepts TCP connections.

        Raises :class:`PgBouncerError` with the log tail when it exits or does not listen
        within ``start_timeout_s``. Returns ``self``.
        """
        if self.running:
            return self
        try:
            self._stop_process()  # reap one that died since the last start
            self._make_directory()
            if self.requested_port is not None:
                self._try_start(self.requested_port, last=True)
                return self
            for attempt in range(1, _PORT_ATTEMPTS + 1):  # a picked port can be taken meanwhile
                if self._try_start(pick_free_port(_LISTEN_HOST), last=attempt == _PORT_ATTEMPTS):
                    return self
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate PgBouncer, wait for it, and remove its temporary directory. Idempotent."""
        self._stop_process(timeout_s)
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{_LISTEN_HOST}:{self.port}" if self.port is not None else "stopped"
        return (
            f"PgBouncer({where} -> {self.upstream_host}:{self.upstream_port}/{self.database}, "
            f"pool_mode={self.pool_mode}, default_pool_size={self.default_pool_size})"
        )

    # -- internals -------------------------------------------------------------------------

    def _make_directory(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        directory = Path(tempfile.mkdtemp(prefix="pgspatial-pgbouncer-"))
        self.directory = directory
        if not self.server_user.can_traverse(directory.parent):
            raise EnvironmentProblem(
                f"The server user {self.server_user.name!r} cannot reach {directory.parent}. "
                "Point TMPDIR to a directory every user can enter (e.g. /tmp)."
            )
        self.server_user.make_private_dir(directory)  # 0700, owned by the server user
        users = directory / "userlist.txt"
        users.write_text('"{}" ""\n'.format(self.user.replace('"', '""')))
        self.server_user.chown(users)
        users.chmod(0o600)

    def _try_start(self, port: int, *, last: bool) -> bool:
        """Start on ``port``; False when the port was taken meanwhile (and not ``last``)."""
        assert self.directory is not None
        config = self.directory / "pgbouncer.ini"
        config.write_text(self.render_config(port=port, directory=self.directory))
        self.server_user.chown(config)
        config.chmod(0o600)
        log_path = self.directory / "pgbouncer.log"
        self._process = self._spawn(config, log_path)
        self._finalizer = weakref.finalize(self, _terminate, self._process, 10.0)
        self.port = port
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                if _PORT_TAKEN in self.log_tail() and not last:
                    self._stop_process()
                    return False
                raise PgBouncerError(
                    f"PgBouncer exited with status {self._process.returncode} while starting; "
                    f"fix the cause its log names:\n{self.log_tail()}"
                )
            if self._listening(port) and self._process.poll() is None:
                return True
            time.sleep(0.02)
        raise PgBouncerError(
            f"PgBouncer did not accept connections on {_LISTEN_HOST}:{port} within "
            f"{self.start_timeout_s:g} s; raise start_timeout_s if the machine is slow. "
            f"Its log:\n{self.log_tail()}"
        )

    def _stop_process(self, timeout_s: float = 10.0) -> None:
        """Terminate and reap the process but keep the directory (and its log)."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        process, self._process = self._process, None
        if process is not None:
            _terminate(process, timeout_s)
        self.port = None

    def _spawn(self, config: Path, log_path: Path) -> subprocess.Popen[bytes]:
        user = self.server_user
        switch: dict[str, object] = {}
        if not user.is_current:
            switch = {"user": user.uid, "group": user.gid, "extra_groups": sorted(user.groups)}
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": user.home,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "USER": user.name,
        }
        with open(log_path, "wb") as log:  # one attempt's log: a stale bind error misleads
            return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
                [self.binary, str(config)],
                env=env,
                cwd="/",
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(),  # noqa: PLW1509 - prctl only, see its docstring
                **switch,
            )

    def _listening(self, port: int) -> bool:
        """Whether *our* process listens on ``port``.

        A bare TCP probe is not enough: if another program grabbed the port after it was
        picked, the probe reaches that program while PgBouncer is still failing to bind.
        PgBouncer logs ``listening on HOST:PORT`` once its socket is bound.
        """
        if f"listening on {_LISTEN_HOST}:{port}" not in self.log_tail(lines=200):
            return False
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            try:
                probe.connect((_LISTEN_HOST, port))
            except OSError:
                return False
        return True
