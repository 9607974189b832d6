"""Which columns of a statement become a feature's id, geometry and properties, and the
SQL that makes PostgreSQL write each feature as GeoJSON text.

Errata 10: building features in Python is the slow part of a GeoJSON API (per-row
``json.loads`` + dicts: 9.5x psql's ``\\copy``); splicing per-row strings made by the
database: 1.5x. So each row is one text value, ``{"type":"Feature",...}``, built by text
concatenation around ``ST_AsGeoJSON`` (no JSON re-parsing in PostgreSQL either). Ids use
plain SQL, not ``ST_AsGeoJSON(record, ..., id_column)``, which PostGIS 3.3 lacks (errata 19).
Output is RFC 7946: EPSG:4326, with an optional coordinate precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geoalchemy2 import Geography, Geometry
from sqlalchemy import ColumnElement, Select, Text, func, select
from sqlalchemy.sql.selectable import Subquery

from pgspatial.errors import ConfigError
from pgspatial.sqltemplate import SqlTemplate, string_literal

__all__ = ["FULL_PRECISION", "FeatureSpec", "feature_spec"]

#: ST_AsGeoJSON's largest precision: enough digits for doubles to round-trip.
FULL_PRECISION = 15
_MAX_JSON_ARGS = 100  # json_build_object takes at most 100 arguments (50 properties)


@dataclass(frozen=True)
class FeatureSpec:
    """A statement as features: its subquery and the roles of its columns."""

    subquery: Subquery
    geometry: ColumnElement[Any]
    id: ColumnElement[Any] | None
    properties: tuple[ColumnElement[Any], ...]
    precision: int

    def geometry_4326(self) -> ColumnElement[Any]:
        """The geometry in EPSG:4326 (RFC 7946); transformed only in the SELECT list."""
        spatial = self.geometry.type
        if isinstance(spatial, Geography) or getattr(spatial, "srid", None) == 4326:
            return self.geometry
        return func.ST_Transform(self.geometry, 4326)

    def feature_text(self) -> ColumnElement[str]:
        """One Feature as JSON text, built by concatenation around ``ST_AsGeoJSON``.

        One :class:`~pgspatial.sqltemplate.SqlTemplate`: the fixed JSON pieces and the
        property names are written into the SQL, the id, geometry and property values are
        its parts. Built from ``func.concat``, casts and a bound literal per piece, building
        and keying it was 13 % of the service's CPU per ``/items`` request (py-spy).
        """
        parts: dict[str, ColumnElement[Any]] = {"geom": self.geometry_4326()}
        id_text = ""
        if self.id is not None:
            parts["id"] = self.id
            id_text = """'"id":', to_json({id})::text, ',', """
        values = []
        for i, column in enumerate(self.properties):
            parts[f"p{i}"] = column
            values.append(f"{string_literal(column.name)}, {{p{i}}}")
        template = (
            """concat('{{"type":"Feature",', """ + id_text
            + """'"geometry":', coalesce(ST_AsGeoJSON({geom}, """ + str(int(self.precision))
            + """), 'null'), ',"properties":', """ + _json_object(values) + """, '}}')"""
        )  # fmt: skip
        return SqlTemplate(template, Text(), **parts)

    def features_select(self) -> Select[Any]:
        """``SELECT <feature text> FROM (<statement>)``, keeping the statement's order."""
        return select(self.feature_text().label("feature")).select_from(self.subquery)

    def csv_select(self) -> Select[Any]:
        """Id, properties and the geometry as WKT (EPSG:4326), for CSV."""
        columns: list[ColumnElement[Any]] = []
        if self.id is not None:
            columns.append(self.id)
        columns.extend(self.properties)
        wkt = func.ST_AsText(self.geometry_4326(), self.precision, type_=Text)
        columns.append(wkt.label("wkt"))
        return select(*columns).select_from(self.subquery)

    def extent_select(self) -> Select[Any]:
        """The RFC 7946 bbox (west, south, east, north) of all features."""
        extent = func.ST_Extent(func.geometry(self.geometry_4326())).label("e")
        inner = select(extent).select_from(self.subquery).subquery()
        e = inner.c.e
        return select(func.ST_XMin(e), func.ST_YMin(e), func.ST_XMax(e), func.ST_YMax(e))


def _json_object(pairs: list[str]) -> str:
    """SQL for a JSON object's text from ``key, value`` pairs (``'{}'`` when none):
    ``json_build_object`` takes at most 100 arguments, so more are merged as jsonb."""
    if not pairs:
        return "'{{}}'"
    chunks = [pairs[i : i + _MAX_JSON_ARGS // 2] for i in range(0, len(pairs), _MAX_JSON_ARGS // 2)]
    if len(chunks) == 1:
        return f"json_build_object({', '.join(pairs)})::text"
    merged = " || ".join(f"json_build_object({', '.join(chunk)})::jsonb" for chunk in chunks)
    return f"({merged})::text"


def _is_spatial(column: ColumnElement[Any]) -> bool:
    return isinstance(column.type, Geometry | Geography)


def feature_spec(
    stmt: Select[Any],
    *,
    id_column: str | None = None,
    geometry_column: str | None = None,
    properties: Sequence[str] | None = None,
    precision: int | None = None,
) -> FeatureSpec:
    """Resolve the roles of ``stmt``'s columns, with errors that name what exists."""
    if precision is not None and not 0 <= precision <= FULL_PRECISION:
        raise ConfigError(f"precision must be 0..{FULL_PRECISION} decimal digits, got {precision}.")
    subquery = stmt.subquery("pgspatial_features")
    columns = {c.name: c for c in subquery.c}
    available = ", ".join(columns)
    if geometry_column is None:
        spatial = [c for c in subquery.c if _is_spatial(c)]
        if len(spatial) != 1:
            found = ", ".join(c.name for c in spatial) or "none"
            raise ConfigError(
                f"Cannot tell the geometry column (spatial columns: {found}); pass "
                "geometry_column=."
            )
        geometry = spatial[0]
    elif geometry_column in columns:
        geometry = columns[geometry_column]
    else:
        raise ConfigError(f"No column {geometry_column!r} in the statement; it has: {available}.")
    feature_id = None
    if id_column is not None:
        if id_column not in columns:
            raise ConfigError(f"No column {id_column!r} in the statement; it has: {available}.")
        feature_id = columns[id_column]
    if properties is None:
        chosen = [
            c
            for c in subquery.c
            if c is not geometry and c is not feature_id and not _is_spatial(c)
        ]
    else:
        missing = [p for p in properties if p not in columns]
        if missing:
            raise ConfigError(f"No column {missing[0]!r} in the statement; it has: {available}.")
        chosen = [columns[p] for p in properties]
    return FeatureSpec(
        subquery=subquery,
        geometry=geometry,
        id=feature_id,
        properties=tuple(chosen),
        precision=FULL_PRECISION if precision is None else precision,
    )
