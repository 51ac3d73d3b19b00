"""The `update` quantity: the two oracles, the `divergent` judgment, and the issue's momentum example.

The oracle and judge tests need no framework; one test runs the example case through the real workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from regcompare import engine, oracle
from regcompare.adapters import conventions as registry
from regcompare.cases import load_case
from regcompare.conventions import Regularizer
from regcompare.workers import Outcome, WorkerPool

ROOT = Path(__file__).parent.parent
MOMENTUM_CASE = ROOT / "cases" / "optimizers" / "sgd_momentum.yaml"
W = {"w": np.array([[1.0, -2.0], [-3.0, 4.0]])}
ONES = {"w": np.ones((2, 2))}
SGD_MOMENTUM = {"lr": 0.1, "momentum": 0.9, "dampening": 0.0, "nesterov": False,
                "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
# The issue's numbers: torch and paddle (coupled), Keras (decoupled).
COUPLED = [[0.5725, -2.0], [-2.8575, 3.145]]
DECOUPLED = [[0.6175, -2.09], [-2.9925, 3.325]]


L2_HALF = Regularizer(l2=0.5)


def _update(semantics: str, family: str = "sgd", reg: Regularizer = L2_HALF, **settings: float) -> np.ndarray:
    s = SGD_MOMENTUM | settings
    return oracle.update(W, ONES, reg, family, s, 2, semantics)["w"]  # type: ignore[arg-type]


def test_oracles_give_the_issue_momentum_example() -> None:
    np.testing.assert_allclose(_update("coupled"), COUPLED, rtol=1e-14)
    np.testing.assert_allclose(_update("decoupled"), DECOUPLED, rtol=1e-14)


def test_plain_sgd_is_the_same_under_both_semantics() -> None:
    np.testing.assert_allclose(_update("coupled", momentum=0.0), _update("decoupled", momentum=0.0), rtol=1e-14)


def test_dampening_starts_on_the_second_step_and_nesterov_looks_ahead() -> None:
    # Step 1: buf = g = 1.5 (no dampening yet); step 2: buf = 0.9·1.5 + 0.5·(1 + 0.5·0.85).
    w1 = 1.0 - 0.1 * 1.5
    g2 = 1.0 + 0.5 * w1
    assert _update("coupled", dampening=0.5)[0, 0] == pytest.approx(w1 - 0.1 * (0.9 * 1.5 + 0.5 * g2), rel=1e-14)
    # Nesterov step 1: d = g + μ·buf = 1.5 + 0.9·1.5.
    nesterov = oracle.update(W, ONES, Regularizer(l2=0.5), "sgd", SGD_MOMENTUM | {"nesterov": True}, 1, "coupled")
    assert nesterov["w"][0, 0] == pytest.approx(1.0 - 0.1 * 1.5 * 1.9, rel=1e-14)


def test_adam_epsilon_placement_differs_only_through_epsilon() -> None:
    big_eps = {"eps": 0.1}
    hat = oracle.update(W, ONES, Regularizer(), "adam", SGD_MOMENTUM | big_eps, 1, "coupled", {"eps_on": "v_hat"})["w"]
    raw = oracle.update(W, ONES, Regularizer(), "adam", SGD_MOMENTUM | big_eps, 1, "coupled", {"eps_on": "v"})["w"]
    # Step 1 with g = 1: torch/paddle divide by 1 + ε; Keras by 1 + ε/√(1−β₂).
    np.testing.assert_allclose(W["w"] - hat, 0.1 / 1.1, rtol=1e-12)
    np.testing.assert_allclose(W["w"] - raw, 0.1 / (1 + 0.1 / np.sqrt(0.001)), rtol=1e-12)


def test_decoupled_has_no_l1() -> None:
    with pytest.raises(ValueError, match="no L1"):
        _update("decoupled", reg=Regularizer(l1=0.1))


# --- judging ------------------------------------------------------------------------------------------


def _item(api: str, dtype: str = "float64") -> engine.Item:
    case = load_case(str(MOMENTUM_CASE))
    items = [i for i in engine.plan_case(case, ("torch", "tensorflow", "paddle"))
             if i.api == api and i.dtype == dtype and i.quantity == "update" and i.variant is None]
    assert len(items) == 1, [i.label() for i in items]
    return items[0]


def _judged(api: str, value: list[list[float]]) -> dict:
    item = _item(api)
    item.expected = None  # judge against the oracles only
    rows = engine.judge(item, Outcome("ok", {"w": np.array(value)}), W)
    assert len(rows) == 1
    return rows[0]


def test_decoupled_api_matching_its_semantics_is_divergent_with_the_formula() -> None:
    row = _judged("keras.optimizers.SGD", DECOUPLED)
    assert row["status"] == "divergent"
    assert "decoupled decay: w ← w − lr·weight_decay·w" in row["detail"]
    assert row["reference"] == pytest.approx(np.array(COUPLED))
    assert row["decoupled_reference"] == pytest.approx(np.array(DECOUPLED))
    assert row["optimizer"] == "keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=False)"


def test_coupled_api_matching_the_decoupled_oracle_is_a_mismatch() -> None:
    row = _judged("torch.optim.SGD", DECOUPLED)
    assert row["status"] == "mismatch"
    assert "documented coupled" in row["detail"]


def test_matching_neither_oracle_is_a_mismatch_and_coupled_is_a_match() -> None:
    assert _judged("keras.optimizers.SGD", [[0.0, 0.0], [0.0, 0.0]])["status"] == "mismatch"
    assert _judged("paddle.optimizer.Momentum", COUPLED)["status"] == "match"


def test_a_documented_divergence_that_vanishes_is_reported() -> None:
    """Keras SGD with momentum is decoupled: matching the coupled update (where the two differ) means
    the registry's record or the framework changed — strict, like pytest's xfail(strict=True)."""
    row = _judged("keras.optimizers.SGD", COUPLED)
    assert row["status"] == "mismatch"
    assert "documented decoupled" in row["detail"] and "matches the coupled update where the two differ" in row["detail"]


def test_apis_that_cannot_express_the_optimizer_are_not_run_and_say_why(write_case) -> None:
    case = load_case(write_case(
        "weights: {w: [1.0]}\nregularizers: [{l2: 0.5}]\nquantities: [update]\n"
        "optimizer: {name: sgd, lr: 0.1, momentum: 0.9, dampening: 0.5}\ngrads: {w: ones}\n"
    ))
    items = {i.api: i for i in engine.plan_case(case, ("torch", "tensorflow", "paddle"))}
    assert not items["torch.optim.SGD"].skip
    for api, cls in (("keras.optimizers.SGD", "keras.optimizers.SGD"), ("paddle.optimizer.Momentum",
                                                                       "paddle.optimizer.Momentum")):
        assert items[api].skip == f"not run: {cls} has no argument for dampening; it implements dampening=0 only"


def test_the_registry_passes_every_hyper_parameter_explicitly() -> None:
    call = registry()["keras.optimizers.Adam"].optimizer_for("adam", {"lr": 0.1, "eps": 1e-8})
    assert call is not None and call.native({"lr": 0.1, "eps": 1e-8})["epsilon"] == 1e-8
    assert call.native({})["epsilon"] == 1e-7  # Keras' own default, not torch's


# --- the real frameworks ---------------------------------------------------------------------------------


def test_momentum_example_through_the_real_optimizers() -> None:
    case = load_case(str(MOMENTUM_CASE))
    pool = WorkerPool()
    try:
        result = engine.run([case], ("torch", "tensorflow", "paddle"), pool)
    finally:
        pool.close()
    by_api = {(r["api"], r["dtype"]): r for r in result.rows if r.get("variant") is None}
    for api in ("torch.optim.SGD", "paddle.optimizer.Momentum", "keras.regularizers.L2"):
        row = by_api[(api, "float32")]
        assert row["status"] == "match", row["detail"]
        np.testing.assert_allclose(row["raw"], COUPLED, rtol=1e-6)
    keras = by_api[("keras.optimizers.SGD", "float32")]
    assert keras["status"] == "divergent", keras["detail"]
    np.testing.assert_allclose(keras["raw"], DECOUPLED, rtol=1e-6)
    assert result.failures == 0


def test_a_known_entry_of_a_framework_that_did_not_run_is_not_stale(write_case) -> None:
    case = load_case(write_case(
        "weights: {w: [1.0]}\nregularizers: [{l2: 0.5}]\n"
        "known:\n  - {status: mismatch, framework: paddle, reason: only judged where paddle runs}\n"
        "  - {status: mismatch, framework: numpy, reason: numpy ran and matched}\n"
    ))
    rows = [{"framework": "numpy", "api": "numpy.handwritten", "quantity": "penalty", "dtype": "float32",
             "tensor": None, "status": "match", "known": None}]
    stale = engine.apply_known(case, rows)
    assert len(stale) == 1 and "known[1]" in stale[0] and "match" in stale[0]
    skipped = [*rows, {**rows[0], "framework": "paddle", "api": "paddle.handwritten", "status": "skipped"}]
    assert len(engine.apply_known(case, skipped)) == 1  # paddle not installed: its entry unjudged, numpy's stale
