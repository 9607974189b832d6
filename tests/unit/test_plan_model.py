"""The plan model without a database: EXPLAIN (FORMAT JSON) documents written by hand."""

from __future__ import annotations

import json

import pytest

from pgspatial.errors import ConfigError
from pgspatial.plans import Plan, PlanNode

BITMAP = {
    "Plan": {
        "Node Type": "Bitmap Heap Scan",
        "Relation Name": "parcels",
        "Alias": "p",
        "Startup Cost": 4.5,
        "Total Cost": 120.25,
        "Plan Rows": 42,
        "Recheck Cond": "(geom && '...'::geometry)",
        "Filter": "st_dwithin((geom)::geography, '...'::geography, '500'::double precision, true)",
        "Plans": [
            {
                "Node Type": "Bitmap Index Scan",
                "Parent Relationship": "Outer",
                "Index Name": "ix_parcels_geom",
                "Startup Cost": 0.0,
                "Total Cost": 4.49,
                "Plan Rows": 120,
                "Index Cond": "(geom && '...'::geometry)",
            }
        ],
    }
}

PARALLEL_SEQ = {
    "Plan": {
        "Node Type": "Gather",
        "Startup Cost": 1000.0,
        "Total Cost": 26000.0,
        "Plan Rows": 20,
        "Plans": [
            {
                "Node Type": "Seq Scan",
                "Parallel Aware": True,
                "Relation Name": "parcels",
                "Alias": "parcels",
                "Startup Cost": 0.0,
                "Total Cost": 25000.0,
                "Plan Rows": 8,
                "Filter": "st_dwithin((geom)::geography, '...'::geography, '500'::double precision)",
            }
        ],
    }
}

JOIN = {
    "Plan": {
        "Node Type": "Nested Loop",
        "Startup Cost": 0.28,
        "Total Cost": 9000.0,
        "Plan Rows": 500,
        "Plans": [
            {
                "Node Type": "Seq Scan",
                "Relation Name": "zones",
                "Alias": "z",
                "Startup Cost": 0.0,
                "Total Cost": 25.0,
                "Plan Rows": 300,
            },
            {
                "Node Type": "BitmapAnd",
                "Startup Cost": 0.0,
                "Total Cost": 8.0,
                "Plan Rows": 1,
                "Plans": [
                    {
                        "Node Type": "Index Only Scan",
                        "Relation Name": "parcels",
                        "Index Name": "parcels_pkey",
                        "Startup Cost": 0.0,
                        "Total Cost": 4.0,
                        "Plan Rows": 1,
                    },
                    {
                        "Node Type": "Index Scan",
                        "Relation Name": "parcels",
                        "Index Name": "ix_parcels_geom",
                        "Order By": "(geom <-> '...'::geometry)",
                        "Startup Cost": 0.0,
                        "Total Cost": 4.0,
                        "Plan Rows": 1,
                    },
                ],
            },
        ],
    }
}

ANALYZED = {
    "Plan": {
        "Node Type": "ModifyTable",
        "Operation": "Update",
        "Relation Name": "parcels",
        "Startup Cost": 0.29,
        "Total Cost": 8.3,
        "Plan Rows": 0,
        "Actual Startup Time": 0.05,
        "Actual Total Time": 0.12,
        "Actual Rows": 0,
        "Actual Loops": 1,
        "Shared Hit Blocks": 12,
        "Shared Read Blocks": 1,
        "Plans": [
            {
                "Node Type": "Index Scan",
                "Relation Name": "parcels",
                "Index Name": "parcels_pkey",
                "Startup Cost": 0.29,
                "Total Cost": 8.3,
                "Plan Rows": 1,
                "Actual Startup Time": 0.01,
                "Actual Total Time": 0.02,
                "Actual Rows": 1,
                "Actual Loops": 1,
                "Shared Hit Blocks": 3,
                "Shared Read Blocks": 0,
                "Index Cond": "(id = 1)",
            }
        ],
    },
    "Planning Time": 0.2,
    "Execution Time": 0.4,
}

RESULT_ONLY = {
    "Plan": {"Node Type": "Result", "Startup Cost": 0, "Total Cost": 0.01, "Plan Rows": 1}
}


def test_a_bitmap_plan_uses_its_index_on_the_heap_table():
    plan = Plan.from_json([BITMAP])
    assert plan.uses_index()
    assert plan.uses_index("ix_parcels_geom")
    assert not plan.uses_index("ix_parcels_geom_geography")
    assert plan.index_names() == ["ix_parcels_geom"]
    assert plan.seq_scans() == []
    index_node = plan.index_scans()[0]
    assert index_node.node_type == "Bitmap Index Scan"
    assert index_node.relation == "parcels"  # from its Bitmap Heap Scan
    assert index_node.index_cond == "(geom && '...'::geometry)"
    assert plan.total_cost == 120.25
    assert plan.verdict() == (
        "uses index ix_parcels_geom (Bitmap Index Scan) on parcels; no sequential scans"
    )
    assert plan.acceptable()
    assert not plan.analyzed
    assert plan.execution_time_ms is None
    assert plan.planning_time_ms is None


def test_nodes_are_flattened_in_pre_order():
    plan = Plan.from_json(JOIN)
    assert [n.node_type for n in plan.nodes()] == [
        "Nested Loop",
        "Seq Scan",
        "BitmapAnd",
        "Index Only Scan",
        "Index Scan",
    ]
    assert plan.index_names() == ["parcels_pkey", "ix_parcels_geom"]
    assert plan.nodes()[-1].order_by == "(geom <-> '...'::geometry)"


def test_a_parallel_seq_scan_verdict_names_the_table_and_its_size():
    plan = Plan.from_json(PARALLEL_SEQ)
    (scan,) = plan.seq_scans()
    assert scan.relation == "parcels"
    assert scan.parallel_aware
    assert scan.estimated_table_rows == 8  # per-worker estimate until the size is known
    sized = plan.with_relation_rows({"parcels": 200_000})
    (scan,) = sized.seq_scans()
    assert scan.relation_rows == 200_000
    verdict = sized.verdict()
    assert verdict.startswith(
        "parallel SEQ SCAN on parcels (200,000 rows estimated): no index is used"
    )
    assert "st_dwithin((geom)::geography" in verdict
    assert "expression index" in verdict
    assert not sized.uses_index()
    assert not sized.acceptable()


def test_an_index_plus_a_seq_scan_mentions_both_and_the_threshold_decides():
    plan = Plan.from_json(JOIN).with_relation_rows({"zones": 300})
    assert plan.verdict() == (
        "uses indexes parcels_pkey (Index Only Scan) on parcels, ix_parcels_geom (Index Scan) "
        "on parcels; but SEQ SCAN on zones (300 rows estimated)"
    )
    assert plan.acceptable(max_seq_rows=10_000)
    assert not plan.acceptable(max_seq_rows=100)
    assert [n.relation for n in plan.large_seq_scans(100)] == ["zones"]


def test_a_full_scan_without_a_filter_says_so():
    plan = Plan.from_json(
        {
            "Plan": {
                "Node Type": "Seq Scan",
                "Relation Name": "parcels",
                "Startup Cost": 0,
                "Total Cost": 5000,
                "Plan Rows": 200000,
            }
        }
    )
    assert plan.verdict().startswith("SEQ SCAN on parcels (200,000 rows estimated): no index")
    assert "reads the whole table" in plan.verdict()


def test_a_plan_without_tables():
    plan = Plan.from_json(RESULT_ONLY)
    assert plan.verdict().startswith("reads no table")
    assert not plan.acceptable()


def test_analyze_and_buffers_fields():
    plan = Plan.from_json(json.dumps([ANALYZED]))
    assert plan.analyzed
    assert plan.planning_time_ms == 0.2
    assert plan.execution_time_ms == 0.4
    root = plan.root
    assert root.actual_rows == 0
    assert root.actual_loops == 1
    assert root.actual_total_time_ms == 0.12
    assert root.shared_hit_blocks == 12
    assert root.shared_read_blocks == 1
    assert root.details["Operation"] == "Update"
    child = root.children[0]
    assert child.actual_rows == 1
    assert child.actual_startup_time_ms == 0.01


def test_to_text_is_an_indented_tree_with_conditions_and_timings():
    text = Plan.from_json(ANALYZED).to_text()
    lines = text.splitlines()
    assert lines[0].startswith("Update on parcels  (cost=0.29..8.30 rows=0)")
    assert "(actual time=0.120 ms rows=0 loops=1)" in lines[0]
    assert "  Buffers: shared hit=12 read=1" in lines
    assert lines[2].startswith("  ->  Index Scan using parcels_pkey on parcels")
    assert "        Index Cond: (id = 1)" in lines
    assert lines[-2:] == ["Planning Time: 0.200 ms", "Execution Time: 0.400 ms"]
    bitmap = Plan.from_json(BITMAP).to_text()
    assert "Bitmap Heap Scan on parcels p  (cost=4.50..120.25 rows=42)" in bitmap
    assert "  ->  Bitmap Index Scan using ix_parcels_geom  (cost=0.00..4.49 rows=120)" in bitmap
    assert "Recheck Cond: (geom && '...'::geometry)" in bitmap
    sized = Plan.from_json(PARALLEL_SEQ).with_relation_rows({"parcels": 200_000}).to_text()
    assert "Parallel Seq Scan on parcels" in sized
    assert "Table rows (estimated): 200,000" in sized


def test_summary_is_json_ready():
    summary = Plan.from_json(PARALLEL_SEQ).with_relation_rows({"parcels": 200_000}).summary()
    json.dumps(summary)
    assert summary["uses_index"] is False
    assert summary["seq_scans"] == [
        {
            "relation": "parcels",
            "alias": "parcels",
            "estimated_table_rows": 200_000,
            "plan_rows": 8,
            "filter": PARALLEL_SEQ["Plan"]["Plans"][0]["Filter"],
            "parallel": True,
        }
    ]
    assert summary["plan"] == PARALLEL_SEQ
    assert summary["verdict"].startswith("parallel SEQ SCAN")


def test_nodes_are_frozen_and_comparable():
    first, second = Plan.from_json(BITMAP), Plan.from_json(json.dumps(BITMAP))
    assert first == second
    with pytest.raises(AttributeError):
        first.root.node_type = "Seq Scan"
    assert isinstance(first.root.children[0], PlanNode)


@pytest.mark.parametrize("bad", [[], [BITMAP, BITMAP], {"Node Type": "Result"}, "[1]", 3])
def test_anything_but_one_explain_document_is_refused(bad):
    with pytest.raises(ConfigError, match="FORMAT JSON"):
        Plan.from_json(bad)
