"""The per-connection settings pgspatial applies, and the two ways of applying them.

Direct connections carry them in the startup packet (libpq ``options``): no extra round
trip. Through PgBouncer in transaction mode that is impossible (errata 15: PgBouncer 1.18
refuses the ``options`` parameter, ignoring it drops the timeouts, and a per-connection
``SET`` leaks to whichever client gets the server connection next), so there they are set
with ``set_config(..., is_local => true)`` at the start of each transaction: one statement,
scoped to our transaction only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pgspatial.settings import Settings

__all__ = ["SessionSettings", "connect_args"]


def _escape_option(value: str) -> str:
    """``value`` for one ``-c name=value`` word of libpq's ``options``."""
    return "".join("\\" + char if char == "\\" or char.isspace() else char for char in value)


@dataclass(frozen=True)
class SessionSettings:
    """GUCs to apply to every session (values as PostgreSQL spells them)."""

    values: tuple[tuple[str, str], ...]

    @classmethod
    def from_settings(
        cls, settings: Settings, *, statement_timeout_ms: int | None = None
    ) -> SessionSettings:
        """Timeouts and planner settings from ``settings`` (None values are left alone)."""
        timeout = (
            settings.statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
        )
        pairs: list[tuple[str, str | None]] = [
            ("statement_timeout", str(timeout)),
            ("lock_timeout", str(settings.lock_timeout_ms)),
            ("idle_in_transaction_session_timeout", str(settings.idle_in_transaction_timeout_ms)),
            (
                "random_page_cost",
                None if settings.random_page_cost is None else str(settings.random_page_cost),
            ),
            ("effective_cache_size", settings.effective_cache_size),
            ("work_mem", settings.work_mem),
        ]
        return cls(tuple((name, value) for name, value in pairs if value is not None))

    def get(self, name: str) -> str | None:
        """The value set for ``name``, if any."""
        return dict(self.values).get(name)

    def with_value(self, name: str, value: str) -> SessionSettings:
        """A copy with ``name`` set to ``value``."""
        rest = tuple(pair for pair in self.values if pair[0] != name)
        return replace(self, values=(*rest, (name, value)))

    def startup_options(self) -> str:
        """The libpq ``options`` string: ``-c name=value ...``.

        The server splits it on whitespace and a backslash takes the next character
        literally, so backslashes and whitespace in values are backslash-escaped (escaping
        only spaces turned ``a\\b`` into ``ab`` and made ``a\\ b`` a fatal startup error).
        """
        return " ".join(f"-c {name}={_escape_option(value)}" for name, value in self.values)

    def set_local_sql(self) -> str:
        """One ``SELECT set_config(..., true), ...`` statement applying them to a transaction."""
        calls = ", ".join(
            f"set_config('{name}', '{value.replace(chr(39), chr(39) * 2)}', true)"
            for name, value in self.values
        )
        return f"SELECT {calls}"


def connect_args(
    settings: Settings, session: SessionSettings, *, pgbouncer: bool
) -> dict[str, Any]:
    """psycopg ``connect()`` keywords for a pgspatial session: the application name, and the
    settings as startup options, or through PgBouncer no prepared statements (psycopg
    prepares after 5 executions, and PgBouncer < 1.21 in transaction mode hands "_pg3_0" to
    a server connection that never saw it; the settings then go per transaction)."""
    args: dict[str, Any] = {"application_name": settings.application_name}
    if pgbouncer:
        args["prepare_threshold"] = None
    else:
        args["options"] = session.startup_options()
    return args
