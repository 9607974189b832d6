"""``run_doctor``: connect, read the facts and the catalog, run each check, build the report.

The doctor opens its own connection to the engine's URL, without the engine's startup
options: ``pgspatial.create_engine`` sets timeouts and planner settings per connection,
which would otherwise hide the server's, database's and role's own values from the settings
checks. Every check runs in its own READ ONLY transaction with a ``statement_timeout``, so
the audit never writes, never hangs, and one failing check cannot spoil the others. A check
whose extension or privilege is missing is skipped with the reason and what to do.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from pgspatial.catalog import Catalog
from pgspatial.doctor.context import MARKER, Context, ExtensionState, Facts, quote_ident, sql
from pgspatial.doctor.model import CheckResult, DoctorReport, Finding
from pgspatial.doctor.registry import Check, Skip, select_checks
from pgspatial.doctor.thresholds import Thresholds
from pgspatial.errors import DatabaseUnavailable
from pgspatial.urls import sqlalchemy_url

__all__ = ["audit_engine", "load_facts", "run_doctor"]

_SQLSTATE_PRIVILEGE = "42501"
_SQLSTATE_CANCELED = "57014"
_LOCK_TIMEOUT = "5s"


def audit_engine(bind: Engine | URL | str | Any) -> Engine:
    """A NullPool engine on ``bind``'s database without per-connection options.

    ``bind`` is an Engine (or AsyncEngine: its URL is used with psycopg), a URL or a string.
    """
    source = getattr(bind, "url", bind)
    url = sqlalchemy_url(source if isinstance(source, URL) else str(source))
    if url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    url = url.difference_update_query(["options"])
    return create_engine(
        url,
        poolclass=NullPool,
        connect_args={
            "application_name": "pgspatial doctor",
            "connect_timeout": 10,
            "prepare_threshold": None,  # safe through PgBouncer in transaction mode
        },
    )


def _message(error: DBAPIError) -> str:
    diag = getattr(error.orig, "diag", None)
    return str(getattr(diag, "message_primary", None) or error.orig).strip()


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def load_facts(connection: Connection) -> Facts:
    """Who and where the doctor runs, the extensions, and how old the statistics are."""
    with connection.begin():
        row = connection.execute(text(sql("context", "facts"))).one()
        extensions = {
            str(r.name): ExtensionState(
                name=str(r.name),
                available=True,
                default_version=r.default_version,
                installed_version=r.installed_version,
                schema=r.schema,
            )
            for r in connection.execute(text(sql("context", "extensions")))
        }
        since, source = row.postmaster_start, "server start"
        if row.stats_reset is not None and row.stats_reset > since:
            since, source = row.stats_reset, "statistics reset"
        if row.can_stat_file:
            try:
                with connection.begin_nested():
                    created = connection.execute(
                        text(sql("context", "database_created")),
                        {"database_oid": row.database_oid},
                    ).scalar_one()
                if created is not None and created > since:
                    since, source = created, "database created"
            except DBAPIError:
                pass  # the file is not where a default cluster keeps it: keep the others
        pgstattuple = extensions.get("pgstattuple")
        allowed = False
        if pgstattuple is not None and pgstattuple.installed:
            signature = f"{quote_ident(pgstattuple.schema or 'public')}.pgstattuple(regclass)"
            allowed = bool(
                connection.execute(
                    text(sql("context", "function_privilege")), {"signature": signature}
                ).scalar_one()
            )
        pgss = extensions.get("pg_stat_statements")
        pgss_usable = False
        if pgss is not None and pgss.installed:
            try:
                with connection.begin_nested():
                    connection.execute(
                        text(
                            sql(
                                "extension",
                                "pg_stat_statements_probe",
                                schema=quote_ident(pgss.schema or "public"),
                            )
                        )
                    )
                pgss_usable = True
            except DBAPIError:
                pgss_usable = False
    return Facts(
        database=row.database,
        role=row.role,
        database_oid=int(row.database_oid),
        is_superuser=bool(row.is_superuser),
        read_all_stats=bool(row.read_all_stats),
        stat_scan_tables=bool(row.stat_scan_tables),
        server_version=str(row.server_version),
        server_version_num=int(row.server_version_num),
        in_recovery=bool(row.in_recovery),
        now=row.now,
        statistics_since=since,
        statistics_since_source=source,
        extensions=extensions,
        pg_stat_statements_usable=pgss_usable,
        pgstattuple_allowed=allowed,
    )


def _unmet(check: Check, facts: Facts) -> str | None:  # noqa: PLR0911 - one reason per need
    """Why ``check`` cannot run here, as ``install X ...`` / ``needs Y ...``; None if it can."""
    role = quote_ident(facts.role)
    for need in check.needs:
        if need == "postgis" and not facts.extension("postgis").installed:
            return "install postgis: CREATE EXTENSION postgis; (see extension.postgis)"
        if need == "pg_stat_statements":
            if not facts.extension("pg_stat_statements").installed:
                return (
                    "install pg_stat_statements: CREATE EXTENSION pg_stat_statements; with "
                    "shared_preload_libraries = 'pg_stat_statements' (see "
                    "extension.pg_stat_statements)"
                )
            if not facts.pg_stat_statements_usable:
                return (
                    "needs pg_stat_statements in shared_preload_libraries: the extension is "
                    "created but its library is not loaded; add it and restart the server "
                    "(see extension.pg_stat_statements)"
                )
        if need == "pgstattuple" and not facts.extension("pgstattuple").installed:
            return "install pgstattuple: CREATE EXTENSION pgstattuple; (see extension.pgstattuple)"
        if need == "read_all_stats" and not (facts.is_superuser or facts.read_all_stats):
            return (
                "needs pg_read_all_stats to see the statements of every role in "
                f"pg_stat_statements: GRANT pg_read_all_stats TO {role};"
            )
        if need == "stat_scan_tables" and not (facts.is_superuser or facts.pgstattuple_allowed):
            return (
                "needs pg_stat_scan_tables to run pgstattuple on the indexes: "
                f"GRANT pg_stat_scan_tables TO {role};"
            )
    return None


def _prepare(ctx: Context) -> None:
    """Start the check's transaction: read only, bounded, with PostGIS on the search_path."""
    connection = ctx.connection
    connection.execute(text(f"{MARKER} SET TRANSACTION READ ONLY"))
    postgis_schema = ctx.facts.extension("postgis").schema
    connection.execute(
        text(
            f"{MARKER} SELECT set_config('statement_timeout', :timeout, true), "
            "set_config('lock_timeout', :lock, true), "
            "set_config('search_path', concat_ws(', ', current_setting('search_path'), "
            "CAST(:schema AS text)), true)"
        ),
        {
            "timeout": str(ctx.thresholds.check_timeout_ms),
            "lock": _LOCK_TIMEOUT,
            "schema": quote_ident(postgis_schema) if postgis_schema else None,
        },
    )


def _run_one(ctx: Context, check: Check) -> CheckResult:
    started = time.perf_counter()
    ctx.notes, ctx.summary = [], None

    def result(
        status: str, findings: Sequence[Finding] = (), reason: str | None = None
    ) -> CheckResult:
        if status == "skipped":
            summary = f"skipped: {reason}"
        elif findings:
            summary = f"{len(findings)} finding(s)" + (f"; {ctx.summary}" if ctx.summary else "")
        else:
            summary = ctx.summary or "no problems found"
        return CheckResult(
            id=check.id,
            family=check.family,
            title=check.title,
            severity=check.severity,
            why=check.why,
            status="skipped" if status == "skipped" else ("found" if findings else "ok"),
            summary=summary,
            findings=tuple(findings),
            skip_reason=reason,
            notes=tuple(ctx.notes),
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    reason = _unmet(check, ctx.facts)
    if reason is not None:
        return result("skipped", reason=reason)
    try:
        with ctx.connection.begin():
            _prepare(ctx)
            findings = list(check.run(ctx))
    except Skip as skip:
        return result("skipped", reason=str(skip))
    except DBAPIError as error:
        state, message = _sqlstate(error), _message(error)
        if state == _SQLSTATE_PRIVILEGE:
            reason = (
                f"needs more privileges ({message}): run the doctor as the owner or a "
                f"superuser, or GRANT pg_monitor TO {quote_ident(ctx.facts.role)};"
            )
        elif state == _SQLSTATE_CANCELED:
            reason = (
                f"timed out after {ctx.thresholds.check_timeout_ms} ms ({message}): raise it with "
                "--threshold check_timeout_ms=..."
            )
        else:
            reason = f"could not run ({message}); the other checks are unaffected"
        return result("skipped", reason=reason)
    except Exception as error:  # a bug must not cost the user the rest of the report
        return result(
            "skipped",
            reason=f"internal error ({type(error).__name__}: {error}); please report it to "
            "the pgspatial maintainers with this message",
        )
    return result("found" if findings else "ok", findings)


def run_doctor(
    bind: Engine | URL | str | Any,
    *,
    checks: Sequence[str] | None = None,
    replica_urls: Sequence[str] = (),
    thresholds: Thresholds | None = None,
    **overrides: float,
) -> DoctorReport:
    """Audit the database behind ``bind`` and return the report (nothing is changed).

    ``checks`` limits the run to check ids or families (``["index", "stats.stale"]``);
    ``replica_urls`` are standbys to ask for their replay lag (``Settings.replica_urls``);
    keyword ``overrides`` set :class:`Thresholds` by name, e.g.
    ``run_doctor(engine, unpartitioned_rows=1_000)``. Raises :class:`ConfigError` for an
    unknown check or threshold and :class:`DatabaseUnavailable` when it cannot connect.
    """
    limits = (thresholds or Thresholds()).with_overrides(overrides)
    selected = select_checks(checks)
    engine = audit_engine(bind)
    try:
        try:
            connection = engine.connect()
        except OperationalError as error:
            shown = engine.url.render_as_string(hide_password=True)
            raise DatabaseUnavailable(
                f"pgspatial doctor cannot connect to {shown}: {str(error.orig).strip()}. "
                "Check that the server runs and DATABASE_URL is right."
            ) from None
        with connection:
            facts = load_facts(connection)
            with connection.begin():
                catalog = Catalog.load(connection)
            ctx = Context(
                connection,
                thresholds=limits,
                facts=facts,
                catalog=catalog,
                replica_urls=replica_urls,
            )
            results = tuple(_run_one(ctx, check) for check in selected)
    finally:
        engine.dispose()
    from pgspatial import __version__

    return DoctorReport(
        results=results,
        database={
            "name": facts.database,
            "user": facts.role,
            "server_version": facts.server_version,
            "postgis_version": catalog.postgis_version,
        },
        thresholds=limits.to_dict(),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        pgspatial_version=__version__,
    )
