"""Lint rules about the GiST index: predicates and orderings that it cannot serve.

- ``ST_DISTANCE_IN_WHERE``: ``ST_Distance(a, b) < r`` computes a distance for every row.
- ``FUNCTION_ON_INDEXED_COLUMN``: ``ST_DWithin(geom::geography, ...)``,
  ``ST_Intersects(ST_Transform(geom, 3857), ...)``: the index is on ``geom``, not on the
  expression (errata 1), unless the same AND also tests the bare column (pgspatial's
  "index prefilter + exact test" pattern) or the catalog has a matching expression index.
  A cast with a type modifier never matches a ``(geom)::geography`` index (errata 16).
- ``KNN_NON_CONSTANT`` / ``KNN_PLANAR_DEGREES``: ``ORDER BY a <-> b`` needs a constant on
  one side to be index-ordered, and on geometry(4326) it orders by degrees (errata 2).
"""

from __future__ import annotations

from collections.abc import Iterator

from pglast.ast import (
    A_Expr,
    BoolExpr,
    ColumnRef,
    FuncCall,
    Node,
    ResTarget,
    SelectStmt,
    TypeCast,
)
from pglast.enums import A_Expr_Kind, BoolExprType

from pgspatial.catalog import Catalog, IndexInfo
from pgspatial.plans._ast import (
    ColumnName,
    Scope,
    cast_type,
    column_name,
    conjunction_contexts,
    display,
    function_name,
    has_typmods,
    operator_name,
    own_nodes,
    strip_casts,
)
from pgspatial.plans._facts import column_info, matching_indexes
from pgspatial.plans.findings import Finding, finding

__all__ = [
    "DISTANCE_FUNCTIONS",
    "INDEX_FUNCTIONS",
    "INDEX_OPERATORS",
    "distance_in_where",
    "function_on_indexed_column",
    "index_predicate_arguments",
    "knn_ordering",
]

#: PostGIS functions that an index on their first two (geometry) arguments can serve.
INDEX_FUNCTIONS = frozenset(
    {
        "st_intersects", "st_contains", "st_containsproperly", "st_within", "st_covers",
        "st_coveredby", "st_overlaps", "st_touches", "st_crosses", "st_equals", "st_dwithin",
        "st_dfullywithin", "st_3dintersects", "st_3ddwithin", "st_3ddfullywithin",
    }
)  # fmt: skip
#: Bounding-box operators of the PostGIS GiST operator classes.
INDEX_OPERATORS = frozenset(
    {"&&", "&&&", "~", "@", "~=", "<<", ">>", "&<", "&>", "<<|", "|>>", "&<|", "|&>"}
)
#: Distance functions that ``ST_DWithin`` replaces in a WHERE clause.
DISTANCE_FUNCTIONS = frozenset(
    {
        "st_distance", "st_distancesphere", "st_distancespheroid", "st_distance_sphere",
        "st_distance_spheroid", "st_3ddistance",
    }
)  # fmt: skip
_KNN_OPERATORS = frozenset({"<->", "<#>", "<<->>", "<<#>>", "|=|"})
_CLOSER = {("left", "<"), ("left", "<="), ("right", ">"), ("right", ">=")}
_BETWEEN = {
    A_Expr_Kind.AEXPR_BETWEEN,
    A_Expr_Kind.AEXPR_NOT_BETWEEN,
    A_Expr_Kind.AEXPR_BETWEEN_SYM,
    A_Expr_Kind.AEXPR_NOT_BETWEEN_SYM,
}
_PREFILTER_HINT = "{col} && ST_Expand(<point>, dlon, dlat), as pgspatial.within_distance does"


def index_predicate_arguments(node: object) -> tuple[Node, Node] | None:
    """The two geometry operands of an index-usable spatial predicate, else None."""
    if isinstance(node, FuncCall) and function_name(node) in INDEX_FUNCTIONS:
        args = node.args or ()
        return (args[0], args[1]) if len(args) >= 2 else None
    if (
        operator_name(node) in INDEX_OPERATORS
        and isinstance(node, A_Expr)
        and isinstance(node.lexpr, Node)
        and isinstance(node.rexpr, Node)
    ):
        return node.lexpr, node.rexpr
    return None


def _is_distance(node: object) -> bool:
    return function_name(strip_casts(node)) in DISTANCE_FUNCTIONS


def distance_in_where(scope: Scope, catalog: Catalog | None) -> Iterator[Finding]:
    """``ST_DISTANCE_IN_WHERE``: a distance compared with a limit, row by row."""
    for root in scope.predicate_roots():
        for node in own_nodes(root):
            if not isinstance(node, A_Expr):
                continue
            op = operator_name(node)
            side = (
                "left" if _is_distance(node.lexpr) else "right" if _is_distance(node.rexpr) else ""
            )
            if node.kind in _BETWEEN and side == "left":
                todo = (
                    "write ST_DWithin(a, b, <upper>) AND NOT ST_DWithin(a, b, <lower>): the "
                    "first one uses the GiST index"
                )
            elif op in {"<", "<=", ">", ">="} and side:
                if (side, op) in _CLOSER:
                    todo = (
                        "write ST_DWithin(a, b, <limit>) instead (same units as ST_Distance; "
                        "for metres on geometry(4326) use pgspatial.within_distance(column, "
                        "point, metres)), which uses the GiST index"
                    )
                else:
                    todo = (
                        "write NOT ST_DWithin(a, b, <limit>) and combine it with an "
                        "index-usable condition (a bounding box, or ST_DWithin with an outer "
                        "radius) so that the index still limits the rows read"
                    )
            else:
                continue
            message = (
                f"{display(node, 70)} computes the distance for every row, so no index can "
                f"serve it; {todo}."
            )
            yield finding("ST_DISTANCE_IN_WHERE", "warning", message, node)


def _same_column(a: ColumnName, b: ColumnName) -> bool:
    return a[1] == b[1] and (a[0] == b[0] or a[0] is None or b[0] is None)


def _restricted_columns(condition: Node, predicate: Node, scope: Scope) -> list[ColumnName]:
    """The bare columns that ``condition`` restricts index-usably (a BitmapOr counts)."""
    if condition is predicate:
        return []
    if isinstance(condition, BoolExpr) and condition.boolop == BoolExprType.OR_EXPR:
        arms = [_restricted_columns(arm, predicate, scope) for arm in condition.args or ()]
        first, *others = arms or [[]]
        return [c for c in first if all(any(_same_column(c, o) for o in other) for other in others)]
    if isinstance(condition, BoolExpr) and condition.boolop == BoolExprType.AND_EXPR:
        return [
            c for arg in condition.args or () for c in _restricted_columns(arg, predicate, scope)
        ]
    names = [column_name(a) for a in index_predicate_arguments(condition) or ()]
    return [n for n in names if n is not None and scope.is_local(n)]


def _prefiltered(
    column: ColumnName, predicate: Node, context: tuple[Node, ...], scope: Scope
) -> bool:
    """Whether another condition of the same AND tests the bare ``column`` index-usably:
    ``col && box``, ``ST_Intersects(col, g)``, or an OR of such tests (pgspatial.nearest's
    boxes either side of the antimeridian)."""
    return any(
        _same_column(name, column)
        for condition in context
        for name in _restricted_columns(condition, predicate, scope)
    )


def _column_text(name: ColumnName) -> str:
    return f"{name[0]}.{name[1]}" if name[0] else name[1]


def _wrapped_message(
    predicate: Node,
    argument: Node,
    name: ColumnName,
    *,
    typmod_match: IndexInfo | None,
    invalid: IndexInfo | None,
    catalog_known: bool,
) -> str:
    col, bare = _column_text(name), name[1]
    function = function_name(predicate)
    where = f"{function}(...)" if function else f"the {operator_name(predicate)} test"
    target = cast_type(argument) or "geography"
    prefilter = _PREFILTER_HINT.format(col=col)
    if invalid is not None:
        return (
            f"{display(argument)} matches the expression index {invalid.name}, but that index "
            "is INVALID (a failed or cancelled concurrent build), so PostgreSQL reads every "
            f"row; rebuild it: REINDEX INDEX CONCURRENTLY {invalid.name}."
        )
    if has_typmods(argument):
        if typmod_match is not None:
            return (
                f"{display(argument)} does not match the expression index {typmod_match.name} "
                f"on ({typmod_match.first_expression}): a cast with a type modifier is a "
                "different expression to PostgreSQL (errata 16), so every row is read. Cast "
                f"without the modifier, {col}::geography, as pgspatial.geography_of() renders it."
            )
        return (
            f"{display(argument)} in {where}: a cast with a type modifier (GeoAlchemy2's "
            f"cast(col, Geography(srid=4326))) hides {col} from its GiST index and never matches "
            f"a (({bare})::{target}) expression index (errata 16). Cast without the modifier "
            f"({col}::{target}; pgspatial.geography_of(col)) with a matching index "
            "(spatial_column(..., geodesic_index=True)), or add an index prefilter on the bare "
            f"column in the same AND: {prefilter}."
        )
    missing = " The catalog has no index on that expression." if catalog_known else ""
    geodesic = " (spatial_column(..., geodesic_index=True))" if target == "geography" else ""
    if isinstance(argument, TypeCast):
        return (
            f"{where} reads {col} through {display(argument)}, which hides it from the GiST "
            f"index on {bare} (errata 1: a sequential scan). Add an index prefilter on the bare "
            f"column in the same AND ({prefilter}), or create the matching expression index "
            f"USING gist ((({bare})::{target})){geodesic}.{missing}"
        )
    return (
        f"{where} reads {col} through {display(argument, 80)}, which hides it from the GiST "
        f"index on {bare}. Move the function to the other operand (e.g. ST_Intersects({col}, "
        f"ST_Transform(<geometry>, <SRID of {bare}>)), or ST_DWithin({col}, <geometry>, r) "
        f"instead of ST_Intersects(ST_Buffer({col}, r), <geometry>)), add an index prefilter on "
        f"the bare column in the same AND, or index exactly that expression.{missing}"
    )


def _check_predicate(
    predicate: Node,
    arguments: tuple[Node, Node],
    context: tuple[Node, ...],
    scope: Scope,
    catalog: Catalog | None,
) -> Finding | None:
    if any((n := column_name(a)) is not None and scope.is_local(n) for a in arguments):
        return None  # one operand is a bare column: the index serves it
    wrapped = [(a, scope.local_columns(a)) for a in arguments if scope.local_columns(a)]
    if not wrapped:
        return None  # constants on both sides
    invalid: IndexInfo | None = None
    typmod_match: IndexInfo | None = None
    catalog_known = False
    for argument, columns in wrapped:
        for reference, name in columns:
            if _prefiltered(name, predicate, context, scope):
                return None
            info = column_info(reference, scope, catalog)
            if info is None:
                continue
            catalog_known = True
            matches = matching_indexes(argument, info[0])
            if any(index.is_valid for index in matches):
                return None
            invalid = invalid or next(iter(matches), None)
            if has_typmods(argument):
                loose = matching_indexes(argument, info[0], typmods=False)
                typmod_match = typmod_match or next((i for i in loose if i.is_valid), None)
    argument, columns = wrapped[0]
    message = _wrapped_message(
        predicate,
        argument,
        columns[0][1],
        typmod_match=typmod_match,
        invalid=invalid,
        catalog_known=catalog_known,
    )
    return finding("FUNCTION_ON_INDEXED_COLUMN", "warning", message, predicate)


def function_on_indexed_column(scope: Scope, catalog: Catalog | None) -> Iterator[Finding]:
    """``FUNCTION_ON_INDEXED_COLUMN``: a wrapped column in an index-usable predicate."""
    for root in scope.predicate_roots():
        for leaf, context in conjunction_contexts(root):
            for node in own_nodes(leaf):
                arguments = index_predicate_arguments(node)
                if arguments is None:
                    continue
                found = _check_predicate(node, arguments, (*context, leaf), scope, catalog)
                if found is not None:
                    yield found


def _sort_expressions(statement: SelectStmt) -> Iterator[Node]:
    """ORDER BY expressions, with output-column names resolved to their expressions."""
    targets = {
        str(t.name): t.val
        for t in statement.targetList or ()
        if isinstance(t, ResTarget) and t.name
    }
    for sort in statement.sortClause or ():
        node = sort.node
        name = column_name(node)
        if name is not None and name[0] is None and name[1] in targets:
            node = targets[name[1]]
        if isinstance(node, Node):
            yield node


def _reranked(scope: Scope) -> bool:
    """Whether an enclosing level re-orders by a real distance (pgspatial.nearest's shape)."""
    for outer in scope.ancestors():
        sort = getattr(outer.statement, "sortClause", None)
        if sort and any(function_name(n) in DISTANCE_FUNCTIONS for n in own_nodes(sort)):
            return True
    return False


def knn_ordering(scope: Scope, catalog: Catalog | None) -> Iterator[Finding]:
    """``KNN_NON_CONSTANT`` and ``KNN_PLANAR_DEGREES`` on this level's ORDER BY."""
    if not isinstance(scope.statement, SelectStmt):
        return
    for node in _sort_expressions(scope.statement):
        if operator_name(node) not in _KNN_OPERATORS or not isinstance(node, A_Expr):
            continue
        left, right = node.lexpr, node.rexpr
        if not scope.is_constant(left) and not scope.is_constant(right):
            yield finding(
                "KNN_NON_CONSTANT",
                "warning",
                f"ORDER BY {display(node, 80)}: both operands read columns of this query, so "
                "no index can return rows in distance order; every pair is computed and sorted. "
                "Put a constant (a literal or parameter point) on one side; for the nearest "
                "neighbours of each row use a LATERAL subquery: CROSS JOIN LATERAL (SELECT ... "
                "FROM b ORDER BY b.geom <-> a.geom LIMIT k).",
                node,
            )
            continue
        column = left if not scope.is_constant(left) else right
        info = column_info(column, scope, catalog) if isinstance(column, ColumnRef) else None
        if operator_name(node) != "<->" or info is None or _reranked(scope):
            continue
        table, spatial = info
        if spatial.kind == "geometry" and spatial.srid == 4326:
            yield finding(
                "KNN_PLANAR_DEGREES",
                "warning",
                f"ORDER BY {display(node, 80)} on {table.name}.{spatial.name} (geometry, "
                "EPSG:4326) orders by planar degrees, not by distance on the ground: away from "
                "the equator a degree of longitude is shorter than one of latitude, so the "
                "top-k differs from the true nearest (errata 2). Use pgspatial.nearest(stmt, "
                "column, point, k=...), which re-ranks index-ordered candidates by spheroid "
                "distance, or re-rank candidates by ST_Distance(a::geography, b::geography, "
                "true).",
                node,
            )
