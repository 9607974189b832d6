"""Column checks: unknown SRIDs, generic types, mixed SRIDs, invalid geometries, validity
CHECKs and NOT VALID constraints.

Declarations come from the catalog; the data checks (mixed SRIDs, invalid geometries) read
a bounded sample: the whole table up to ``sample_rows`` rows, else ``TABLESAMPLE SYSTEM``
with a fixed seed, so the doctor's cost does not grow with the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from pgspatial.catalog import SpatialColumnInfo, SpatialTable
from pgspatial.doctor.context import Context, quote_ident
from pgspatial.doctor.model import Finding
from pgspatial.doctor.registry import Check
from pgspatial.geometry.validate import OGC_NAMES

__all__ = ["CHECKS", "ColumnSample", "sample_column"]

_VALIDITY_CALL = re.compile(r"\bst_isvalid\s*\(", re.IGNORECASE)
_EXTRACT_KIND = {"MULTIPOINT": 1, "MULTILINESTRING": 2, "MULTIPOLYGON": 3}
# Relations whose column definitions a DBA can ALTER (partitions follow their parent).
_DEFINABLE = ("table", "partitioned_table")


@dataclass(frozen=True)
class ColumnSample:
    """SRIDs and geometry types seen in a bounded sample of one column."""

    rows: int
    srids: dict[int, int]
    types: dict[str, int]
    sampled: bool
    """True when TABLESAMPLE was used (the table is larger than ``sample_rows``)."""

    def majority_srid(self) -> int | None:
        """The most frequent SRID, or None for an empty sample."""
        return max(self.srids, key=self.srids.__getitem__) if self.srids else None

    def single_type(self) -> str | None:
        """The one geometry type of the sample, or None when it holds several (or none)."""
        return next(iter(self.types)) if len(self.types) == 1 else None


def _sample_clause(ctx: Context, table: SpatialTable) -> str:
    rows = ctx.rows_of(table)
    limit = ctx.thresholds.sample_rows
    if rows <= limit or table.kind not in {"table", "partitioned_table", "materialized_view"}:
        return ""
    percent = min(100.0, 200.0 * limit / rows)  # twice what is needed: pages differ in rows
    return f"TABLESAMPLE SYSTEM ({percent:.6f}) REPEATABLE (42)"


def sample_column(ctx: Context, table: SpatialTable, column: SpatialColumnInfo) -> ColumnSample:
    """The SRIDs and types of up to ``sample_rows`` rows of ``column`` (memoised per run)."""
    key = ("sample", table.qualified_name, column.name)
    if key not in ctx.memo:
        clause = _sample_clause(ctx, table)
        rows = ctx.rows(
            "columns",
            "sample_srids",
            {"limit": ctx.thresholds.sample_rows},
            table=table.qualified_name,
            column=quote_ident(column.name),
            sample=clause,
        )
        srids: dict[int, int] = {}
        types: dict[str, int] = {}
        for row in rows:
            srids[int(row.srid)] = srids.get(int(row.srid), 0) + int(row.rows)
            types[str(row.geometry_type)] = types.get(str(row.geometry_type), 0) + int(row.rows)
        ctx.memo[key] = ColumnSample(
            rows=sum(srids.values()), srids=srids, types=types, sampled=bool(clause)
        )
    sample: ColumnSample = ctx.memo[key]
    return sample


def _type_name(geometry_type: str) -> str:
    """``MULTIPOLYGONZ`` -> ``MultiPolygonZ``, as PostGIS spells types in DDL."""
    match = re.fullmatch(r"([A-Z]+?)(ZM|Z|M)?", geometry_type.upper())
    base, suffix = (match.group(1), match.group(2) or "") if match else (geometry_type, "")
    return OGC_NAMES.get(base, base.title()) + suffix


def _retype_fix(ctx: Context, table: SpatialTable, column: SpatialColumnInfo) -> str:
    """``ALTER COLUMN ... TYPE geometry(Type, SRID)`` from the declaration and the data."""
    sample = sample_column(ctx, table, column) if table.readable else None
    observed_type = sample.single_type() if sample else None
    geometry_type = column.geometry_type if not column.is_generic else observed_type
    col = quote_ident(column.name)
    lines = []
    using = col
    srid = column.srid
    if srid == 0:
        majority = sample.majority_srid() if sample else None
        if majority:
            srid = majority
            if sample is not None and len(sample.srids) > 1:
                lines.append(f"-- the sample holds SRIDs {sorted(sample.srids)}: fix those first")
        else:
            srid, using = 4326, f"ST_SetSRID({col}, 4326)"
            lines.append("-- replace 4326 with the coordinate system the data is really in")
    if geometry_type is None:
        geometry_type = "GEOMETRY"
        lines.append(
            "-- replace Geometry with the type the column should hold (Point, LineString, "
            "Polygon or their Multi forms): the sample holds "
            + (", ".join(sorted(sample.types)) if sample and sample.types else "no rows")
        )
    lines.append(
        f"ALTER TABLE {table.qualified_name} ALTER COLUMN {col} TYPE "
        f"{column.kind}({_type_name(geometry_type)}, {srid}) USING {using};"
    )
    lines.append("-- this rewrites the table under ACCESS EXCLUSIVE: plan a window for large ones")
    return "\n".join(lines)


def _columns(
    ctx: Context, *, kinds: tuple[str, ...] = _DEFINABLE, geometry_only: bool = False
) -> Iterator[tuple[SpatialTable, SpatialColumnInfo]]:
    for table in ctx.tables(*kinds, partitions=False):
        for column in table.columns:
            if not geometry_only or column.kind == "geometry":
                yield table, column


def srid_unknown(ctx: Context) -> Iterator[Finding]:
    """column.srid_unknown: geometry columns without a declared SRID."""
    for table, column in _columns(ctx, geometry_only=True):
        if column.srid == 0:
            yield Finding(
                f"{table.qualified_name}.{column.name} is declared without an SRID (0): "
                "PostGIS cannot transform it, mixes coordinate systems silently, and every "
                "query must guess the SRID of its parameters.",
                fix=_retype_fix(ctx, table, column),
                table=table.qualified_name,
                column=column.name,
                details={"srid": 0, "declared_type": column.geometry_type},
            )


def generic_type(ctx: Context) -> Iterator[Finding]:
    """column.generic_type: columns of the generic GEOMETRY type."""
    for table, column in _columns(ctx):
        if column.is_generic:
            yield Finding(
                f"{table.qualified_name}.{column.name} accepts any geometry type ({column.kind}"
                f"({column.geometry_type}, {column.srid})): points, lines and polygons can be "
                "mixed by mistake, and clients (QGIS, GDAL, tile servers) cannot tell the layer's "
                "type.",
                fix=_retype_fix(ctx, table, column),
                table=table.qualified_name,
                column=column.name,
                details={"srid": column.srid, "declared_type": column.geometry_type},
            )


def mixed_srid(ctx: Context) -> Iterator[Finding]:
    """column.mixed_srid: several SRIDs in one unconstrained geometry column (sampled)."""
    candidates = [(t, c) for t, c in _columns(ctx, geometry_only=True) if c.srid == 0]
    readable = set(ctx.readable([t for t, _ in candidates], "sampled for SRIDs"))
    for table, column in candidates:
        if table not in readable:
            continue
        sample = sample_column(ctx, table, column)
        if len(sample.srids) < 2:
            continue
        target = sample.majority_srid() or 4326
        col = quote_ident(column.name)
        counts = ", ".join(f"SRID {s}: {n:,}" for s, n in sorted(sample.srids.items()))
        yield Finding(
            f"{table.qualified_name}.{column.name} mixes SRIDs in a sample of {sample.rows:,} "
            f"rows ({counts}): functions raise 'mixed SRID geometries', while && and "
            "ST_Intersects silently compare raw coordinates (errata 5).",
            fix=(
                f"-- transform every row to one SRID ({target} is the most frequent); rows "
                "with SRID 0 need ST_SetSRID to their real SRID first\n"
                f"UPDATE {table.qualified_name} SET {col} = ST_Transform({col}, {target}) "
                f"WHERE ST_SRID({col}) NOT IN (0, {target});\n"
                f"ALTER TABLE {table.qualified_name} ALTER COLUMN {col} TYPE geometry(Geometry, "
                f"{target}) USING {col};"
            ),
            severity="error",
            table=table.qualified_name,
            column=column.name,
            details={
                "sampled_rows": sample.rows,
                "sampled": sample.sampled,
                "srids": ", ".join(str(s) for s in sorted(sample.srids)),
            },
        )


def _validated_check(table: SpatialTable, column: str) -> bool:
    return any(c.validated and _VALIDITY_CALL.search(c.definition) for c in table.checks_on(column))


def _make_valid_fix(table: SpatialTable, column: SpatialColumnInfo) -> str:
    col = quote_ident(column.name)
    name = table.qualified_name
    kind = _EXTRACT_KIND.get(column.base_type)
    review = (
        f"-- review first: SELECT ST_IsValidReason({col}) FROM {name} WHERE NOT ST_IsValid({col});"
    )
    if kind is not None:
        repaired = f"ST_Multi(ST_CollectionExtract(ST_MakeValid({col}), {kind}))"
    else:
        repaired = f"ST_MakeValid({col})"
        if not column.is_generic:
            review += (
                f"\n-- ST_MakeValid can change the type (a bow-tie {column.base_type.title()} "
                "becomes a Multi geometry): such rows fail on this column; repair them by hand"
            )
    return f"{review}\nUPDATE {name} SET {col} = {repaired} WHERE NOT ST_IsValid({col});"


def invalid_geometry(ctx: Context) -> Iterator[Finding]:
    """column.invalid_geometry: invalid geometries in a sample, with the top reasons."""
    candidates = [
        (t, c)
        for t, c in _columns(ctx, kinds=(*_DEFINABLE, "materialized_view"), geometry_only=True)
        if not _validated_check(t, c.name)
    ]
    readable = set(ctx.readable([t for t, _ in candidates], "sampled for validity"))
    for table, column in candidates:
        if table not in readable:
            continue
        clause = _sample_clause(ctx, table)
        rows = ctx.rows(
            "columns",
            "sample_validity",
            {"limit": ctx.thresholds.sample_rows},
            table=table.qualified_name,
            column=quote_ident(column.name),
            sample=clause,
        )
        sampled = sum(int(r.rows) for r in rows)
        reasons = [(str(r.reason), int(r.rows)) for r in rows if r.reason is not None]
        invalid = sum(n for _, n in reasons)
        if not invalid:
            continue
        top = reasons[: ctx.thresholds.invalid_reasons_top]
        listed = "; ".join(f"{reason} ({n:,})" for reason, n in top)
        yield Finding(
            f"{table.qualified_name}.{column.name}: {invalid:,} of {sampled:,} sampled rows are "
            f"invalid ({listed}). Spatial predicates on invalid geometries give wrong answers "
            "or raise GEOS TopologyException errors.",
            fix=_make_valid_fix(table, column),
            table=table.qualified_name,
            column=column.name,
            details={
                "sampled_rows": sampled,
                "invalid_rows": invalid,
                "sampled": bool(clause),
                "top_reason": top[0][0],
            },
        )


def validity_check_missing(ctx: Context) -> Iterator[Finding]:
    """column.validity_check_missing: geometry columns without CHECK (ST_IsValid(col))."""
    for table, column in _columns(ctx, geometry_only=True):
        if any(_VALIDITY_CALL.search(c.definition) for c in table.checks_on(column.name)):
            continue
        name = f"ck_{table.name}_{column.name}_valid"[:63]
        col = quote_ident(column.name)
        yield Finding(
            f"{table.qualified_name}.{column.name} has no CHECK (ST_IsValid({column.name})): "
            "invalid geometries can be written and break spatial predicates later.",
            fix=(
                f"-- NOT VALID first: the table stays writable while VALIDATE scans it; "
                "VALIDATE fails while invalid rows remain (see column.invalid_geometry)\n"
                f"ALTER TABLE {table.qualified_name} ADD CONSTRAINT {quote_ident(name)} "
                f"CHECK (ST_IsValid({col})) NOT VALID;\n"
                f"ALTER TABLE {table.qualified_name} VALIDATE CONSTRAINT {quote_ident(name)};"
            ),
            table=table.qualified_name,
            column=column.name,
        )


def constraint_not_valid(ctx: Context) -> Iterator[Finding]:
    """column.constraint_not_valid: CHECK and FOREIGN KEY constraints added NOT VALID."""
    for table in ctx.tables(*_DEFINABLE, partitions=False):
        for constraint in table.constraints:
            if constraint.validated:
                continue
            yield Finding(
                f"{table.qualified_name}: constraint {constraint.name} ({constraint.definition}) "
                "was added NOT VALID and never validated: rows written before it may break it, "
                "and the planner cannot rely on it.",
                fix=f"ALTER TABLE {table.qualified_name} VALIDATE CONSTRAINT "
                f"{quote_ident(constraint.name)};",
                table=table.qualified_name,
                column=", ".join(constraint.columns) or None,
                details={"constraint": constraint.name, "kind": constraint.kind},
            )


CHECKS = (
    Check(
        id="column.srid_unknown",
        title="Spatial columns declare an SRID",
        severity="warn",
        why="A column declared without an SRID (0) accepts coordinates in any system: "
        "ST_Transform fails on it, parameters cannot be checked against it, and rows in "
        "different systems mix without an error.",
        run=srid_unknown,
    ),
    Check(
        id="column.generic_type",
        title="Spatial columns declare a geometry type",
        severity="warn",
        why="A generic geometry column lets points, lines and polygons mix by mistake, and GIS "
        "clients cannot tell what the layer holds.",
        run=generic_type,
    ),
    Check(
        id="column.mixed_srid",
        title="One SRID per column (sampled)",
        severity="error",
        why="Mixed SRIDs make most functions raise 'Operation on mixed SRID geometries', "
        "while && and ST_Intersects silently return wrong rows (errata 5).",
        run=mixed_srid,
    ),
    Check(
        id="column.invalid_geometry",
        title="Geometries are valid (sampled)",
        severity="error",
        why="Invalid geometries (self-intersections, unclosed rings) make ST_Intersects, "
        "ST_Union and friends return wrong results or raise TopologyException.",
        run=invalid_geometry,
    ),
    Check(
        id="column.validity_check_missing",
        title="Geometry columns have a validity CHECK",
        severity="warn",
        why="Without CHECK (ST_IsValid(geom)) any writer can store an invalid geometry, and "
        "the damage shows up later as wrong query results.",
        run=validity_check_missing,
    ),
    Check(
        id="column.constraint_not_valid",
        title="No NOT VALID constraints",
        severity="warn",
        why="A constraint added NOT VALID is enforced only for new rows; the old rows were "
        "never checked, and the planner cannot use it.",
        run=constraint_not_valid,
    ),
)
