"""What an expression is known to be: its table and column, its SRID, the index that matches it.

Facts come from two places only: the literals of the statement itself (``ST_SetSRID(...,
3857)``, ``ST_MakeEnvelope(..., 4326)``, ``'SRID=4326;POINT(...)'``, an EWKB literal) and,
when one is given, the :class:`~pgspatial.catalog.Catalog` of the live database (a
column's declared SRID, its indexes). Models are deliberately not consulted: a model can
declare an index that the database does not have.
"""

from __future__ import annotations

import re
from functools import cache

from pglast import parse_sql
from pglast.ast import A_Const, ColumnRef, FuncCall, Integer, Node, ParamRef, String, TypeCast
from pglast.parser import ParseError

from pgspatial.catalog import SPATIAL_INDEX_METHODS, Catalog, IndexInfo, SpatialColumnInfo
from pgspatial.catalog import SpatialTable as CatalogTable
from pgspatial.plans._ast import (
    Scope,
    cast_type,
    column_name,
    function_name,
    has_typmods,
    own_nodes,
)

__all__ = [
    "MERCATOR_SRIDS",
    "canonical",
    "column_info",
    "integer_value",
    "matching_indexes",
    "srid_of",
]

#: Web/World Mercator SRIDs whose units are not ground metres (scale sec(latitude)).
MERCATOR_SRIDS = frozenset({3857, 3395, 3785, 900913, 102100, 102113})

_EWKT_SRID = re.compile(r"^\s*SRID=(\d+);", re.IGNORECASE)
# Functions whose result has the SRID of their first argument.
_SRID_PRESERVING = frozenset(
    {
        "st_buffer", "st_expand", "st_centroid", "st_envelope", "st_simplify",
        "st_simplifypreservetopology", "st_snaptogrid", "st_pointonsurface", "st_convexhull",
        "st_union", "st_collect", "st_multi", "st_force2d", "st_force3d", "st_makevalid",
        "st_boundary", "st_exteriorring", "st_startpoint", "st_endpoint", "st_intersection",
        "st_difference", "st_symdifference", "st_unaryunion", "st_reverse", "st_segmentize",
        "st_translate", "st_closestpoint", "st_geometryn", "st_pointn", "st_linemerge",
        "st_clipbybox2d", "st_subdivide", "st_normalize", "st_concavehull", "st_orientedenvelope",
        "st_curvetoline", "st_flipcoordinates", "st_project", "st_shortestline",
    }
)  # fmt: skip
# Constructors whose SRID is one of their arguments: name -> position of the SRID argument.
_SRID_ARGUMENT = {
    "st_setsrid": 1,
    "st_transform": 1,
    "st_makeenvelope": 4,
    "st_point": 2,
    "st_pointz": 3,
    "st_geomfromtext": 1,
    "st_geometryfromtext": 1,
    "st_geomfromwkb": 1,
    "st_polygonfromtext": 1,
    "st_linefromtext": 1,
    "st_pointfromtext": 1,
    "st_mpolyfromtext": 1,
    "st_mlinefromtext": 1,
    "st_mpointfromtext": 1,
}
_EXTENDED_TEXT = frozenset(
    {"st_geomfromewkt", "st_geogfromtext", "st_geographyfromtext", "st_geomfromtext"}
)


def integer_value(node: object) -> int | None:
    """The value of an integer literal (possibly cast, e.g. ``4326::integer``), else None."""
    while isinstance(node, TypeCast):
        node = node.arg
    if isinstance(node, A_Const) and isinstance(node.val, Integer):
        return int(node.val.ival or 0)
    return None


def _string_value(node: object) -> str | None:
    while isinstance(node, TypeCast):
        node = node.arg
    if isinstance(node, A_Const) and isinstance(node.val, String):
        return str(node.val.sval)
    return None


def _ewkb_srid(hex_text: str) -> int | None:
    """The SRID in the header of hex EWKB, when it carries one."""
    try:
        data = bytes.fromhex(hex_text.strip().removeprefix("\\x"))
    except ValueError:
        return None
    if len(data) < 9:
        return None
    little = data[0] == 1
    kind = int.from_bytes(data[1:5], "little" if little else "big")
    if not kind & 0x20000000:
        return None
    return int.from_bytes(data[5:9], "little" if little else "big") or None


def _literal_srid(node: object) -> int | None:
    text = _string_value(node)
    if text is not None and (match := _EWKT_SRID.match(text)):
        return int(match.group(1))
    return None


def srid_of(node: object, scope: Scope, catalog: Catalog | None) -> int | None:  # noqa: PLR0911
    """The SRID ``node`` evaluates to when the statement or the catalog says it, else None."""
    if isinstance(node, TypeCast):
        if has_typmods(node) and node.typeName is not None:
            declared = integer_value((node.typeName.typmods or ())[-1])
            if declared and cast_type(node) in {"geometry", "geography"}:
                return declared
        return srid_of(node.arg, scope, catalog)
    if isinstance(node, A_Const):
        return _literal_srid(node)
    if isinstance(node, ColumnRef):
        info = column_info(node, scope, catalog)
        return info[1].srid or None if info is not None else None
    name = function_name(node)
    if name is None or not isinstance(node, FuncCall):
        return None
    args = node.args or ()
    if name == "st_tileenvelope":
        return srid_of(args[3], scope, catalog) if len(args) > 3 else 3857
    position = _SRID_ARGUMENT.get(name)
    if position is not None and len(args) > position and integer_value(args[position]):
        return integer_value(args[position])
    if name in _EXTENDED_TEXT and args:
        return _literal_srid(args[0])
    if name == "st_geomfromewkb" and args:
        hex_text = next(
            (_string_value(n) for n in own_nodes(args[0]) if _string_value(n) is not None), None
        )
        return _ewkb_srid(hex_text) if hex_text else None
    if name == "st_geomfromgeojson":
        return 4326  # PostGIS 3 assigns EPSG:4326 to GeoJSON without a crs member
    if name in _SRID_PRESERVING and args:
        return srid_of(args[0], scope, catalog)
    return None


def _table(catalog: Catalog, relname: str, schema: str | None) -> CatalogTable | None:
    if schema is not None:
        return catalog.find(relname, schema)
    found = catalog.find(relname, "public")
    return found or next((t for t in catalog.tables if t.name == relname), None)


def column_info(
    node: object, scope: Scope, catalog: Catalog | None
) -> tuple[CatalogTable, SpatialColumnInfo] | None:
    """The catalog's table and spatial column behind a column reference, when known."""
    name = column_name(node)
    if catalog is None or name is None:
        return None
    qualifier, column = name
    if qualifier is not None:
        candidates = [scope.resolve(qualifier)]
    else:
        levels = [scope, *scope.ancestors()]
        candidates = [relation for level in levels for relation in level.relations.values()]
    for relation in candidates:
        if relation is None or not relation.relname:
            continue
        table = _table(catalog, str(relation.relname), relation.schemaname)
        spatial = next((c for c in table.columns if c.name == column), None) if table else None
        if table is not None and spatial is not None:
            return table, spatial
    return None


def canonical(node: object, *, typmods: bool = True) -> str:  # noqa: PLR0911
    """A spelling of an expression that ignores qualifiers, parentheses and cast syntax, so
    ``(p.geom)::geography`` and the index expression ``(geom)::geography`` compare equal."""
    if isinstance(node, ColumnRef) and (name := column_name(node)) is not None:
        return name[1]
    if isinstance(node, TypeCast) and node.typeName is not None:
        mods = ""
        if typmods and node.typeName.typmods:
            mods = "(" + ",".join(canonical(m) for m in node.typeName.typmods) + ")"
        return f"({canonical(node.arg, typmods=typmods)})::{cast_type(node)}{mods}"
    if isinstance(node, FuncCall):
        args = ",".join(canonical(a, typmods=typmods) for a in node.args or ())
        return f"{function_name(node)}({args})"
    if isinstance(node, A_Const):
        for attribute in ("ival", "fval", "sval", "boolval"):
            if hasattr(node.val, attribute):
                return f"{attribute}:{getattr(node.val, attribute)!r}"
        return "null"
    if isinstance(node, ParamRef):
        return f"${node.number}"
    if isinstance(node, Node):
        parts = [
            canonical(getattr(node, name), typmods=typmods) for name in node if name != "location"
        ]
        return f"{type(node).__name__}[{','.join(parts)}]"
    if isinstance(node, tuple):
        return "(" + ",".join(canonical(item, typmods=typmods) for item in node) + ")"
    return repr(node)


@cache
def _index_expression(expression: str) -> str | None:
    """The canonical form of an index expression as ``pg_get_indexdef`` deparses it."""
    try:
        statement = parse_sql(f"SELECT {expression}")[0].stmt
    except ParseError:
        return None
    targets = getattr(statement, "targetList", None) or ()
    return canonical(targets[0].val) if targets else None


def matching_indexes(
    expression: Node, table: CatalogTable, *, typmods: bool = True
) -> list[IndexInfo]:
    """The spatial expression indexes of ``table`` whose first key is ``expression``.

    With ``typmods=False`` a cast's type modifier is ignored on the query side, to find the
    index that ``CAST(geom AS geography(GEOMETRY,4326))`` was meant to use (errata 16).
    """
    wanted = canonical(expression, typmods=typmods)
    return [
        index
        for index in table.indexes
        if index.method in SPATIAL_INDEX_METHODS
        and index.first_expression is not None
        and _index_expression(index.first_expression) == wanted
    ]
