"""The row store (regcompare.store): rows on disk round-trip exactly, come back in plan order whatever order
cases complete in, and every output written from the store is the output written from the same rows in memory."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest

from regcompare import aggregates, engine, store
from regcompare.cases import load_cases
from regcompare.results import write_csv, write_json
from regcompare.store import Pending, RowStore
from regcompare.workers import WorkerPool


def row(case: str, i: int, status: str = "match", **extra: Any) -> dict[str, Any]:
    return {"case": case, "file": f"{case}.yaml", "line": 1, "framework": "numpy" if i % 2 else "torch",
            "api": f"api.{i % 3}", "quantity": "gradient", "dtype": "float32", "regularizer": {"l2": 1.0}, "tensor": f"w{i}",
            "raw": [[0.1 * i, -2.5e-310], [float(i), 1e300]], "reference": 0.30000000000000004, "ulp": float(i),
            "rel_err": i / 7, "tolerance": {"rtol": 1e-6, "atol": math.inf}, "native": {"l2": 0.5},
            "summary": None, "status": status, "detail": "ünïcode\nline two | \"quoted\"", "known": None, **extra}


def test_rows_round_trip_exactly_and_in_plan_order() -> None:
    first, second = [row("a", 0), row("a", 1, "mismatch")], [row("b", 2, known="why", status="error"), row("b", 3)]
    second[1]["raw"] = float("nan")
    rows = store.RowStore()
    rows.append(1, second)  # the second case completes first
    rows.append(0, first)
    rows.append(2, [])  # a case with no rows at all
    expected = first + second
    got = list(rows)
    assert len(rows) == 4 and len(got) == 4
    assert json.dumps(got) == json.dumps(expected)  # NaN, ∞ and subnormals included, keys in order
    assert math.isnan(got[3]["raw"]) and got[0]["tolerance"]["atol"] == math.inf
    assert got[0]["raw"][0][1] == -2.5e-310 and got[0]["reference"] == 0.30000000000000004
    assert rows[0] == expected[0] and rows[-1]["tensor"] == "w3" and rows[2]["known"] == "why"
    assert [r["tensor"] for r in rows[1:3]] == ["w1", "w2"]
    with pytest.raises(IndexError):
        rows[4]
    assert [len(block) for block in rows.cases()] == [2, 2]
    assert rows.summary == {"match": 2, "mismatch": 1, "error": 1}
    assert rows.known == 1 and rows.failing == 1  # the error is known; the mismatch is not
    assert rows.counts[("torch", "error")] == 1 and rows.counts[("numpy", "mismatch")] == 1
    with pytest.raises(ValueError, match="already appended"):
        rows.append(0, first)


def test_columns_follow_plan_order_not_completion_order() -> None:
    rows = store.RowStore()
    rows.append(1, [{"case": "b", "framework": "x", "status": "match", "late": 1}])
    rows.append(0, [{"case": "a", "framework": "x", "status": "match", "early": 1}])
    assert rows.columns == ["case", "framework", "status", "early", "late"]


def test_every_value_comes_back_as_it_went_in() -> None:
    nan = float("nan")
    given = {"case": "a", "framework": "x", "status": "match", "scope": ("w", "b"), "raw": [nan, -0.0, 5e-324]}
    back = RowStore.of([given])[0]
    assert back["scope"] == ("w", "b") and math.isnan(back["raw"][0]) and math.copysign(1.0, back["raw"][1]) == -1.0
    assert back["raw"][2] == 5e-324 and back is not given


def test_pending_rows_spill_to_disk_and_come_back_in_item_order() -> None:
    pending = Pending(budget=3)
    pending.add(0, 5, [row("a", 5)])
    pending.add(1, 2, [row("b", 2), row("b", 3)])
    pending.add(0, 1, [row("a", 1), row("a", 2)])  # past the budget: everything so far goes to disk
    pending.add(0, 3, [row("a", 3)])  # this one stays in memory
    assert [[r["tensor"] for r in rows] for rows in pending.take(0)] == [["w1", "w2"], ["w3"], ["w5"]]
    assert [[r["tensor"] for r in rows] for rows in pending.take(1)] == [["w2", "w3"]]
    assert pending.take(0) == []
    pending.close()


def test_results_json_and_csv_from_the_store_are_those_from_memory() -> None:
    rows = [row("a", 0), row("a", 1, "mismatch"), row("b", 2), row("b", 3, extra_key=[1, 2])]
    rows[1]["abs_err"] = float("-inf")
    doc = {"schema": 1, "summary": {}, "rows": rows}
    from_memory, from_store = io.StringIO(), io.StringIO()
    write_json(doc, from_memory)
    write_json(dict(doc, rows=RowStore.of(rows)), from_store)
    assert from_store.getvalue() == from_memory.getvalue()
    assert '"atol": "Infinity"' in from_store.getvalue() and '"abs_err": "-Infinity"' in from_store.getvalue()
    assert json.loads(from_store.getvalue())["rows"][3]["extra_key"] == [1, 2]
    csv_memory, csv_store = io.StringIO(), io.StringIO()
    write_csv(rows, csv_memory)
    write_csv(RowStore.of(rows), csv_store)
    assert csv_store.getvalue() == csv_memory.getvalue()


def test_csv_chunks_join_into_one_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import csv

    monkeypatch.setattr("regcompare.results.CSV_CHUNK", 2)
    rows = RowStore.of([row(f"c{i}", i) for i in range(5)])
    out = io.StringIO()
    write_csv(rows, out)
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert len(table) == 6 and table[0][0] == "case" and [t[0] for t in table[1:]] == [f"c{i}" for i in range(5)]


def test_digest_keeps_the_largest_ulp_match_groups_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aggregates, "MATCH_GROUP_CAP", 4)
    ulps = [3.0, 9.0, 1.0, 9.0, 0.0, 7.0, 9.0, 2.0]
    rows = [row(f"case{i}", 0, ulp=ulp) for i, ulp in enumerate(ulps)]
    _, by_case = aggregates.Digest.of(RowStore.of(rows)).match_groups()
    # by hand: the three 9s in the order seen (cases 1, 3, 6), then the 7 (case 5)
    assert [g.case for g in by_case] == ["case1", "case3", "case6", "case5"]
    digest = aggregates.Digest.of(rows)
    assert digest.by_case_total == 8 and digest.rows == 8 and digest.cases == 8 and digest.listed == []


def test_a_run_is_the_same_whether_pending_rows_stay_in_memory_or_spill(
    write_case, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = ("name: {n}\nweights: {{w: [[1, -2], [-3, 4]], b: [0.5, -0.25]}}\ndtypes: [float32, float64]\n"
            "regularizers: [{{l2: 1.0}}, {{l1: 0.5}}]\nquantities: [penalty, gradient]\n")
    cases = load_cases([write_case(text.format(n=f"s{i}"), f"s{i}.yaml") for i in range(3)])
    pool = WorkerPool()
    try:
        kept = engine.run(cases, ("numpy",), pool)
        spills = []
        monkeypatch.setattr(store, "PENDING_ROWS", 1)
        monkeypatch.setattr(store.Pending, "_spill", lambda self, spill=store.Pending._spill: spills.append(spill(self)))
        spilled = engine.run(cases, ("numpy",), pool)
    finally:
        pool.close()
    assert len(kept.rows) == 3 * 2 * 2 * 3  # cases × dtypes × regularizers × (penalty + 2 gradient tensors)
    assert spills and list(spilled.rows) == list(kept.rows)
    assert [r["case"] for r in kept.rows] == sorted(r["case"] for r in kept.rows)  # plan order
    assert kept.summary["match"] == len(kept.rows) and kept.failures == 0


def test_a_run_in_chunks_is_the_same_run_and_counts_its_progress_over_all(
    write_case, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = ("name: {n}\nweights: {{w: [[1, -2], [-3, 4]]}}\ndtypes: [float32, float64]\n"
            "regularizers: [{{l2: 1.0}}]\nquantities: [penalty, gradient]\n")
    cases = load_cases([write_case(text.format(n=f"k{i}"), f"k{i}.yaml") for i in range(5)])
    seen: list[tuple[str, int, int]] = []
    pool = WorkerPool()
    try:
        whole = engine.run(cases, ("numpy",), pool)
        monkeypatch.setattr(engine, "CHUNK_ITEMS", 3)  # 4 numpy items a case: one case a chunk
        chunked = engine.run(cases, ("numpy",), pool, lambda fw, done, total: seen.append((fw, done, total)))
    finally:
        pool.close()
    assert list(chunked.rows) == list(whole.rows) and len(whole.rows) == 5 * 2 * 2
    assert seen[-1] == ("numpy", 20, 20)  # 5 cases × 2 dtypes × (penalty, gradient), of all, not of a chunk
    # Shown once the other chunks are counted (a thread counts them while the first one runs), then every task.
    done = [done for _, done, _ in seen]
    assert done == list(range(done[0], 21)) and {total for _, _, total in seen} == {20}
