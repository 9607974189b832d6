"""``load_file``: a GIS file layer into PostGIS, the API behind ``pgspatial load``.

GeoPackage, Shapefile, GeoJSON/GeoJSONSeq, FlatGeobuf and whatever else GDAL reads arrive
through pyogrio's Arrow path in a reader thread (:mod:`pgspatial.bulk.ogr`), and leave
through the same checked binary COPY as :func:`~pgspatial.bulk.bulk_load`, in one
transaction that also creates the table when it is missing (then its GiST index is built
after the rows are in, which is faster than growing it row by row), sets NOT NULL when
the layer had no NULL geometries, and ANALYZEs.

The geometries are reprojected to ``srid`` when it differs from the layer's CRS. A layer
whose CRS has no EPSG code needs ``srid``: with a CRS, it is reprojected from that CRS;
without one, its coordinates are taken to be in ``srid`` already.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
import shapely

from pgspatial.bulk.decoding import Decoded, decode_wkb
from pgspatial.bulk.layer_types import LayerGeometry, batch_type_problem, choose_column_type
from pgspatial.bulk.ogr import ArrowBatches, LayerInfo, describe_layer
from pgspatial.bulk.plan import plan_load
from pgspatial.bulk.report import LoadReport
from pgspatial.bulk.run import LoadRun, check_mode
from pgspatial.bulk.schema import FieldMap, fit_existing
from pgspatial.bulk.target import (
    LoadTarget,
    TargetColumn,
    find_target,
    resolve_target,
    split_name,
)
from pgspatial.errors import ConfigError, SchemaError

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = ["load_file"]


def load_file(
    engine: Engine | Connection | psycopg.Connection[Any],
    source: str | Path | LayerInfo,
    table: str,
    *,
    schema: str | None = None,
    layer: str | None = None,
    srid: int | None = None,
    on_invalid: str = "reject",
    promote_to_multi: bool = False,
    report_path: str | Path | None = None,
    batch_rows: int = 10_000,
    progress: Callable[[int], None] | None = None,
    defer_indexes: bool = True,
) -> LoadReport:
    """Load one layer of a GIS file into ``table`` (created when missing); see the module.

    ``engine`` may also be a psycopg connection (``pgspatial load`` passes one, so the
    command never imports SQLAlchemy unless the table must be created).
    ``source`` is a path, or the :class:`LayerInfo` of :func:`describe_layer` (which also
    gives the feature count for a progress bar). ``on_invalid``, ``report_path`` and
    ``progress`` and ``defer_indexes`` (for an existing empty table) are as for
    :func:`~pgspatial.bulk.bulk_load`. ``promote_to_multi`` loads a
    layer mixing Polygon and MultiPolygon (likewise lines, points) as the Multi type.
    """
    mode = check_mode(on_invalid)
    info = source if isinstance(source, LayerInfo) else describe_layer(source, layer)
    table_schema, table_name = split_name(table, schema)
    geometry = LayerGeometry.from_info(info, srid)
    run = LoadRun(engine, on_invalid=mode, report_path=report_path, progress=progress)
    with ArrowBatches(info, batch_rows=batch_rows) as reader, run.transaction() as connection:
        existing = find_target(connection, table_schema, table_name)
        layout = _Layout.of(reader)
        batches = iter(reader)
        first = next(batches, None)
        first_shapes = decode_wkb(_wkb(first, layout)) if first is not None else None
        new = pk = None
        if existing is None:
            from pgspatial.bulk.newtable import create_table, new_table

            column_type = choose_column_type(info, first_shapes, promote=promote_to_multi)
            new, maps, pk, geom = new_table(
                table_name, table_schema, layout.fields, fid_column=info.fid_column,
                geometry_type=column_type, srid=geometry.target_srid,
            )  # fmt: skip
            create_table(connection, new)
            target = resolve_target(connection, table_schema, table_name)
            run.created = True
            names = [pk, *(m.column for m in maps), geom]
            sources = [layout.fid_name or pk, *(m.field for m in maps), layout.geometry_name]
        else:
            target = existing
            geom = _spatial_column(target, info, geometry, first_shapes).name
            maps = fit_existing(target, layout.fields)
            names = [*(m.column for m in maps), geom]
            sources = [*(m.field for m in maps), layout.geometry_name]
            if defer_indexes:
                run.defer_indexes(connection, target.sql_name)
        run.table = target.qualified_name
        plan = plan_load(
            target, names, on_invalid=mode, transform=geometry.transform,
            promote_to_multi=promote_to_multi,
        )  # fmt: skip
        spec = target.columns[geom].spatial
        assert spec is not None
        with run.copy(connection, plan, sources) as sink:
            start = 1
            for batch in itertools.chain([first] if first is not None else [], batches):
                values, decoded = _batch(batch, maps, layout, geometry, with_fid=pk is not None)
                problem = batch_type_problem(
                    decoded.shapes, start, spec.geometry_type, created=run.created,
                    promote=promote_to_multi, layer=info.layer,
                )  # fmt: skip
                if problem:
                    raise ConfigError(problem)
                sink.add_batch(start, values, {len(values) - 1: decoded})
                start += batch.num_rows
                run.batch_done()
            run.refuse_if_rejected()
        if new is not None and pk is not None:
            from pgspatial.bulk.newtable import finish_new_table

            finish_new_table(connection, target, new, pk, geom, nulls=sink.null_geometries)
        run.finish(connection, target.sql_name)
    return run.report()


@dataclass(frozen=True)
class _Layout:
    """Where the FID, the geometry and the fields are in the record batches.

    By position, not name: GDAL may use a field as the FID and keep it as a field too
    (a GeoJSON ``id`` property), so a name can occur twice.
    """

    fid_name: str
    geometry_index: int
    geometry_name: str
    fields: list[tuple[int, Any]]

    @classmethod
    def of(cls, reader: ArrowBatches) -> _Layout:
        names = list(reader.schema.names)
        geometry_name = str(reader.meta.get("geometry_name") or "wkb_geometry")
        if geometry_name not in names:
            raise ConfigError(
                f"{reader.info.path}: layer {reader.info.layer!r} has no geometry column; "
                "pgspatial load needs a spatial layer."
            )
        geometry_index = len(names) - 1 - names[::-1].index(geometry_name)
        fields = [(i, f) for i, f in enumerate(reader.schema) if i not in (0, geometry_index)]
        return cls(str(reader.meta.get("fid_column") or ""), geometry_index, geometry_name, fields)


def _wkb(batch: Any, layout: _Layout) -> Any:
    column = batch.column(layout.geometry_index)
    column = getattr(column, "storage", column)  # a geoarrow.wkb extension array
    return column.to_numpy(zero_copy_only=False)


def _batch(
    batch: Any, maps: list[FieldMap], layout: _Layout, geometry: LayerGeometry, *, with_fid: bool
) -> tuple[list[Any], Decoded]:
    """A record batch as planned column values, and its decoded geometry column."""
    values: list[Any] = []
    if with_fid:
        values.append(batch.column(0).to_pylist())  # pyogrio puts the FIDs first
    values.extend(m.convert(batch.column(m.index)) for m in maps)
    wkb = _wkb(batch, layout)
    column = batch.column(layout.geometry_index)
    nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False))
    shapes = decode_wkb(wkb)
    originals: Any = wkb
    if geometry.source_srid is not None and geometry.transform:
        shapes = np.asarray(shapely.set_srid(shapes, geometry.source_srid), dtype=object)
        originals = np.where(shapes == None, wkb, shapes)  # noqa: E711
    elif geometry.reproject is not None:
        shapes = geometry.reproject(shapes)
        originals = np.where(shapes == None, wkb, shapes)  # noqa: E711
    values.append(originals)
    raw = wkb if originals is wkb else None  # unchanged WKB goes out as it came
    return values, Decoded(shapes, originals, nulls, raw)


def _spatial_column(
    target: LoadTarget, info: LayerInfo, geometry: LayerGeometry, shapes: Any
) -> TargetColumn:
    """The existing table's spatial column for the layer; SchemaError when none fits."""
    spatial = target.spatial_columns()
    if not spatial:
        raise SchemaError(
            f"{target.qualified_name} has no geometry column to load {info.layer!r} into; "
            "load into a new table (another --table) or add one."
        )
    if len(spatial) > 1:
        named = [c for c in spatial if c.name in {"geom", info.geometry_name}]
        if len(named) != 1:
            raise SchemaError(
                f"{target.qualified_name} has several geometry columns "
                f"({', '.join(c.name for c in spatial)}); pgspatial load fills one named "
                "'geom' or named like the layer's geometry column."
            )
        spatial = named
    column = spatial[0]
    spec = column.spatial
    assert spec is not None
    if spec.srid is not None and spec.srid != geometry.target_srid:
        raise SchemaError(
            f"{target.qualified_name}.{column.name} is in SRID {spec.srid} but the layer "
            f"would be loaded in SRID {geometry.target_srid}; pass --srid {spec.srid} to "
            "reproject it to the table's SRID."
        )
    problem = geometry.fit_problem(column.name, spec, shapes)
    if problem:
        raise SchemaError(f"{target.qualified_name}.{problem}")
    return column
