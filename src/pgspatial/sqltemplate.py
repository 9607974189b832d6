"""``SqlTemplate``: a fixed piece of SQL over a few named sub-expressions, as one element.

A formula written with ``func.*`` and operators is dozens of SQLAlchemy elements, and each
one is coerced when the statement is built and visited again for its cache key, on every
call. ``nearest()`` took 1.57 ms to build (its window alone was ~160 coerced elements),
more than the database took to run it; with its window as templates it takes 0.98 ms, and
its SQL for a projected column shrank from 42 kB (the box formula repeated in every
``ST_XMax``) to 4.6 kB. A template is one element; its cache key is its text plus its
parts', so SQLAlchemy's compiled cache and psycopg's prepared statements still apply.
The text is pgspatial's own (never user input); values that vary per call are parts
(bound parameters), and constants are written into the text as ``::float8``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType, TypeEngine

__all__ = ["SqlTemplate", "constant", "string_literal"]


class SqlTemplate(ColumnElement[Any]):
    """``template`` (``str.format`` fields named after ``parts``) with its parts compiled in."""

    __visit_name__ = "pgspatial_sql_template"
    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's declaration, not mutable state
        ("template", InternalTraversal.dp_string),
        ("names", InternalTraversal.dp_string_list),
        ("parts", InternalTraversal.dp_clauseelement_tuple),
    ]

    def __init__(
        self, template: str, type_: TypeEngine[Any] | None = None, **parts: ColumnElement[Any]
    ) -> None:
        self.template = template
        self.names = tuple(parts)
        self.parts = tuple(parts.values())
        self.type = type_ if type_ is not None else NullType()

    @property
    def _from_objects(self) -> list[Any]:
        return [f for part in self.parts for f in part._from_objects]


@compiles(SqlTemplate)
def _compile_template(element: SqlTemplate, compiler: SQLCompiler, **kw: Any) -> str:
    rendered = {
        name: compiler.process(part, **kw)
        for name, part in zip(element.names, element.parts, strict=True)
    }
    # '%' doubled for pyformat drivers, as SQLAlchemy does for text(); parts come compiled.
    text: str = compiler.post_process_text(element.template)  # type: ignore[no-untyped-call]
    return "(" + text.format(**rendered) + ")"


def string_literal(value: str) -> str:
    """``value`` as an SQL string constant in a template, escaped whatever
    ``standard_conforming_strings`` says (an ``E''`` string), braces doubled for
    ``str.format``."""
    escaped = value.replace("\\", "\\\\").replace("'", "''")
    return ("E'" + escaped + "'").replace("{", "{{").replace("}", "}}")


def constant(value: float) -> str:
    """A float written into SQL text exactly (``repr`` round-trips), typed float8."""
    return f"{value!r}::float8"
