"""Plans for people: the one-sentence verdict and the indented tree."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pgspatial.plans.model import Plan, PlanNode

__all__ = ["plan_text", "verdict"]

_MAX_FILTER = 120


def _short(text: str, limit: int = _MAX_FILTER) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rows(value: float) -> str:
    return f"{value:,.0f}"


def _seq_scan_phrase(node: PlanNode) -> str:
    parallel = "parallel " if node.parallel_aware else ""
    return (
        f"{parallel}SEQ SCAN on {node.relation or '?'} "
        f"({_rows(node.estimated_table_rows)} rows estimated)"
    )


def verdict(plan: Plan) -> str:
    """One sentence: the indexes used, the tables read sequentially, and what to do."""
    used = list(
        dict.fromkeys(
            f"{n.index_name} ({n.node_type}) on {n.relation or '?'}" for n in plan.index_scans()
        )
    )
    seq = plan.seq_scans()
    if used:
        noun = "index" if len(used) == 1 else "indexes"
        head = f"uses {noun} {', '.join(used)}"
        if not seq:
            return f"{head}; no sequential scans"
        return f"{head}; but {', '.join(_seq_scan_phrase(n) for n in seq)}"
    if not seq:
        return "reads no table through an index or a sequential scan (nothing to index)"
    filtered = next((n for n in seq if n.filter), None)
    if filtered is not None and filtered.filter is not None:
        hint = (
            f"the filter {_short(filtered.filter)} cannot use an index. Keep the indexed column "
            "bare in spatial predicates (no cast or function around it), add an index "
            "prefilter such as geom && <box>, or create a matching expression index; the lint "
            "findings say which"
        )
    else:
        hint = (
            "the statement reads the whole table, with no condition an index could serve; add "
            "a spatial condition (e.g. geom && <box>) if only part of it is needed"
        )
    return f"{', '.join(_seq_scan_phrase(n) for n in seq)}: no index is used — {hint}"


def _label(node: PlanNode) -> str:
    operation = node.details.get("Operation") if node.node_type == "ModifyTable" else None
    label = str(operation) if operation else node.node_type
    if node.index_name:
        label += f" using {node.index_name}"
    if node.relation and node.node_type != "Bitmap Index Scan":
        label += f" on {node.relation}"
        if node.alias and node.alias != node.relation:
            label += f" {node.alias}"
    if node.parallel_aware:
        label = f"Parallel {label}"
    label += f"  (cost={node.startup_cost:.2f}..{node.total_cost:.2f} rows={_rows(node.plan_rows)})"
    if node.actual_rows is not None:
        time = node.actual_total_time_ms or 0.0
        label += (
            f" (actual time={time:.3f} ms rows={_rows(node.actual_rows)} "
            f"loops={node.actual_loops or 0})"
        )
    return label


def _detail_lines(node: PlanNode) -> list[str]:
    lines = [
        f"{title}: {_short(value, 200)}"
        for title, value in (
            ("Index Cond", node.index_cond),
            ("Order By", node.order_by),
            ("Recheck Cond", node.recheck_cond),
            ("Filter", node.filter),
        )
        if value
    ]
    if node.is_seq_scan and node.relation_rows is not None:
        lines.append(f"Table rows (estimated): {_rows(node.relation_rows)}")
    if node.shared_hit_blocks is not None or node.shared_read_blocks is not None:
        lines.append(
            f"Buffers: shared hit={node.shared_hit_blocks or 0} read={node.shared_read_blocks or 0}"
        )
    return lines


def plan_text(plan: Plan) -> str:
    """The plan as an indented tree with each node's conditions, like psql shows it."""
    out: list[str] = []

    def add(node: PlanNode, depth: int) -> None:
        indent = "      " * (depth - 1) + "  ->  " if depth else ""
        out.append(indent + _label(node))
        pad = " " * (len(indent) + 2)
        out.extend(pad + line for line in _detail_lines(node))
        for child in node.children:
            add(child, depth + 1)

    add(plan.root, 0)
    if plan.planning_time_ms is not None:
        out.append(f"Planning Time: {plan.planning_time_ms:.3f} ms")
    if plan.execution_time_ms is not None:
        out.append(f"Execution Time: {plan.execution_time_ms:.3f} ms")
    return "\n".join(out)
