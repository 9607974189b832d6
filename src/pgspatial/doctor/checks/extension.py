"""Extension checks: PostGIS installed and current; pg_stat_statements and pgstattuple there.

The two helper extensions are what the workload and bloat checks read; when one is absent
its check says how to install it, and the checks that need it are skipped with that reason
(the runner does that), never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pgspatial.doctor.context import Context
from pgspatial.doctor.model import Finding
from pgspatial.doctor.registry import Check

__all__ = ["CHECKS"]

# What postgis_full_version() appends when the SQL objects lag behind the library, are not
# packaged as an extension, or an upgrade stopped half-way.
_UPGRADE_MARKERS = re.compile(
    r"\((?:[^()]*need upgrade[^()]*|[^()]*version mismatch[^()]*|"
    r"[^()]*upgrade is not complete[^()]*)\)|\[UNPACKAGED!?\]",
    re.IGNORECASE,
)


def _install_hint(ctx: Context, name: str, package: str) -> str:
    if ctx.facts.extension(name).available:
        return f"CREATE EXTENSION {name};"
    major = ctx.facts.server_version_num // 10_000
    return (
        f"-- the server has no {name}: install {package.format(major=major)} on the database "
        f"host first\nCREATE EXTENSION {name};"
    )


def postgis(ctx: Context) -> Iterator[Finding]:
    """extension.postgis: PostGIS is installed in this database; report its version."""
    state = ctx.facts.extension("postgis")
    if state.installed:
        ctx.summary = (
            f"PostGIS {ctx.catalog.postgis_version or state.installed_version} "
            f"(extension {state.installed_version}, schema {state.schema})"
        )
        return
    where = "is available on the server" if state.available else "is not installed on the server"
    yield Finding(
        f"PostGIS is not installed in database {ctx.facts.database} ({where}): there is no "
        "geometry type, so none of the spatial checks can run.",
        fix=_install_hint(ctx, "postgis", "postgresql-{major}-postgis-3 (Debian/Ubuntu)"),
        details={"available": state.available},
    )


def postgis_upgrade(ctx: Context) -> Iterator[Finding]:
    """extension.postgis_upgrade: postgis_full_version() reports no pending upgrade."""
    state = ctx.facts.extension("postgis")
    schema = ctx.schema_of("postgis")
    version = str(ctx.one("extension", "postgis_full_version", schema=schema).full_version)
    ctx.summary = "no upgrade pending: " + version.split(" PGSQL=", 1)[0]
    problems = [m.group(0) for m in _UPGRADE_MARKERS.finditer(version)]
    if problems:
        yield Finding(
            f"postgis_full_version() reports {'; '.join(problems)}: the SQL functions of the "
            "database do not match the installed PostGIS library, so functions may be missing "
            "or behave like the old version.",
            fix=f"SELECT {schema}.postgis_extensions_upgrade();",
            details={"full_version": version, "extension_version": state.installed_version},
        )
    elif state.default_version and state.installed_version != state.default_version:
        yield Finding(
            f"the postgis extension is at version {state.installed_version} while the server "
            f"ships {state.default_version}.",
            fix=f"ALTER EXTENSION postgis UPDATE TO '{state.default_version}';",
            details={
                "extension_version": state.installed_version,
                "available_version": state.default_version,
            },
        )


def pg_stat_statements(ctx: Context) -> Iterator[Finding]:
    """extension.pg_stat_statements: installed, and its library preloaded."""
    state = ctx.facts.extension("pg_stat_statements")
    preload = (
        "-- and in postgresql.conf: shared_preload_libraries = 'pg_stat_statements' "
        "(then restart the server)"
    )
    if not state.installed:
        yield Finding(
            f"pg_stat_statements is not installed in database {ctx.facts.database}: the doctor "
            "cannot see which spatial statements are slow, frequent or unindexed, and the "
            "workload checks are skipped.",
            fix=_install_hint(ctx, "pg_stat_statements", "the PostgreSQL contrib package")
            + "\n"
            + preload,
            details={"available": state.available},
        )
        return
    probe = ctx.attempt(
        "extension", "pg_stat_statements_probe", schema=ctx.schema_of("pg_stat_statements")
    )
    if isinstance(probe, str):
        yield Finding(
            f"pg_stat_statements is installed but cannot be read: {probe}.",
            fix="ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';\n"
            "-- keep any libraries already listed there; then restart the server",
            details={"error": probe},
        )
        return
    entries, capacity = int(probe[0].entries), int(probe[0].capacity)
    ctx.summary = f"pg_stat_statements {state.installed_version}: {entries} of {capacity} entries"
    if entries >= 0.9 * capacity:
        ctx.notes.append(
            f"pg_stat_statements holds {entries} of its {capacity} entries: the least used are "
            "evicted, so rare slow statements may be missing; raise pg_stat_statements.max "
            "(needs a restart)"
        )


def pgstattuple(ctx: Context) -> Iterator[Finding]:
    """extension.pgstattuple: installed, for the bloat checks."""
    state = ctx.facts.extension("pgstattuple")
    if state.installed:
        ctx.summary = f"pgstattuple {state.installed_version} (schema {state.schema})"
        return
    yield Finding(
        f"pgstattuple is not installed in database {ctx.facts.database}: index bloat cannot "
        "be measured, so the bloat checks are skipped.",
        fix=_install_hint(ctx, "pgstattuple", "the PostgreSQL contrib package"),
        details={"available": state.available},
    )


CHECKS = (
    Check(
        id="extension.postgis",
        title="PostGIS is installed",
        severity="error",
        why="Without the postgis extension the database has no geometry or geography types, "
        "no spatial functions and no spatial index operator classes.",
        run=postgis,
        needs=(),
    ),
    Check(
        id="extension.postgis_upgrade",
        title="PostGIS needs no upgrade",
        severity="warn",
        why="After a package upgrade the PostGIS library is new but the SQL objects of each "
        "database stay old until upgraded: functions go missing or keep old bugs, and a "
        "later pg_upgrade can fail. postgis_full_version() says 'need upgrade' or UNPACKAGED.",
        run=postgis_upgrade,
    ),
    Check(
        id="extension.pg_stat_statements",
        title="pg_stat_statements is available",
        severity="warn",
        why="pg_stat_statements is the only record of which statements are slow or frequent; "
        "without it the slow-query, non-sargable and geography-index checks are blind.",
        run=pg_stat_statements,
        needs=(),
    ),
    Check(
        id="extension.pgstattuple",
        title="pgstattuple is available",
        severity="info",
        why="pgstattuple measures index bloat exactly; GiST indexes can only be measured with "
        "it (pgstatindex refuses them, errata 6).",
        run=pgstattuple,
        needs=(),
    ),
)
