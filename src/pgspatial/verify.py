"""``verify_schema``: do the live database's spatial columns match what the models declare?

Run it in CI after ``alembic upgrade head`` (``pgspatial verify-schema app.models:Base``):
it catches a missing PostGIS, a column created as generic ``geometry`` or in the wrong SRID,
a GiST index that was never built or is INVALID after a failed concurrent build, and a
validity CHECK that is missing or still NOT VALID.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from geoalchemy2 import Geography, Geometry
from sqlalchemy import Column, Connection, Engine, Index, MetaData, Table, inspect

from pgspatial.catalog import Catalog, SpatialTable
from pgspatial.columns import GeographyOf

__all__ = ["ProblemKind", "SchemaProblem", "verify_schema"]

ProblemKind = Literal[
    "postgis-missing",
    "table-missing",
    "column-missing",
    "kind-mismatch",
    "type-mismatch",
    "srid-mismatch",
    "index-missing",
    "index-invalid",
    "geodesic-index-missing",
    "check-missing",
    "check-not-valid",
]


@dataclass(frozen=True)
class SchemaProblem:
    """One difference between a model and the database, with what to do about it."""

    kind: ProblemKind
    table: str
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{where}: {self.message}"


def _spatial_columns(table: Table) -> list[Column[object]]:
    return [c for c in table.columns if isinstance(c.type, Geometry | Geography)]


def _expects_geodesic_index(table: Table, column: Column[object]) -> bool:
    return any(
        isinstance(expr, GeographyOf) and getattr(expr.operand, "name", None) == column.name
        for index in table.indexes
        for expr in index.expressions
        if isinstance(index, Index)
    )


def _expects_validity_check(table: Table, column: Column[object]) -> bool:
    return any(
        "st_isvalid" in str(getattr(c, "sqltext", "")).lower() and column.name in str(c.sqltext)
        for c in table.constraints
        if hasattr(c, "sqltext")
    )


def _check_column(live: SpatialTable, table: Table, column: Column[object]) -> list[SchemaProblem]:
    name = table.name
    try:
        found = live.column(column.name)
    except KeyError:
        return [
            SchemaProblem(
                "column-missing",
                name,
                column.name,
                "spatial column is missing; run your migrations (alembic upgrade head).",
            )
        ]
    problems: list[SchemaProblem] = []
    declared = column.type
    assert isinstance(declared, Geometry | Geography)
    kind = "geography" if isinstance(declared, Geography) else "geometry"
    if found.kind != kind:
        problems.append(
            SchemaProblem(
                "kind-mismatch",
                name,
                column.name,
                f"is {found.kind} in the database, {kind} in the model.",
            )
        )
    want_type = (declared.geometry_type or "GEOMETRY").upper()
    if found.geometry_type.upper() != want_type:
        problems.append(
            SchemaProblem(
                "type-mismatch",
                name,
                column.name,
                f"is {found.geometry_type} in the database, {want_type} in the model; migrate it "
                "(pgspatial.migrations.change_geometry_type).",
            )
        )
    if declared.srid > 0 and found.srid != declared.srid:
        problems.append(
            SchemaProblem(
                "srid-mismatch",
                name,
                column.name,
                f"has SRID {found.srid} in the database, {declared.srid} in the model; migrate it "
                "(pgspatial.migrations.change_srid).",
            )
        )
    gist = [i for i in live.spatial_indexes_on(column.name) if i.covers(column.name) and i.is_valid]
    if not gist:
        problems.append(
            SchemaProblem(
                "index-missing",
                name,
                column.name,
                "has no GiST index: every spatial query on it scans the whole table. Create it "
                "(pgspatial.migrations.create_spatial_index_concurrently).",
            )
        )
    problems.extend(
        SchemaProblem(
            "index-invalid",
            name,
            column.name,
            f"index {index.name} is INVALID (a failed concurrent build); queries ignore it. "
            f"DROP INDEX CONCURRENTLY {index.name} and build it again.",
        )
        for index in live.spatial_indexes_on(column.name)
        if not index.is_valid
    )
    if _expects_geodesic_index(table, column) and not any(
        i.is_valid and i.is_geography_expression_on(column.name) for i in live.indexes
    ):
        problems.append(
            SchemaProblem(
                "geodesic-index-missing",
                name,
                column.name,
                "the model declares a geography expression index ((col)::geography) for "
                "metre-radius search, the database has none (valid).",
            )
        )
    if _expects_validity_check(table, column):
        checks = [c for c in live.checks_on(column.name) if "st_isvalid" in c.definition.lower()]
        if not checks:
            problems.append(
                SchemaProblem(
                    "check-missing",
                    name,
                    column.name,
                    "has no CHECK (ST_IsValid(...)): "
                    "invalid geometries can be written. Add it (add_check_constraint_online).",
                )
            )
        problems.extend(
            SchemaProblem(
                "check-not-valid",
                name,
                column.name,
                f"CHECK {c.name} is NOT VALID: existing rows were never checked. "
                f"ALTER TABLE {live.qualified_name} VALIDATE CONSTRAINT {c.name}.",
            )
            for c in checks
            if not c.validated
        )
    return problems


def verify_schema(bind: Engine | Connection, metadata: MetaData) -> list[SchemaProblem]:
    """Compare every spatial column in ``metadata`` with the live database.

    Returns the problems found, empty when the database matches the models.
    """
    catalog = Catalog.load(bind)
    if catalog.postgis_version is None:
        return [
            SchemaProblem(
                "postgis-missing",
                "(database)",
                None,
                "the postgis extension is not installed: CREATE EXTENSION postgis "
                "(pgspatial init-migrations writes it as the first migration).",
            )
        ]
    problems: list[SchemaProblem] = []
    inspector = inspect(bind)
    for table in metadata.sorted_tables:
        columns = _spatial_columns(table)
        if not columns:
            continue
        schema = table.schema or "public"
        live = catalog.find(table.name, schema)
        if live is None:
            if not inspector.has_table(table.name, schema=table.schema):
                problems.append(
                    SchemaProblem(
                        "table-missing",
                        table.name,
                        None,
                        "table is missing; run your migrations (alembic upgrade head).",
                    )
                )
                continue
            problems.extend(
                SchemaProblem("column-missing", table.name, c.name, "spatial column is missing.")
                for c in columns
            )
            continue
        for column in columns:
            problems.extend(_check_column(live, table, column))
    return problems
