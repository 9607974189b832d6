"""Which columns a load sends, how their values are checked, and the refusals made up front.

Everything that can be known before the first row is sent is checked here, so a load that
cannot work fails at once with the reason instead of after minutes of COPY: unknown or
generated columns, required columns the rows do not have. Per batch, integer values are
range-checked, because psycopg's binary dumpers silently wrap an out-of-range ``int`` into
an ``int4`` column (measured: 2**40 + 5 arrives as 5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pgspatial.bulk.report import OnInvalid
from pgspatial.bulk.target import LoadTarget, TargetColumn, quote_ident
from pgspatial.bulk.vectorized import GeometryRule
from pgspatial.errors import ConfigError

__all__ = ["BYTEA_OID", "LoadPlan", "int_range_problems", "plan_load"]

BYTEA_OID = 17
"""Geometries travel as ``bytea``: geometry_recv/geography_recv read EWKB (errata 9)."""

_INT_RANGES = {
    21: ("smallint", -(2**15), 2**15 - 1),
    23: ("integer", -(2**31), 2**31 - 1),
    20: ("bigint", -(2**63), 2**63 - 1),
}


@dataclass(frozen=True)
class LoadPlan:
    """The COPY column list, each column's send type, and the spatial columns' rules."""

    target: LoadTarget
    columns: tuple[TargetColumn, ...]
    rules: Mapping[int, GeometryRule]

    @property
    def send_oids(self) -> list[int]:
        """The types for ``copy.set_types``: geometries as bytea, the rest as themselves."""
        return [BYTEA_OID if c.spatial is not None else c.send_oid for c in self.columns]

    def copy_sql(self) -> str:
        """``COPY "schema"."table" ("a", "b") FROM STDIN (FORMAT BINARY)``."""
        names = ", ".join(quote_ident(c.name) for c in self.columns)
        return f"COPY {self.target.sql_name} ({names}) FROM STDIN (FORMAT BINARY)"


def plan_load(
    target: LoadTarget,
    names: Sequence[str],
    *,
    on_invalid: OnInvalid,
    transform: bool,
    promote_to_multi: bool,
    aliases: Mapping[str, str] | None = None,
) -> LoadPlan:
    """Plan a COPY of ``names`` (row keys, or a mapped class's attribute names) into ``target``.

    Raises ConfigError for names that are not columns, generated columns, and NOT NULL
    columns without a default that the rows do not provide.
    """
    aliases = aliases or {}
    resolved = [aliases.get(name, name) for name in names]
    unknown = [n for n, r in zip(names, resolved, strict=True) if r not in target.columns]
    if unknown:
        raise ConfigError(
            f"{target.qualified_name} has no column {', '.join(map(repr, unknown))}; its "
            f"columns are {', '.join(target.columns)}. Rename the keys of the rows, or add "
            "the columns to the table."
        )
    if len(set(resolved)) != len(resolved):
        raise ConfigError(f"the rows name a column twice (keys {list(names)!r}).")
    columns = tuple(target.columns[name] for name in resolved)
    generated = [c.name for c in columns if c.generated]
    if generated:
        raise ConfigError(
            f"{target.qualified_name}: {', '.join(generated)} is a generated column, which "
            "cannot be written; drop it from the rows."
        )
    missing = [
        c.name
        for c in target.columns.values()
        if c.not_null and not c.has_default and c.name not in resolved
    ]
    if missing:
        raise ConfigError(
            f"{target.qualified_name}: the rows lack {', '.join(missing)}, which is NOT NULL "
            "and has no default; add it to every row."
        )
    rules = {
        index: GeometryRule(
            column=column.name,
            label=f"{target.name}.{column.name}",
            spec=column.spatial,
            nullable=not column.not_null,
            make_valid=on_invalid == "repair",
            transform=transform,
            promote=promote_to_multi,
        )
        for index, column in enumerate(columns)
        if column.spatial is not None
    }
    return LoadPlan(target=target, columns=columns, rules=rules)


def int_range_problems(column: TargetColumn, values: Sequence[Any]) -> dict[int, str]:
    """Rows whose integer value does not fit ``column`` (an int2/int4/int8), with reasons."""
    bounds = _INT_RANGES.get(column.send_oid)
    if bounds is None:
        return {}
    type_name, low, high = bounds
    present = [v for v in values if v is not None]
    try:
        if not present or (low <= min(present) and max(present) <= high):
            return {}
    except TypeError:
        return {}  # not all numbers: psycopg's dumper names the value that is not one
    return {
        i: f"{column.name}: {v} is out of range for {type_name} ({low}..{high})."
        for i, v in enumerate(values)
        if isinstance(v, int) and not low <= v <= high
    }
