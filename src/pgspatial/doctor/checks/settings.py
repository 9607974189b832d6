"""Settings checks: timeouts, random_page_cost, jit and work_mem, as a new connection of this
role to this database gets them.

The doctor connects without startup options, so ``pg_settings.reset_val`` is the server,
database and role layers together, and ``source`` says which layer set the value. Settings
made per connection (libpq ``options``, ``SET``, pgspatial.create_engine's own timeouts)
cannot be seen from here: they protect only the clients that make them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Row

from pgspatial.doctor.context import Context, quote_ident
from pgspatial.doctor.model import Finding
from pgspatial.doctor.registry import Check

__all__ = ["CHECKS", "RECOMMENDED_TIMEOUTS"]

#: The timeouts pgspatial's engines use (Settings defaults), as database-level defaults.
RECOMMENDED_TIMEOUTS = {
    "statement_timeout": "30s",
    "lock_timeout": "10s",
    "idle_in_transaction_session_timeout": "60s",
}
_PER_CONNECTION = (
    "Settings made per connection (libpq options, SET, pgspatial.create_engine's own "
    "timeouts) cannot be seen from here and protect only the clients that make them."
)


def _settings(ctx: Context) -> dict[str, Row[Any]]:
    key = "settings"
    if key not in ctx.memo:
        ctx.memo[key] = {str(r.name): r for r in ctx.rows("settings", "settings")}
    settings: dict[str, Row[Any]] = ctx.memo[key]
    return settings


def _set_statement(ctx: Context, name: str, value: str, source: str) -> str:
    """The SQL that changes ``name`` at the level that set it (server-wide when unset)."""
    database, role = quote_ident(ctx.facts.database), quote_ident(ctx.facts.role)
    if source == "database":
        return f"ALTER DATABASE {database} SET {name} = '{value}';"
    if source == "user":
        return f"ALTER ROLE {role} SET {name} = '{value}';"
    if source == "database user":
        return f"ALTER ROLE {role} IN DATABASE {database} SET {name} = '{value}';"
    return f"ALTER SYSTEM SET {name} = '{value}';\nSELECT pg_reload_conf();"


def timeouts(ctx: Context) -> Iterator[Finding]:
    """settings.timeouts: statement, lock and idle-in-transaction timeouts are set."""
    settings = _settings(ctx)
    layers = {
        str(r.name): (str(r.level), str(r.value))
        for r in ctx.rows("settings", "role_database_settings")
    }
    unset = [name for name in RECOMMENDED_TIMEOUTS if str(settings[name].value) in {"0", ""}]
    set_ = []
    for name in RECOMMENDED_TIMEOUTS:
        if name in unset:
            continue
        row = settings[name]
        level, value = layers.get(name, (str(row.source), f"{row.value}{row.unit or ''}"))
        set_.append(f"{name} = {value} ({level})")
    ctx.summary = "; ".join(set_) if set_ else None
    if not unset:
        return
    database = quote_ident(ctx.facts.database)
    yield Finding(
        f"{', '.join(unset)} {'is' if len(unset) == 1 else 'are'} not set for role "
        f"{ctx.facts.role} in database {ctx.facts.database} (server, database or role level): "
        "a runaway spatial query, a lock queue or an abandoned transaction can hold "
        f"connections and locks indefinitely. {_PER_CONNECTION}",
        fix="\n".join(
            f"ALTER DATABASE {database} SET {name} = '{RECOMMENDED_TIMEOUTS[name]}';"
            for name in unset
        )
        + "\n-- analytics roles can get longer ones: ALTER ROLE ... IN DATABASE ... SET",
        details={"unset": ", ".join(unset)},
    )


def random_page_cost(ctx: Context) -> Iterator[Finding]:
    """settings.random_page_cost: not the spinning-disk default of 4."""
    row = _settings(ctx)["random_page_cost"]
    value = float(row.value)
    ctx.summary = f"random_page_cost = {value:g} ({row.source})"
    if value <= ctx.thresholds.random_page_cost_max:
        return
    yield Finding(
        f"random_page_cost is {value:g} ({row.source}), PostgreSQL's spinning-disk default: on "
        "SSDs random reads cost about as much as sequential ones, so the planner wrongly "
        "prefers sequential scans over GiST index scans.",
        fix=_set_statement(ctx, "random_page_cost", "1.1", str(row.source)),
        details={"value": value, "source": str(row.source)},
    )


def jit(ctx: Context) -> Iterator[Finding]:
    """settings.jit: JIT compilation off for spatial OLTP."""
    row = _settings(ctx)["jit"]
    ctx.summary = f"jit = {row.value} ({row.source})"
    if str(row.value) != "on":
        return
    yield Finding(
        f"jit is on ({row.source}): compiling large spatial plans costs hundreds of "
        "milliseconds and cannot compile PostGIS functions, so it slows spatial queries down.",
        fix=_set_statement(ctx, "jit", "off", str(row.source)),
        details={"value": "on", "source": str(row.source)},
    )


def work_mem(ctx: Context) -> Iterator[Finding]:
    """settings.work_mem: large enough for spatial sorts and hashes."""
    row = _settings(ctx)["work_mem"]
    kilobytes = int(row.value)  # unit kB
    megabytes = kilobytes / 1024
    ctx.summary = f"work_mem = {megabytes:g}MB ({row.source})"
    if megabytes >= ctx.thresholds.work_mem_min_mb:
        return
    yield Finding(
        f"work_mem is {megabytes:g}MB ({row.source}; the default is 4MB): spatial sorts, "
        "hash joins and ST_ClusterDBSCAN windows spill to disk.",
        fix=_set_statement(ctx, "work_mem", "64MB", str(row.source))
        + "\n-- each sort or hash node of each connection may use this much: size it to "
        "RAM / max_connections",
        details={"value_mb": megabytes, "source": str(row.source)},
    )


CHECKS = (
    Check(
        id="settings.timeouts",
        title="Timeouts are set for the role or database",
        severity="warn",
        why="statement_timeout, lock_timeout and idle_in_transaction_session_timeout at the "
        "role or database level protect the server from every client, not only those that "
        "remember to set them per connection.",
        run=timeouts,
        needs=(),
    ),
    Check(
        id="settings.random_page_cost",
        title="random_page_cost suits SSDs",
        severity="warn",
        why="At 4 (spinning disks) the planner overprices index scans and picks sequential "
        "scans for spatial predicates that a GiST index answers in milliseconds.",
        run=random_page_cost,
        needs=(),
    ),
    Check(
        id="settings.jit",
        title="JIT is off",
        severity="warn",
        why="JIT compilation adds hundreds of milliseconds to expensive spatial plans and "
        "cannot compile PostGIS's C functions.",
        run=jit,
        needs=(),
    ),
    Check(
        id="settings.work_mem",
        title="work_mem is large enough",
        severity="warn",
        why="The 4MB default makes spatial sorts and hash joins spill to disk.",
        run=work_mem,
        needs=(),
    ),
)
