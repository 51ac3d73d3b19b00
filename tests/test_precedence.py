"""Scope and precedence: a regularizer on some tensors, or on a parameter next to the optimizer's own.

Oracle, registry and judging tests need no framework; one test runs the momentum case through the real workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regcompare import engine, oracle
from regcompare.adapters import conventions as registry
from regcompare.cases import CaseError, load_case
from regcompare.conventions import Decay, Placed, Regularizer, documented
from regcompare.workers import Outcome, WorkerPool

ROOT = Path(__file__).parent.parent
MOMENTUM = ROOT / "cases" / "optimizers" / "precedence_momentum.yaml"
SGD = {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
ON_W = Placed(Regularizer(l2=0.1), param=Regularizer(l2=0.5), param_scope=("w",))
GROUPED = Placed(Regularizer(l2=0.1), scope=("b",), param=Regularizer(l2=0.5), param_scope=("w",))


def test_canonically_both_apply_on_their_own_scopes() -> None:
    assert ON_W.canonical("w") == Decay(Regularizer(l2=0.6))
    assert ON_W.canonical("b") == Decay(Regularizer(l2=0.1))
    assert GROUPED.canonical("w") == Decay(Regularizer(l2=0.5))
    assert GROUPED.canonical("b") == Decay(Regularizer(l2=0.1))


def test_each_framework_precedence_is_registry_data() -> None:
    table = registry()
    # paddle: the ParamAttr replaces weight_decay; param groups erase the ParamAttr.
    assert documented(table["paddle.optimizer.Momentum"], ON_W, "w")[0] == Decay(Regularizer(l2=0.5))
    decay, why = documented(table["paddle.optimizer.Momentum"], GROUPED, "w")
    assert decay == Decay(Regularizer()) and "param groups erase" in why
    # paddle AdamW: the ParamAttr (coupled) on top of the decoupled decay, groups or not.
    assert documented(table["paddle.optimizer.AdamW"], ON_W, "w")[0] == Decay(Regularizer(l2=0.5), 0.1)
    assert documented(table["paddle.optimizer.AdamW"], GROUPED, "w")[0] == Decay(Regularizer(l2=0.5))
    # Keras: kernel_regularizer (coupled) and weight_decay (decoupled) both apply.
    assert documented(table["keras.optimizers.SGD"], ON_W, "w")[0] == Decay(Regularizer(l2=0.5), 0.1)
    assert documented(table["keras.optimizers.SGD"], ON_W, "b")[0] == Decay(decoupled=0.1)


def test_coupled_and_decoupled_at_once_take_the_gradient_before_the_decay() -> None:
    w, g = {"w": np.array([2.0])}, {"w": np.array([1.0])}
    out = oracle.update_decays(w, g, {"w": Decay(Regularizer(l2=0.5), 0.1)}, "sgd", SGD, 1)["w"]
    # w − lr·(g + 0.5·w) − lr·0.1·w, all from w = 2
    assert out[0] == pytest.approx(2.0 - 0.1 * (1.0 + 1.0) - 0.1 * 0.1 * 2.0, rel=1e-15)


def _items(case: engine.Case, api: str) -> list[engine.Item]:
    return [i for i in engine.plan_case(case, ("torch", "tensorflow", "paddle")) if i.api == api]


def test_planning_places_the_param_regularizer_and_labels_it() -> None:
    case = load_case(str(MOMENTUM))
    labels = {i.label() for i in _items(case, "paddle.optimizer.Momentum")}
    assert labels == {
        "paddle-paddle.optimizer.Momentum(weight_decay=0.5)[w]-update-float32",
        "paddle-paddle.optimizer.Momentum(weight_decay=0.1)+paddle.ParamAttr.L2Decay(coeff=0.5)[w]-update-float32",
        "paddle-paddle.optimizer.Momentum(weight_decay=0.1)[b]+paddle.ParamAttr.L2Decay(coeff=0.5)[w]-update-float32",
    }
    # torch has no regularizer on a parameter, only param groups: it runs the scoped entry alone.
    assert [i.label() for i in _items(case, "torch.optim.SGD")] == ["torch-torch.optim.SGD(weight_decay=0.5)[w]-update-float32"]
    assert not any(i.quantity != "update" for i in engine.plan_case(case, ("torch", "tensorflow", "paddle")))


def _judged(placed: Placed, value: np.ndarray) -> dict:
    case = load_case(str(MOMENTUM))
    item = next(i for i in _items(case, "paddle.optimizer.Momentum") if i.placed == placed)
    inputs = {n: w.astype(np.float32).astype(np.float64) for n, w in case.weights.items()}
    reference, _ = engine.references(item, inputs)
    rows = engine.judge(item, Outcome("ok", {"w": value, "b": reference["b"]}), inputs)
    return next(r for r in rows if r["tensor"] == "w")


def test_override_is_divergent_with_the_rule_and_the_sum_is_a_match() -> None:
    case = load_case(str(MOMENTUM))
    inputs = {n: w.astype(np.float64) for n, w in case.weights.items()}
    grads = engine.grads_of(case, "float32")[1]
    s = engine.settings_of(case)
    override = oracle.update_decays(inputs, grads, {"w": Decay(Regularizer(l2=0.5)), "b": Decay(Regularizer(l2=0.1))},
                                    "sgd", s, 3)["w"]
    both = oracle.update_decays(inputs, grads, {"w": Decay(Regularizer(l2=0.6)), "b": Decay(Regularizer(l2=0.1))},
                                "sgd", s, 3)["w"]
    row = _judged(ON_W, override)
    assert row["status"] == "divergent" and "replaces the optimizer's weight_decay" in row["detail"]
    assert row["param"] == {"api": "paddle.ParamAttr.L2Decay", "native": {"coeff": 0.5}, "scope": ["w"]}
    assert row["documented_reference"] == pytest.approx(override)
    assert _judged(ON_W, both)["status"] == "match"
    assert _judged(ON_W, both + 0.01)["status"] == "mismatch"


def test_unknown_key_in_param_names_its_line(write_case) -> None:
    path = write_case("weights: {w: [1.0]}\nquantities: [update]\noptimizer: {name: sgd}\n"
                      "regularizers:\n  - {l2: 0.1, param: {l3: 0.5}}\n")
    with pytest.raises(CaseError, match=r"case.yaml:5: regularizers\[0\]\.param\.l3: unknown key"):
        load_case(path)


def test_momentum_case_through_the_real_frameworks() -> None:
    pool = WorkerPool()
    try:
        result = engine.run([load_case(str(MOMENTUM))], ("torch", "tensorflow", "paddle"), pool)
    finally:
        pool.close()
    status = {engine.row_label(r): r["status"] for r in result.rows}
    momentum = "paddle-paddle.optimizer.Momentum(weight_decay="
    assert status[f"{momentum}0.1)+paddle.ParamAttr.L2Decay(coeff=0.5)[w]-update-float32-w"] == "divergent"
    assert status[f"{momentum}0.1)[b]+paddle.ParamAttr.L2Decay(coeff=0.5)[w]-update-float32-w"] == "divergent"
    assert status[f"{momentum}0.5)[w]-update-float32-b"] == "match"
    assert status["torch-torch.optim.SGD(weight_decay=0.5)[w]-update-float32-w"] == "match"
    keras = "tensorflow-keras.optimizers.SGD(weight_decay=0.1)+keras.regularizers.L2(l2=0.25)[w]-update-float32-w"
    assert status[keras] == "divergent"
    assert result.failures == 0
