"""Reading pglast's parse trees: names, columns, scopes, conjunctions and display text.

The lint rules ask the same questions of every statement: which function or operator is
this, which columns does an expression read and do they belong to this query level (an
outer column is a constant per execution, as in a LATERAL nearest-neighbour join), which
conditions hold together with a predicate (the conjunction it sits in), and how to show an
expression to a person. Those answers live here, free of any rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pglast.ast import (
    A_Const,
    A_Expr,
    BoolExpr,
    ColumnRef,
    DeleteStmt,
    FuncCall,
    InsertStmt,
    JoinExpr,
    MergeStmt,
    Node,
    ParamRef,
    RangeFunction,
    RangeSubselect,
    RangeVar,
    SelectStmt,
    SubLink,
    TypeCast,
    UpdateStmt,
)
from pglast.enums import A_Expr_Kind, BoolExprType, SetOperation
from pglast.stream import RawStream

__all__ = [
    "ColumnName",
    "Scope",
    "cast_type",
    "column_name",
    "conjunction_contexts",
    "display",
    "function_name",
    "has_typmods",
    "location",
    "operator_name",
    "own_nodes",
    "scopes",
    "strip_casts",
]

_STATEMENTS = (SelectStmt, InsertStmt, UpdateStmt, DeleteStmt, MergeStmt)

ColumnName = tuple[str | None, str]
"""A column reference as ``(qualifier, name)``; the qualifier is None when unqualified."""


def function_name(node: object) -> str | None:
    """The lower-case, unqualified name of a function call, else None."""
    if isinstance(node, FuncCall) and node.funcname:
        return str(node.funcname[-1].sval).lower()
    return None


def operator_name(node: object) -> str | None:
    """The operator of a binary/unary operator expression (``&&``, ``<->``, ``<``), else None."""
    if isinstance(node, A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP and node.name:
        return str(node.name[-1].sval)
    return None


def column_name(node: object) -> ColumnName | None:
    """``(qualifier, name)`` of a plain column reference, else None (``*`` included)."""
    if not isinstance(node, ColumnRef) or not node.fields:
        return None
    names = [getattr(f, "sval", None) for f in node.fields]
    if any(n is None for n in names):
        return None
    qualifier = names[-2] if len(names) >= 2 else None
    return qualifier, str(names[-1])


def cast_type(node: object) -> str | None:
    """The unqualified, lower-case target type of a cast (``geography``), else None."""
    if isinstance(node, TypeCast) and node.typeName is not None and node.typeName.names:
        return str(node.typeName.names[-1].sval).lower()
    return None


def has_typmods(node: object) -> bool:
    """Whether a cast carries a type modifier, as ``CAST(x AS geography(GEOMETRY,4326))``."""
    return isinstance(node, TypeCast) and bool(node.typeName and node.typeName.typmods)


def strip_casts(node: Any) -> Any:
    """The expression under any number of casts."""
    while isinstance(node, TypeCast):
        node = node.arg
    return node


def own_nodes(node: object) -> Iterator[Node]:
    """Nodes of ``node``'s own query level: nested statements (sub-queries) are not entered."""
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Node):
            yield item
            if isinstance(item, _STATEMENTS) and item is not node:
                continue
            stack.extend(reversed([getattr(item, name) for name in item]))
        elif isinstance(item, tuple | list):
            stack.extend(reversed(item))


def location(node: Node) -> int | None:
    """The earliest source offset recorded in ``node``'s own expression."""
    found = [
        offset
        for n in own_nodes(node)
        if isinstance(offset := getattr(n, "location", None), int) and offset >= 0
    ]
    return min(found) if found else None


@dataclass
class Scope:
    """One query level (SELECT, UPDATE, DELETE): the relations it reads and its parent."""

    statement: Node
    parent: Scope | None = None
    relations: dict[str, RangeVar] = field(default_factory=dict)
    """Visible name (alias, else table name) -> the table it names."""
    local_names: set[str] = field(default_factory=set)
    """Every name visible at this level: tables, sub-query and function aliases."""

    def resolve(self, qualifier: str) -> RangeVar | None:
        """The table a qualifier names, looking outwards through enclosing levels."""
        scope: Scope | None = self
        while scope is not None:
            if qualifier in scope.relations:
                return scope.relations[qualifier]
            if qualifier in scope.local_names:
                return None  # a sub-query or function alias
            scope = scope.parent
        return None

    def is_local(self, column: ColumnName) -> bool:
        """Whether a column belongs to this level (an unqualified one is assumed to)."""
        qualifier = column[0]
        return qualifier is None or qualifier in self.local_names

    def local_columns(self, node: object) -> list[tuple[ColumnRef, ColumnName]]:
        """The column references of this level inside ``node`` (sub-queries excluded)."""
        found = []
        for item in own_nodes(node):
            name = column_name(item)
            if name is not None and isinstance(item, ColumnRef) and self.is_local(name):
                found.append((item, name))
        return found

    def is_constant(self, node: object) -> bool:
        """Whether ``node`` reads no column of this level (constants, parameters, outer
        columns and sub-queries are fixed while this level runs)."""
        return not self.local_columns(node)

    def ancestors(self) -> Iterator[Scope]:
        """The enclosing query levels, innermost first."""
        scope = self.parent
        while scope is not None:
            yield scope
            scope = scope.parent

    def predicate_roots(self) -> list[Node]:
        """The WHERE, JOIN ... ON, HAVING (and MERGE ... ON) expressions of this level."""
        statement = self.statement
        roots = [
            getattr(statement, name, None)
            for name in ("whereClause", "havingClause", "joinCondition")
        ]
        for item in own_nodes(getattr(statement, "fromClause", None) or ()):
            if isinstance(item, JoinExpr):
                roots.append(item.quals)
        return [root for root in roots if isinstance(root, Node)]


def _add_from_item(scope: Scope, item: object) -> None:
    if isinstance(item, RangeVar) and item.relname:
        name = item.alias.aliasname if item.alias is not None else item.relname
        scope.relations[str(name)] = item
        scope.local_names.add(str(name))
    elif isinstance(item, RangeSubselect | RangeFunction) and item.alias is not None:
        scope.local_names.add(str(item.alias.aliasname))
    elif isinstance(item, JoinExpr):
        _add_from_item(scope, item.larg)
        _add_from_item(scope, item.rarg)
        if item.alias is not None:
            scope.local_names.add(str(item.alias.aliasname))


def _scope_for(statement: Node, parent: Scope | None) -> Scope:
    scope = Scope(statement=statement, parent=parent)
    for attribute in ("relation", "sourceRelation"):  # UPDATE/DELETE/MERGE targets
        _add_from_item(scope, getattr(statement, attribute, None))
    extra = "usingClause" if isinstance(statement, DeleteStmt) else "fromClause"
    for item in getattr(statement, extra, None) or ():
        _add_from_item(scope, item)
    return scope


def scopes(statement: Node) -> list[Scope]:
    """Every query level in ``statement``, outermost first (CTEs and sub-queries included).

    The parts of a UNION are levels of their own; an INSERT is not a level (its target is
    not readable by its SELECT), but the statements inside it are.
    """
    found: list[Scope] = []

    def visit(node: Node, parent: Scope | None) -> None:
        if isinstance(node, SelectStmt) and node.op != SetOperation.SETOP_NONE:
            for part in (node.larg, node.rarg):
                if part is not None:
                    visit(part, parent)
            nested: object = node.withClause
            scope = parent
        elif isinstance(node, InsertStmt):
            nested, scope = [node.withClause, node.selectStmt], parent
        else:
            nested = node
            scope = _scope_for(node, parent)
            found.append(scope)
        for child in own_nodes(nested):
            if child is not node and isinstance(child, _STATEMENTS):
                visit(child, scope)

    visit(statement, None)
    return found


def _conjuncts(node: Node) -> list[Node]:
    if isinstance(node, BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
        return [c for arg in node.args or () for c in _conjuncts(arg)]
    return [node]


def conjunction_contexts(root: Node) -> list[tuple[Node, tuple[Node, ...]]]:
    """Each leaf condition of ``root`` with the conditions that hold together with it.

    ``A AND (B OR (C AND D))`` gives A, B, C and D; C's context is (A, C, D), B's is
    (A, B): the arms of an OR do not support each other.
    """
    found: list[tuple[Node, tuple[Node, ...]]] = []

    def visit(node: Node, context: tuple[Node, ...]) -> None:
        if isinstance(node, BoolExpr) and node.boolop == BoolExprType.AND_EXPR:
            parts = _conjuncts(node)
            for part in parts:
                visit(part, (*context, *parts))
        elif isinstance(node, BoolExpr):
            for arg in node.args or ():
                visit(arg, context)
        else:
            found.append((node, context))

    visit(root, ())
    return found


def display(node: object, limit: int = 160) -> str:
    """``node`` as SQL for messages: casts as written (``geom::geography``), a cast with a
    type modifier as ``CAST(... AS geography(geometry,4326))``; long text is shortened."""
    rendered = _display(node)
    return rendered if len(rendered) <= limit else rendered[: limit - 1] + "…"


def _display(node: object) -> str:  # noqa: PLR0911 - one return per node kind
    if isinstance(node, ColumnRef) and (name := column_name(node)) is not None:
        return f"{name[0]}.{name[1]}" if name[0] else name[1]
    if isinstance(node, TypeCast) and node.typeName is not None:
        type_name = ".".join(str(n.sval) for n in node.typeName.names or ())
        if has_typmods(node):
            mods = ",".join(_display(m) for m in node.typeName.typmods or ())
            return f"CAST({_display(node.arg)} AS {type_name}({mods}))"
        inner = _display(node.arg)
        simple = isinstance(node.arg, ColumnRef | FuncCall | A_Const | ParamRef | TypeCast)
        return f"{inner if simple else '(' + inner + ')'}::{type_name}"
    if isinstance(node, FuncCall) and not node.agg_star and not node.over:
        args = ", ".join(_display(a) for a in node.args or ())
        return f"{function_name(node)}({args})"
    if isinstance(node, A_Expr) and (op := operator_name(node)) is not None and node.lexpr:
        return f"{_display(node.lexpr)} {op} {_display(node.rexpr)}"
    if isinstance(node, SubLink):
        return "(SELECT …)"
    if isinstance(node, Node):
        try:
            return str(RawStream()(node))
        except Exception:  # a node pglast cannot print is shown by its type
            return f"<{type(node).__name__}>"
    return str(node)
