"""The plan model: PostgreSQL's ``EXPLAIN (FORMAT JSON)`` as frozen dataclasses.

A :class:`Plan` answers the questions a spatial query raises: does it use an index (which
one), which tables does it read sequentially and how big are they, and what one sentence
sums it up (:meth:`Plan.verdict`). It is built from the JSON alone (:meth:`Plan.from_json`),
so it can be tested without a database; :func:`pgspatial.plans.explain` also fills in each
sequentially scanned table's estimated size, which the JSON does not carry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pgspatial.errors import ConfigError

__all__ = ["INDEX_SCAN_TYPES", "SEQ_SCAN_TYPES", "Plan", "PlanNode"]

#: Node types that read through an index.
INDEX_SCAN_TYPES = frozenset({"Index Scan", "Index Only Scan", "Bitmap Index Scan"})
#: Node types that read a whole table (parallel ones too: they are "Seq Scan", parallel-aware).
SEQ_SCAN_TYPES = frozenset({"Seq Scan"})


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


@dataclass(frozen=True)
class PlanNode:
    """One node of a plan: what it does, to which table, at what estimated (and actual) cost."""

    node_type: str
    relation: str | None = None
    """The table read; for a Bitmap Index Scan, the table of its Bitmap Heap Scan."""
    index_name: str | None = None
    alias: str | None = None
    filter: str | None = None
    index_cond: str | None = None
    recheck_cond: str | None = None
    order_by: str | None = None
    """An index-ordered scan's ``Order By`` (KNN ``<->``)."""
    startup_cost: float = 0.0
    total_cost: float = 0.0
    plan_rows: float = 0.0
    """Estimated rows out of this node (per process for parallel-aware nodes)."""
    parallel_aware: bool = False
    actual_rows: float | None = None
    """Rows out per loop, when analyzed."""
    actual_startup_time_ms: float | None = None
    actual_total_time_ms: float | None = None
    actual_loops: int | None = None
    shared_hit_blocks: int | None = None
    """Shared buffers found in cache, when BUFFERS was requested."""
    shared_read_blocks: int | None = None
    relation_rows: float | None = None
    """Estimated rows in the table (``pg_class.reltuples``), for sequential scans; filled in
    by :func:`~pgspatial.plans.explain`, None when unknown or never analyzed."""
    children: tuple[PlanNode, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The node's raw JSON without its children."""

    @classmethod
    def from_json(cls, node: Mapping[str, Any], *, heap_relation: str | None = None) -> PlanNode:
        """A node (and its subtree) from one ``"Plan"`` object of EXPLAIN's JSON."""
        relation = node.get("Relation Name")
        node_type = str(node["Node Type"])
        own_relation = relation if relation is not None else heap_relation
        child_heap = own_relation if node_type.startswith("Bitmap") else None
        return cls(
            node_type=node_type,
            relation=own_relation if node_type == "Bitmap Index Scan" else relation,
            index_name=node.get("Index Name"),
            alias=node.get("Alias"),
            filter=node.get("Filter"),
            index_cond=node.get("Index Cond"),
            recheck_cond=node.get("Recheck Cond"),
            order_by=node.get("Order By"),
            startup_cost=float(node.get("Startup Cost", 0.0)),
            total_cost=float(node.get("Total Cost", 0.0)),
            plan_rows=float(node.get("Plan Rows", 0.0)),
            parallel_aware=bool(node.get("Parallel Aware", False)),
            actual_rows=_float(node.get("Actual Rows")),
            actual_startup_time_ms=_float(node.get("Actual Startup Time")),
            actual_total_time_ms=_float(node.get("Actual Total Time")),
            actual_loops=_int(node.get("Actual Loops")),
            shared_hit_blocks=_int(node.get("Shared Hit Blocks")),
            shared_read_blocks=_int(node.get("Shared Read Blocks")),
            children=tuple(
                cls.from_json(child, heap_relation=child_heap) for child in node.get("Plans", ())
            ),
            details={k: v for k, v in node.items() if k != "Plans"},
        )

    @property
    def is_index_scan(self) -> bool:
        """Whether this node reads through an index."""
        return self.node_type in INDEX_SCAN_TYPES

    @property
    def is_seq_scan(self) -> bool:
        """Whether this node reads a whole table."""
        return self.node_type in SEQ_SCAN_TYPES

    @property
    def estimated_table_rows(self) -> float:
        """The table's estimated size when known, else the node's own row estimate."""
        return self.relation_rows if self.relation_rows is not None else self.plan_rows

    def nodes(self) -> Iterator[PlanNode]:
        """This node and every node under it, pre-order."""
        yield self
        for child in self.children:
            yield from child.nodes()

    def with_relation_rows(self, sizes: Mapping[str, float]) -> PlanNode:
        """A copy whose sequential scans carry their table's estimated size from ``sizes``."""
        rows = sizes.get(self.relation) if self.is_seq_scan and self.relation else None
        children = tuple(child.with_relation_rows(sizes) for child in self.children)
        if rows is None:
            rows = self.relation_rows
        return replace(self, relation_rows=rows, children=children)


@dataclass(frozen=True)
class Plan:
    """A whole plan, as EXPLAIN (FORMAT JSON) returned it, with the questions answered."""

    root: PlanNode
    raw: Mapping[str, Any] = field(compare=False, repr=False)
    """The JSON object EXPLAIN returned (``{"Plan": ..., "Planning Time": ...}``)."""
    analyzed: bool = False
    planning_time_ms: float | None = None
    execution_time_ms: float | None = None

    @classmethod
    def from_json(cls, data: Any) -> Plan:
        """A plan from EXPLAIN's JSON: the text, the one-element list, or its object."""
        if isinstance(data, str | bytes):
            data = json.loads(data)
        if isinstance(data, list | tuple):
            data = data[0] if len(data) == 1 else None
        if not isinstance(data, Mapping) or "Plan" not in data:
            raise ConfigError(
                'not an EXPLAIN (FORMAT JSON) result: expected [{"Plan": {...}}]; run EXPLAIN '
                "with FORMAT JSON, or use pgspatial.plans.explain()"
            )
        return cls(
            root=PlanNode.from_json(data["Plan"]),
            raw=data,
            analyzed="Execution Time" in data,
            planning_time_ms=_float(data.get("Planning Time")),
            execution_time_ms=_float(data.get("Execution Time")),
        )

    def with_relation_rows(self, sizes: Mapping[str, float]) -> Plan:
        """A copy whose sequential scans carry their tables' estimated sizes."""
        return replace(self, root=self.root.with_relation_rows(sizes))

    @property
    def total_cost(self) -> float:
        """The planner's total cost estimate of the whole statement."""
        return self.root.total_cost

    def nodes(self) -> list[PlanNode]:
        """Every node, pre-order (the root first)."""
        return list(self.root.nodes())

    def index_scans(self) -> list[PlanNode]:
        """The Index, Index Only and Bitmap Index Scan nodes."""
        return [node for node in self.root.nodes() if node.is_index_scan]

    def uses_index(self, name: str | None = None) -> bool:
        """Whether any node reads through an index (the index ``name``, when given)."""
        return any(name is None or n.index_name == name for n in self.index_scans())

    def index_names(self) -> list[str]:
        """The indexes read, in plan order, each once."""
        return list(dict.fromkeys(n.index_name for n in self.index_scans() if n.index_name))

    def seq_scans(self) -> list[PlanNode]:
        """The sequential scan nodes (parallel ones included), with their table names."""
        return [node for node in self.root.nodes() if node.is_seq_scan]

    def large_seq_scans(self, max_rows: float) -> list[PlanNode]:
        """Sequential scans of tables estimated at more than ``max_rows`` rows."""
        return [n for n in self.seq_scans() if n.estimated_table_rows > max_rows]

    def acceptable(self, *, max_seq_rows: float = 10_000) -> bool:
        """An index is used and no table over ``max_seq_rows`` estimated rows is read
        sequentially (the rule behind ``pgspatial explain``'s exit code)."""
        return self.uses_index() and not self.large_seq_scans(max_seq_rows)

    def verdict(self) -> str:
        """One sentence: which indexes are used, which tables are read sequentially."""
        from pgspatial.plans.render import verdict

        return verdict(self)

    def to_text(self) -> str:
        """The plan as an indented tree, like psql's EXPLAIN output."""
        from pgspatial.plans.render import plan_text

        return plan_text(self)

    def summary(self) -> dict[str, Any]:
        """The verdict and its facts as a JSON-ready mapping (the raw plan included)."""
        return {
            "verdict": self.verdict(),
            "uses_index": self.uses_index(),
            "index_names": self.index_names(),
            "seq_scans": [
                {
                    "relation": n.relation,
                    "alias": n.alias,
                    "estimated_table_rows": n.estimated_table_rows,
                    "plan_rows": n.plan_rows,
                    "filter": n.filter,
                    "parallel": n.parallel_aware,
                }
                for n in self.seq_scans()
            ],
            "total_cost": self.total_cost,
            "analyzed": self.analyzed,
            "planning_time_ms": self.planning_time_ms,
            "execution_time_ms": self.execution_time_ms,
            "plan": self.raw,
        }
