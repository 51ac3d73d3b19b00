"""What judging keeps between rows (issue 19: judging small rows by the hundred thousand) cannot serve one row
another's answer: the precision findings selected by a row's keys, a case's input conditions, the penalty band
every framework's item of a case shares, a band's atol range. Each cached answer is checked against the same
question asked with nothing kept (a cold case, the uncached selector)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from regcompare import engine, errormodel, judge, oracle
from regcompare.cases import load_case
from regcompare.conventions import findings
from regcompare.conventions.findings import FINDINGS, Finding, Held, by_id, precision_findings
from regcompare.dtypes import cast
from regcompare.judge import references
from regcompare.plan import Item, grads_of
from regcompare.workers import Outcome

ROOT = Path(__file__).parent.parent
#: A weight that is subnormal in float32 (TensorFlow flushes it to zero: tensorflow-float32-ftz).
SUBNORMAL = 1e-40


def _selecting_row(f: Finding) -> dict[str, Any]:
    """A row that finding ``f`` selects by its keys: its first framework, dtype and quantity, and a text each of its
    patterns matches (a pattern's ``*`` matched by nothing)."""
    row: dict[str, Any] = {"framework": "numpy", "api": "numpy.handwritten", "quantity": "penalty",
                           "dtype": "float32", "tensor": None}
    for field, key, _ in findings.ROW_TESTS:
        wanted = getattr(f, field)
        if wanted is None:
            continue
        first = wanted if isinstance(wanted, str) else wanted[0]
        row[key] = first.replace("*", "") if key in ("api", "optimizer", "schedule") else first
    return row


def test_the_row_tests_are_every_selector_field_of_a_finding() -> None:
    # The cache key is the row's keys in ROW_TESTS: a selector field added to Finding without a test there would
    # be read by nothing (and so could not make the cache serve a wrong answer, but would select nothing).
    not_selectors = {"id", "kind", "reason", "source", "status", "held", "inputs", "result"}
    fields = {f.name for f in dataclasses.fields(Finding)} - not_selectors
    assert fields == {field for field, _, _ in findings.ROW_TESTS}
    assert set(findings.ROW_KEYS) == {"framework", "api", "optimizer", "quantity", "dtype", "schedule", "tensor"}


@pytest.mark.parametrize("finding", [f for f in FINDINGS if f.precision], ids=lambda f: f.id)
def test_a_row_that_differs_in_any_key_a_finding_reads_is_not_served_its_selection(finding: Finding) -> None:
    weights = {"w": np.array([SUBNORMAL, 1.0])}  # satisfies every input condition
    row = _selecting_row(finding)
    assert finding in precision_findings(row, weights)  # cached now
    for field, key, _ in findings.ROW_TESTS:
        if getattr(finding, field) is None:
            continue
        other = row | {key: "something else"}
        assert finding not in precision_findings(other, weights), key
        # the same as the selector asked without any cache, finding by finding
        assert precision_findings(other, weights) == [f for f in FINDINGS if f.precision and f.selects(other, weights)]
    assert finding in precision_findings(row, weights)  # and the first row's answer is still its own


def test_an_input_condition_is_asked_of_each_cases_weights_not_kept_with_the_rows_keys() -> None:
    ftz = by_id()["tensorflow-float32-ftz"]
    row = {"framework": "tensorflow", "api": "keras.regularizers.L1", "quantity": "gradient", "dtype": "float32",
           "tensor": "w"}
    normal, subnormal = {"w": np.array([0.5, 1e-30])}, {"w": np.array([0.5, SUBNORMAL])}
    assert ftz not in precision_findings(row, normal)
    assert ftz in precision_findings(row, subnormal)
    assert ftz not in precision_findings(row, normal)
    assert ftz not in precision_findings(row, None)
    asked: list[str] = []
    assert ftz in precision_findings(row, normal, holds=lambda name: asked.append(name) or True)
    assert asked == ["float32 subnormal weights"]


def test_a_replaced_registry_is_not_served_the_old_ones_selection(monkeypatch) -> None:
    row = {"framework": "numpy", "api": "numpy.handwritten", "quantity": "penalty", "dtype": "bfloat16",
           "tensor": None}
    assert [f.id for f in precision_findings(row, None)] == ["numpy-bfloat16-sum"]
    mine = Finding("mine", "precision", "why", "where", held=Held("accumulator", "float16"), framework="numpy")
    monkeypatch.setattr(findings, "FINDINGS", (mine,))
    assert precision_findings(row, None) == [mine]
    monkeypatch.undo()
    assert [f.id for f in precision_findings(row, None)] == ["numpy-bfloat16-sum"]


# --- through judging: warm (what the case keeps) against cold -------------------------------------------------

CASE = """\
name: {name}
weights:
  w: {{shape: [40, 40], init: normal, seed: 3, scale: 1.0}}
  v: {v}
dtypes: [bfloat16, float32]
regularizers: [{{l2: 0.5}}, {{l1: 0.25, l2: 0.125}}]
quantities: [penalty, gradient]
"""


def _items(write_case, name: str, v: str) -> list[Item]:
    case = load_case(write_case(CASE.format(name=name, v=v), f"{name}.yaml"))
    return engine.plan_case(case, ("numpy", "torch", "tensorflow"))


def _outcome(item: Item, inputs: dict[str, np.ndarray]) -> Outcome:
    """A framework's result made up for the harness: the exact value rounded to the dtype, with one element of a
    gradient off by a few percent (so that rows differ by framework, and some fail)."""
    refs = references(item, inputs)[0]
    if None in refs:
        return Outcome("ok", value=cast(refs[None], item.dtype))
    value = {t: cast(r, item.dtype) for t, r in refs.items()}
    if item.framework == "torch":
        value["w"] = value["w"].copy()
        value["w"].reshape(-1)[7] *= 1.03
    return Outcome("ok", value=value)


def _inputs(item: Item) -> dict[str, np.ndarray]:
    return {n: cast(w, item.dtype) for n, w in item.case.weights.items()}


def test_each_items_rows_judged_after_the_cases_other_items_are_the_rows_judged_cold(write_case) -> None:
    # Two cases that differ only in a subnormal float32 weight (TensorFlow's flush to zero selects the second's
    # float32 gradient rows), bfloat16 penalties (numpy sums bfloat16 in bfloat16: its rows only), every item of
    # both judged in turn, interleaved, as the engine judges them, and each judged again with a cold case.
    items = [pair for pair in zip(_items(write_case, "plain", "[0.5, 1.0e-30]"),
                                  _items(write_case, "flushed", f"[0.5, {SUBNORMAL}]"), strict=True)]
    warm, outcomes = [], []
    for pair in items:
        for item in pair:
            outcomes.append((item, _outcome(item, _inputs(item))))
    for item, outcome in outcomes:
        warm.append(engine.judge(item, outcome, _inputs(item)))
    cold = []
    for item, outcome in outcomes:
        item.case.references.clear()
        cold.append(engine.judge(item, outcome, _inputs(item)))
    assert warm == cold
    rows = [row for item_rows in warm for row in item_rows]
    widened = {(r["case"], r["framework"], r["quantity"], r["dtype"], r["tolerance"].get("finding")) for r in rows
               if r["tolerance"].get("finding")}
    assert widened == {("plain", "numpy", "penalty", "bfloat16", "numpy-bfloat16-sum"),
                       ("flushed", "numpy", "penalty", "bfloat16", "numpy-bfloat16-sum"),
                       ("flushed", "tensorflow", "gradient", "float32", "tensorflow-float32-ftz")}
    assert {r["status"] for r in rows} == {"match", "mismatch"}  # the made-up torch gradients fail


def test_a_penalty_band_is_kept_by_its_reference_too(write_case) -> None:
    item = next(i for i in _items(write_case, "plain", "[0.5, 1.0e-30]") if i.quantity == "penalty" and i.framework == "torch")
    inputs = _inputs(item)
    reference = references(item, inputs)[0]
    band = errormodel.bands(item, inputs, reference)[None]
    assert errormodel.bands(item, inputs, reference)[None] is band  # kept for the case's other frameworks
    moved = {None: np.asarray(float(reference[None]) * (1 + 2.0**-20))}
    other = errormodel.bands(item, inputs, moved)[None]
    item.case.references.clear()
    assert other == errormodel.bands(item, inputs, moved)[None] != band  # the spread from another reference


def test_the_kept_selections_are_bounded_and_answer_alike_after_they_are_dropped(monkeypatch) -> None:
    monkeypatch.setattr(findings, "_CANDIDATES_KEPT", 3)
    monkeypatch.setattr(findings, "_CANDIDATES", {})  # not what the tests before kept
    rows = [_selecting_row(f) for f in FINDINGS if f.precision]
    for _ in range(2):
        for row in rows:
            assert precision_findings(row, None) == [f for f in FINDINGS if f.precision and f.selects(row, None)]
            assert len(findings._CANDIDATES) <= 3


# --- the update references every framework's item of a case shares ----------------------------------------------

SEVEN = ("numpy", "torch", "tensorflow", "paddle", "jax", "keras-torch", "keras-jax")


@pytest.mark.parametrize("path", ["cases/optimizers/adam.yaml", "cases/optimizers/precedence_plain_sgd.yaml",
                                  "cases/schedules/adamw_step_decay.yaml", "cases/optimizers/adadelta.yaml"])
def test_each_update_items_references_are_its_own_when_the_case_keeps_them(path: str) -> None:
    # Every update item of a shipped case (coupled and decoupled APIs, variants, a placement's precedence, a
    # schedule's own semantics) asked in plan order with what the case keeps, then each asked again cold: the
    # canonical and the documented reference and its why are the same arrays, bit for bit.
    case = load_case(ROOT / path)
    items = [i for i in engine.plan_case(case, SEVEN) if isinstance(i, Item) and i.quantity == "update"]
    assert len(items) > 4

    def exact(item: Item) -> dict[str, np.ndarray]:
        return {n: cast(w, item.dtype).astype(np.float64) for n, w in case.weights.items()}

    warm = [references(item, exact(item)) for item in items]
    kept = [k for k in case.references if k[0] == "oracle"]
    assert 0 < len(kept) < sum(1 + (doc is not None) for _, doc in warm)  # shared: fewer runs than asked
    for item, (canonical, documented) in zip(items, warm, strict=True):
        case.references.clear()
        cold_canonical, cold_documented = references(item, exact(item))
        assert canonical.keys() == cold_canonical.keys()
        for t in canonical:
            assert np.array_equal(canonical[t], cold_canonical[t], equal_nan=True), (item.api, t)
        assert (documented is None) == (cold_documented is None)
        if documented is not None and cold_documented is not None:
            assert documented.why == cold_documented.why
            for t in documented.reference:
                assert np.array_equal(documented.reference[t], cold_documented.reference[t], equal_nan=True)


def test_a_kept_update_reference_is_read_only_and_differs_with_any_argument() -> None:
    case = load_case(ROOT / "cases/optimizers/adam.yaml")
    items = [i for i in engine.plan_case(case, SEVEN) if isinstance(i, Item) and i.quantity == "update"]
    item = items[0]
    inputs = {n: cast(w, item.dtype).astype(np.float64) for n, w in case.weights.items()}
    canonical, _ = references(item, inputs)
    with pytest.raises(ValueError, match="read-only"):
        canonical["w"][0, 0] = 0.0
    grads = grads_of(case, item.dtype)[1]
    assert item.optimizer is not None
    args = (item.regularizer, item.optimizer.family, item.settings(), case.spec.steps, "coupled", {"eps_on": "v_hat"})
    base = judge._oracle(item, oracle.update, inputs, grads, *args)
    assert np.array_equal(base["w"], oracle.update(inputs, grads, *args)["w"])
    changed = [(*args[:2], {**args[2], "lr": args[2]["lr"] * 2}, *args[3:]),  # a setting
               (*args[:3], args[3] + 1, *args[4:]),  # the steps
               (*args[:4], "decoupled", *args[5:]),  # the semantics
               (*args[:5], {"eps_on": "v"})]  # a rule option
    for other in changed:
        got = judge._oracle(item, oracle.update, inputs, grads, *other)
        assert np.array_equal(got["w"], oracle.update(inputs, grads, *other)["w"])
        assert not np.array_equal(got["w"], base["w"])


def test_a_large_tensors_update_reference_is_made_per_item_not_kept(monkeypatch) -> None:
    case = load_case(ROOT / "cases/optimizers/adam.yaml")
    item = next(i for i in engine.plan_case(case, SEVEN) if isinstance(i, Item) and i.quantity == "update")
    inputs = {n: cast(w, item.dtype).astype(np.float64) for n, w in case.weights.items()}
    kept = references(item, inputs)[0]
    case.references.clear()
    monkeypatch.setattr(judge, "MAX_LISTED_ELEMENTS", 1)  # every tensor is large now
    made = references(item, inputs)[0]
    assert not [k for k in case.references if k[0] == "oracle"]
    assert made["w"].flags.writeable and np.array_equal(made["w"], kept["w"])
