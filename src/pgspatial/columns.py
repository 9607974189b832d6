"""``spatial_column``: a mapped spatial column that is constrained and indexed by construction.

Each column gets exactly one GiST index with a predictable name (errata 7: GeoAlchemy2's
automatic index plus a hand-written one gives two indexes, or a name clash), a named
``CHECK (ST_IsValid(col))``, NOT NULL by default and an explicit SRID. With
``geodesic_index=True`` it also gets a geography expression index built by
:func:`geography_of`, the same helper the metre-radius predicates use, so the index and the
predicate always match (errata 16). Everything is attached per column when the column joins
its table, through that column's own ``after_parent_attach`` event: no global listener.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import CheckConstraint, Column, ColumnElement, Index, Table, event, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import MappedColumn, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.naming import conv
from sqlalchemy.sql.schema import SchemaItem
from sqlalchemy.sql.visitors import InternalTraversal, _TraverseInternalsType

from pgspatial.errors import ConfigError
from pgspatial.geometry.validate import normalize_target_type
from pgspatial.types import SpatialGeography, SpatialGeometry

__all__ = ["GeographyOf", "geography_of", "spatial_column"]

GEOGRAPHIC_SRID = 4326


class GeographyOf(ColumnElement[Any]):
    """``((expr)::geography)``: the one spelling shared by the index and the predicates.

    GeoAlchemy2's ``cast(col, Geography(srid=4326))`` renders
    ``CAST(col AS geography(GEOMETRY,4326))``, which PostgreSQL does not match to an index
    on ``(col::geography)`` (errata 16). A bare ``::geography`` cast matches.
    """

    inherit_cache = True
    _traverse_internals: _TraverseInternalsType = [  # noqa: RUF012 - SQLAlchemy's idiom
        ("operand", InternalTraversal.dp_clauseelement)
    ]
    type = SpatialGeography(geometry_type=None, spatial_index=False)

    def __init__(self, expression: ColumnElement[Any]) -> None:
        self.operand = expression


@compiles(GeographyOf)
def _compile_geography_of(element: GeographyOf, compiler: SQLCompiler, **kw: Any) -> str:
    # Parenthesised as a whole too: an index key that is an expression must be.
    return f"(({compiler.process(element.operand, **kw)})::geography)"


def geography_of(expression: ColumnElement[Any]) -> GeographyOf:
    """The geography cast of a geometry expression, as the geodesic index spells it."""
    return GeographyOf(expression)


def _normalise_type(geometry_type: str) -> str:
    """The type as the column declares it (suffix kept), validated by parse_geometry's rules."""
    normalize_target_type(geometry_type)  # ConfigError naming the accepted types
    return geometry_type.upper().replace(" ", "")


def spatial_column(
    geometry_type: str,
    *,
    srid: int,
    geography: bool = False,
    geodesic_index: bool = False,
    validity_check: bool = True,
    nullable: bool = False,
    index_name: str | None = None,
    index_where: str | ColumnElement[bool] | None = None,
    allow_unknown_srid: bool = False,
    **column_kw: Any,
) -> MappedColumn[Any]:
    """A mapped geometry (or geography) column with one GiST index and a validity CHECK.

    ``srid`` is required; 0 and -1 (unknown) are refused unless ``allow_unknown_srid``.
    ``index_name`` defaults to the metadata's ``ix`` naming convention (``ix_<table>_<col>``);
    ``index_where`` makes the GiST index partial. ``geodesic_index=True`` (geometry in
    EPSG:4326 only) adds ``USING gist ((col)::geography)`` named ``<index>_geography``.
    Extra keywords go to :func:`sqlalchemy.orm.mapped_column`.
    """
    normalised = _normalise_type(geometry_type)
    if srid <= 0 and not allow_unknown_srid:
        raise ConfigError(
            f"spatial_column({geometry_type!r}) needs an explicit SRID (got {srid}): an unknown "
            "SRID disables transforms and SRID checks. Pass e.g. srid=4326, or "
            "allow_unknown_srid=True if the data really has no coordinate system."
        )
    if geography and srid != GEOGRAPHIC_SRID:
        raise ConfigError(f"geography columns are in EPSG:4326 here; got srid={srid}.")
    if geodesic_index and (geography or srid != GEOGRAPHIC_SRID):
        raise ConfigError(
            "geodesic_index=True is for geometry columns in EPSG:4326 (a geography column's "
            "own GiST index already serves metre-radius searches); "
            f"got geography={geography}, srid={srid}."
        )
    type_class = SpatialGeography if geography else SpatialGeometry
    spatial_type = type_class(
        geometry_type=normalised, srid=srid, spatial_index=False, nullable=nullable
    )
    mapped = mapped_column(spatial_type, nullable=nullable, **column_kw)
    options = _ColumnOptions(
        geography=geography,
        geodesic_index=geodesic_index,
        validity_check=validity_check,
        index_name=index_name,
        index_where=index_where,
    )
    event.listen(mapped.column, "after_parent_attach", options.attach)
    return mapped


class _ColumnOptions:
    """What ``spatial_column`` adds to the table when its column is attached."""

    def __init__(
        self,
        *,
        geography: bool,
        geodesic_index: bool,
        validity_check: bool,
        index_name: str | None,
        index_where: str | ColumnElement[bool] | None,
    ) -> None:
        self.geography = geography
        self.geodesic_index = geodesic_index
        self.validity_check = validity_check
        self.index_name = index_name
        self.index_where = index_where

    def attach(self, column: SchemaItem, table: SchemaItem) -> None:
        """Add the column's index(es) and CHECK to ``table`` (fires once per table)."""
        if not isinstance(table, Table) or not isinstance(column, Column):
            return  # e.g. a column copied into a select() alias
        # Each table gets its own type instance, so error messages name the right column.
        own_type = copy.copy(column.type)
        if isinstance(own_type, SpatialGeometry | SpatialGeography):
            own_type.column_label = f"{table.name}.{column.name}"
        column.type = own_type
        where = text(self.index_where) if isinstance(self.index_where, str) else self.index_where
        gist = Index(self.index_name, column, postgresql_using="gist", postgresql_where=where)
        table.append_constraint(gist)
        if self.geodesic_index:
            base = self.index_name or f"ix_{table.name}_{column.name}"
            table.append_constraint(
                Index(
                    conv(f"{base}_geography"),
                    geography_of(column),
                    postgresql_using="gist",
                    postgresql_where=where,
                )
            )
        if self.validity_check:
            target = f"{_quote(column.name)}::geometry" if self.geography else _quote(column.name)
            table.append_constraint(
                CheckConstraint(f"ST_IsValid({target})", name=_check_name(table, column.name))
            )


def _quote(name: str) -> str:
    return name if name.islower() and name.isidentifier() else '"' + name.replace('"', '""') + '"'


def _check_name(table: Table, column_name: str) -> str:
    """``<col>_valid`` under a ``ck`` naming convention, else ``ck_<table>_<col>_valid``."""
    if "ck" in table.metadata.naming_convention:
        return f"{column_name}_valid"
    return f"ck_{table.name}_{column_name}_valid"
