"""The `trajectory` quantity: the float64 oracle, the shared inputs, load-time checks, judging, the report's
curves, and a small run through real torch and numpy workers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from regcompare import engine, report, trajectory
from regcompare.cases import load_case
from regcompare.schema import CaseSpec, TrajectorySpec
from regcompare.workers import Outcome, evaluate

ROOT = Path(__file__).parent.parent
SEED = ROOT / "cases" / "seeds" / "d2l_weight_decay.yaml"
SMALL = """\
name: small-trajectory
weights:
  w: {shape: [10, 1], init: normal, seed: 1}
  b: {shape: [1], fill: 0.0}
dtypes: [float32, float64]
regularizers: [{l2: 0.0}, {l2: 3.0}]
quantities: [trajectory]
trajectory: {train: 7, test: 9, batch: 3, epochs: 4, lr: 0.01, seed: 2}
"""


def _small_data() -> trajectory.Data:
    spec = TrajectorySpec(train=6, test=5, batch=4, epochs=1, lr=0.05, shuffle=False)
    w = np.random.default_rng(3).normal(size=(4, 1))
    return trajectory.Data(w, np.array([0.2]), *trajectory.generate(spec, 4), spec.batch, spec.lr)


def _objective(data: trajectory.Data, index: np.ndarray, lam: float, w: np.ndarray, b: np.ndarray) -> float:
    r = data.x_train[index] @ w + b - data.y_train[index]
    return float(np.mean(r * r) / 2 + lam / 2 * np.sum(w * w))


def test_one_oracle_step_descends_the_stated_objective() -> None:
    # One epoch of one full batch of 4 (then a batch of 2): check the first step against J's gradient by
    # central differences, so a wrong ½, a sum instead of a mean or a decayed bias all fail.
    data = dataclasses.replace(_small_data(), order=np.arange(6)[None, :4], batch=4)
    lam, index, h = 3.0, np.arange(4), 1e-6
    grad_w = np.array([(_objective(data, index, lam, data.w + h * e, data.b)
                        - _objective(data, index, lam, data.w - h * e, data.b)) / (2 * h)
                       for e in np.eye(4)[:, :, None]])
    grad_b = (_objective(data, index, lam, data.w, data.b + h) - _objective(data, index, lam, data.w, data.b - h)) / (2 * h)
    w1, b1 = data.w - data.lr * grad_w.reshape(4, 1), data.b - data.lr * grad_b
    curves = trajectory.oracle(data, lam)
    assert curves["w_norm"] == pytest.approx(np.sqrt(np.sum(w1 * w1)), rel=1e-8)
    r = data.x_test @ w1 + b1 - data.y_test
    assert curves["test_loss"][0] == pytest.approx(np.mean(r * r) / 2, rel=1e-8)


def test_decoupled_and_coupled_agree_for_plain_sgd() -> None:
    data = _small_data()
    coupled, decoupled = trajectory.oracle(data, 3.0), trajectory.oracle(data, 3.0, "decoupled")
    np.testing.assert_allclose(trajectory.flatten(decoupled), trajectory.flatten(coupled), rtol=1e-13)


def test_the_seed_reproduces_d2l_conclusion() -> None:
    data = trajectory.data_of(load_case(str(SEED)), "float64")
    free, decayed = trajectory.oracle(data, 0.0), trajectory.oracle(data, 3.0)
    assert free["train_loss"][-1] < 1e-4 < 50 < free["test_loss"][-1]  # λ = 0 overfits
    assert decayed["test_loss"][-1] < free["test_loss"][-1] / 100
    assert decayed["w_norm"] < free["w_norm"] / 10


def test_every_framework_gets_the_same_inputs() -> None:
    case = load_case(str(SEED))
    a, b = trajectory.data_of(case, "float32"), trajectory.data_of(case, "float32")
    for key, value in a.options().items():
        np.testing.assert_array_equal(value, b.options()[key])
    assert a.x_train.dtype == np.float32 and a.order.shape == (100, 20)
    assert sorted(a.order[0]) == list(range(20)) and not np.array_equal(a.order[0], a.order[1])  # reshuffled


@pytest.mark.parametrize(("change", "message"), [
    ({"trajectory": None}, "needs a `trajectory` block"),
    ({"weights": {"w": {"shape": [3, 2], "fill": 1.0}, "b": {"shape": [1], "fill": 0.0}}}, "needs [features, 1]"),
    ({"weights": {"w": {"shape": [3, 1], "fill": 1.0}}}, "trains `w`"),
    ({"regularizers": [{"l1": 0.5}]}, "`l2` only"),
])
def test_load_time_problems(write_case, change: dict, message: str) -> None:
    import yaml

    data = yaml.safe_load(SMALL) | change
    data = {k: v for k, v in data.items() if v is not None}
    spec = CaseSpec.model_validate(data)
    weights = {n: np.full(s.shape, 1.0) for n, s in spec.weights.items()}
    found = trajectory.problems(spec, weights)
    assert any(message in text for _, text in found), found


def _items(text: str, write_case, frameworks: tuple[str, ...]) -> tuple[list[engine.Item], engine.Inputs]:
    case = load_case(write_case(text))
    return engine.plan_case(case, frameworks), engine.Inputs()


def test_judge_matches_the_oracle_and_catches_d2l_concise_scaling(write_case) -> None:
    items, _ = _items(SMALL, write_case, ("torch",))
    item = next(i for i in items if i.api == "torch.optim.SGD" and i.dtype == "float64" and i.regularizer.l2)
    data = trajectory.data_of(item.case, item.dtype)
    good = trajectory.oracle(data, 3.0)
    row, = engine.judge(item, Outcome("ok", good), {})
    assert row["status"] == "match" and row["raw"] == row["reference"] and row["deviation"]["w_norm"] == 0
    assert len(row["train_loss"]) == 4 and row["style"] == "concise"
    # d2l's concise MSE has no ½: twice the data gradient, i.e. the data term at twice the lr.
    doubled = trajectory.oracle(dataclasses.replace(data, lr=2 * data.lr), 1.5)
    row, = engine.judge(item, Outcome("ok", doubled), {})
    assert row["status"] == "mismatch" and "loss, epoch" in row["detail"]


def test_keras_weight_decay_is_decoupled_but_agrees_under_plain_sgd(write_case) -> None:
    items, _ = _items(SMALL, write_case, ("tensorflow",))
    item = next(i for i in items if i.api == "keras.optimizers.SGD" and i.dtype == "float64" and i.regularizer.l2)
    curves = trajectory.oracle(trajectory.data_of(item.case, item.dtype), 3.0, "decoupled")
    row, = engine.judge(item, Outcome("ok", curves), {})
    assert row["status"] == "match" and "agree here" in row["detail"] and row["decoupled_reference"] is not None


def test_real_workers_trace_the_oracle(write_case) -> None:
    items, inputs = _items(SMALL, write_case, ("numpy", "torch"))
    assert {i.api for i in items} == {"numpy.handwritten", "torch.handwritten", "torch.optim.SGD"}
    rows = []
    for framework in ("numpy", "torch"):
        mine = [i for i in items if i.framework == framework]
        outcomes = evaluate(framework, [engine.job_of(k, i, inputs).task for k, i in enumerate(mine)])
        rows += [r for i, o in zip(mine, outcomes, strict=True) for r in engine.judge(i, o, {})]
    assert len(rows) == 12 and {r["status"] for r in rows} == {"match"}, [r["detail"] for r in rows]
    assert max(r["deviation"]["test_loss"] for r in rows if r["dtype"] == "float64") < 1e-12


def test_report_draws_the_curves(write_case) -> None:
    items, _ = _items(SMALL, write_case, ("torch",))
    rows = [r for i in items for r in engine.judge(
        i, Outcome("ok", trajectory.oracle(trajectory.data_of(i.case, i.dtype), i.regularizer.l2)), {})]
    figure = report.trajectory_curves(rows)
    assert figure.svg is not None and "λ = 3" in figure.svg and "torch.optim.SGD" in figure.svg
    assert "λ = 0: final test loss" in figure.caption and "(float32)" in figure.svg
    assert report.trajectory_curves([]).svg is None
