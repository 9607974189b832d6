"""The catalog's value types: spatial relations, their columns, indexes and constraints.

Plain frozen dataclasses, comparable and hashable, with the lookups the doctor,
``verify_schema`` and the features service share; :mod:`pgspatial.catalog` loads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS

__all__ = [
    "CONSTRAINT_KINDS",
    "RELATION_KINDS",
    "SPATIAL_INDEX_METHODS",
    "AttributeInfo",
    "ConstraintInfo",
    "ConstraintKind",
    "IndexInfo",
    "RelationKind",
    "SpatialColumnInfo",
    "SpatialTable",
    "qualify",
    "referenced_names",
    "strip_outer_parens",
]

RelationKind: TypeAlias = Literal[
    "table", "view", "materialized_view", "partitioned_table", "foreign_table"
]
ConstraintKind: TypeAlias = Literal["check", "primary", "unique", "foreign", "exclusion"]

#: Index access methods that can answer spatial predicates on geometry/geography.
SPATIAL_INDEX_METHODS = frozenset({"gist", "spgist", "brin"})

#: ``pg_class.relkind`` of each relation kind the catalog lists.
RELATION_KINDS: Mapping[str, RelationKind] = {
    "r": "table",
    "v": "view",
    "m": "materialized_view",
    "p": "partitioned_table",
    "f": "foreign_table",
}
#: ``pg_constraint.contype`` of each constraint kind the catalog lists.
CONSTRAINT_KINDS: Mapping[str, ConstraintKind] = {
    "c": "check",
    "p": "primary",
    "u": "unique",
    "f": "foreign",
    "x": "exclusion",
}

# Column references in an expression as PostgreSQL deparses it. String literals are matched
# first so that their contents are skipped; a bare name is lower-case (PostgreSQL quotes any
# other), is not the middle of a token, part of a qualified name or a type after "::", nor a
# function name (followed by "(").
_REFERENCE = re.compile(
    r"""
      '(?:[^']|'')*'
    | "(?P<quoted>(?:[^"]|"")*)"
    | (?<![\w$.:]) (?P<bare>[a-z_][a-z0-9_$]*) (?![\w$.]|\s*\()
    """,
    re.VERBOSE,
)
_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


def _quote(identifier: str) -> str:
    """``identifier`` double-quoted when PostgreSQL needs it (case, characters, keywords)."""
    if _PLAIN_IDENTIFIER.fullmatch(identifier) and identifier not in RESERVED_WORDS:
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def qualify(schema: str, name: str) -> str:
    """``schema.name`` with each part double-quoted only when PostgreSQL needs it."""
    return f"{_quote(schema)}.{_quote(name)}"


def _quoted_forms(column: str) -> tuple[str, str]:
    """How a deparsed expression can spell ``column``: bare, or double-quoted."""
    return column, '"' + column.replace('"', '""') + '"'


def strip_outer_parens(expression: str) -> str:
    """``((geom)::geography)`` -> ``(geom)::geography``; other expressions are unchanged."""
    if not (expression.startswith("(") and expression.endswith(")")):
        return expression
    depth, quote = 0, ""
    for position, char in enumerate(expression):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0 and position != len(expression) - 1:
                return expression
    return expression[1:-1]


def referenced_names(expression: str) -> tuple[str, ...]:
    """The column-like names in a deparsed ``expression`` (not functions, types or strings)."""
    names: dict[str, None] = {}
    for match in _REFERENCE.finditer(expression):
        quoted, bare = match.group("quoted"), match.group("bare")
        if bare is not None:
            names[bare] = None
        elif quoted is not None:
            names[quoted.replace('""', '"')] = None
    return tuple(names)


@dataclass(frozen=True)
class SpatialColumnInfo:
    """A geometry or geography column as its type modifier declares it."""

    name: str
    kind: Literal["geometry", "geography"]
    geometry_type: str
    """Upper-case, with the typmod's Z/M suffix (``POINT``, ``POINTZ``); ``GEOMETRY`` if generic."""
    srid: int
    """The typmod SRID; 0 when unconstrained (geography(Point) is 4326, as PostGIS sets it)."""
    dimension: int
    """Coordinate dimension: 2, 3 (Z or M) or 4 (ZM)."""
    nullable: bool

    @property
    def base_type(self) -> str:
        """The geometry type without its Z/M suffix, e.g. ``POINT`` for ``POINTZ``."""
        return re.sub(r"(ZM|Z|M)$", "", self.geometry_type) or self.geometry_type

    @property
    def has_z(self) -> bool:
        """Whether coordinates carry a Z value."""
        return self.geometry_type.endswith(("Z", "ZM"))

    @property
    def has_m(self) -> bool:
        """Whether coordinates carry an M value."""
        return self.geometry_type.endswith("M")

    @property
    def is_generic(self) -> bool:
        """Whether the column accepts any geometry type (plain ``geometry``/``geography``)."""
        return self.base_type == "GEOMETRY"


@dataclass(frozen=True)
class AttributeInfo:
    """A non-spatial column."""

    name: str
    data_type: str
    """The type as ``format_type()`` spells it, e.g. ``character varying(50)``."""
    nullable: bool


@dataclass(frozen=True)
class IndexInfo:
    """An index of a spatial relation (partitioned indexes included)."""

    name: str
    method: str
    """Access method: ``gist``, ``spgist``, ``brin``, ``btree``, ..."""
    columns: tuple[str, ...]
    """Plain key columns in key order; expression keys are left out (see ``expressions``)."""
    expressions: tuple[str, ...]
    """Each expression key as ``pg_get_indexdef`` deparses it, e.g. ``(geom)::geography``."""
    predicate: str | None
    """The partial index's WHERE clause, or None."""
    is_valid: bool
    is_unique: bool
    is_primary: bool
    size_bytes: int
    definition: str
    """The full ``CREATE INDEX`` statement (``pg_get_indexdef``)."""
    key_columns: tuple[str | None, ...] = ()
    """One entry per key in order: the column name, or None for an expression key."""
    first_key_columns: tuple[str, ...] = ()
    """The columns the first key reads: the column itself, or those its expression reads."""

    def __post_init__(self) -> None:
        # Built by hand (tests, fakes) without the key order: plain columns first, then the
        # expressions; without pg_depend, an expression reads the columns it names.
        if not self.key_columns and (self.columns or self.expressions):
            keys = (*self.columns, *(None for _ in self.expressions))
            object.__setattr__(self, "key_columns", keys)
        if not self.first_key_columns and self.key_columns:
            first = self.key_columns[0]
            if first is not None:
                object.__setattr__(self, "first_key_columns", (first,))
            elif self.expressions:
                names = referenced_names(self.expressions[0])
                object.__setattr__(self, "first_key_columns", names)

    @property
    def first_expression(self) -> str | None:
        """The first key's expression, or None when the first key is a plain column."""
        if self.key_columns and self.key_columns[0] is None and self.expressions:
            return self.expressions[0]
        return None

    def covers(self, column: str) -> bool:
        """Whether the first key is the plain column ``column``."""
        return bool(self.key_columns) and self.key_columns[0] == column

    def is_geography_expression_on(self, column: str) -> bool:
        """Whether the first key is the expression ``(column)::geography``."""
        expression = self.first_expression
        return expression is not None and expression in {
            f"({form})::geography" for form in _quoted_forms(column)
        }


@dataclass(frozen=True)
class ConstraintInfo:
    """A CHECK, PRIMARY KEY, UNIQUE, FOREIGN KEY or EXCLUDE constraint."""

    name: str
    kind: ConstraintKind
    definition: str
    """As ``pg_get_constraintdef`` gives it, e.g. ``CHECK (st_isvalid(geom)) NOT VALID``."""
    columns: tuple[str, ...]
    """The constrained table's own columns (a CHECK's: those it reads)."""
    validated: bool
    """False for a constraint added ``NOT VALID`` and not validated since."""


@dataclass(frozen=True)
class SpatialTable:
    """A table, view, materialized view, partitioned or foreign table with a spatial column."""

    schema: str
    name: str
    kind: RelationKind
    columns: tuple[SpatialColumnInfo, ...]
    attributes: tuple[AttributeInfo, ...]
    """The non-spatial columns, in column order."""
    primary_key: tuple[str, ...]
    indexes: tuple[IndexInfo, ...]
    constraints: tuple[ConstraintInfo, ...]
    estimated_rows: int
    """``pg_class.reltuples``: -1 when never analyzed (views are always -1)."""
    size_bytes: int
    """On-disk size without indexes; a partitioned table's is that of its leaf partitions."""
    readable: bool
    """Whether the current role may SELECT from it (schema USAGE and table SELECT)."""
    is_partition: bool

    @property
    def qualified_name(self) -> str:
        """``schema.name``, each part double-quoted only when PostgreSQL needs it."""
        return qualify(self.schema, self.name)

    def column(self, name: str) -> SpatialColumnInfo:
        """The spatial column ``name``; KeyError says which spatial columns exist."""
        for column in self.columns:
            if column.name == name:
                return column
        spatial = ", ".join(c.name for c in self.columns)
        attribute = next((a for a in self.attributes if a.name == name), None)
        if attribute is not None:
            reason = f"is a {attribute.data_type} column, not a geometry/geography one"
        else:
            reason = "does not exist"
        raise KeyError(
            f"{name!r} {reason} in {self.qualified_name}; its spatial columns are: {spatial}"
        )

    def indexes_on(self, column: str) -> tuple[IndexInfo, ...]:
        """Indexes whose first key is ``column`` or an expression over it."""
        return tuple(index for index in self.indexes if column in index.first_key_columns)

    def spatial_indexes_on(self, column: str) -> tuple[IndexInfo, ...]:
        """The GiST, SP-GiST and BRIN indexes among :meth:`indexes_on` (valid or not)."""
        return tuple(i for i in self.indexes_on(column) if i.method in SPATIAL_INDEX_METHODS)

    def checks_on(self, column: str) -> tuple[ConstraintInfo, ...]:
        """The CHECK constraints that read ``column``."""
        return tuple(c for c in self.constraints if c.kind == "check" and column in c.columns)
