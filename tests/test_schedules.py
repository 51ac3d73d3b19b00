"""Learning-rate schedules: the canonical lr per step, decoupled decay scaled by it (or not), every framework's
real scheduler class, and a weight-decay schedule Keras refuses.

Expected values here are worked out by hand from each schedule's definition, not from regcompare.rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from regcompare import engine, oracle, rules, schedules
from regcompare.cases import CaseError, load_case
from regcompare.conventions import Convention, Decay, Regularizer
from regcompare.conventions.model import arg
from tests.conftest import run_cases

ROOT = Path(__file__).parent.parent
CASES = ROOT / "cases" / "schedules"
ADAMW = {"lr": 1.0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False, "eps_on": "v_hat"}


@pytest.mark.parametrize(("schedule", "lrs"), [
    ({"name": "step", "step_size": 2, "gamma": 0.5}, [0.1, 0.1, 0.05, 0.05, 0.025]),
    ({"name": "exponential", "gamma": 0.8}, [0.1, 0.08, 0.064, 0.0512]),
    ({"name": "cosine", "t_max": 2, "eta_min": 0.01}, [0.1, 0.055, 0.01, 0.01]),
    ({"name": "piecewise", "boundaries": [2, 4], "values": [0.1, 0.05, 0.01]}, [0.1, 0.1, 0.05, 0.05, 0.01]),
    ({"name": "warmup", "warmup_steps": 4, "start_factor": 0.2}, [0.02, 0.04, 0.06, 0.08, 0.1, 0.1]),
])
def test_lr_of_each_step(schedule: dict[str, Any], lrs: list[float]) -> None:
    got = [rules.schedule_lr(schedule, 0.1, k) for k in range(len(lrs))]
    assert got == pytest.approx(lrs, rel=1e-14)


def test_keras_piecewise_switches_one_step_later() -> None:
    schedule = {"name": "piecewise", "boundaries": [2, 4], "values": [0.1, 0.05, 0.01]}
    got = [rules.schedule_lr(schedule, 0.1, k, switch_after=True) for k in range(6)]
    assert got == [0.1, 0.1, 0.1, 0.05, 0.05, 0.01]


def _adamw(decay: Decay, steps: int = 2) -> float:
    settings = ADAMW | {"schedule": {"name": "step", "step_size": 1, "gamma": 0.5}}
    out = rules.update("adam", {"w": np.array([1.0])}, {"w": np.array([0.0])}, {"w": decay}, settings, steps)
    return float(out["w"][0])


def test_decoupled_decay_follows_the_scheduled_lr_or_not() -> None:
    # zero gradients: Adam's own step is 0, only the decay moves w
    assert _adamw(Decay(decoupled=0.1)) == pytest.approx((1 - 1.0 * 0.1) * (1 - 0.5 * 0.1), rel=1e-15)  # 0.855
    assert _adamw(Decay(decoupled=0.1, unscaled=True)) == pytest.approx((1 - 0.1) ** 2, rel=1e-15)  # 0.81


def test_oracle_knows_both_decoupled_conventions() -> None:
    args = ({"w": np.array([1.0])}, {"w": np.array([0.0])}, Regularizer(l2=0.1), "adam",
            ADAMW | {"schedule": {"name": "step", "step_size": 1, "gamma": 0.5}}, 2)
    assert oracle.update(*args, "decoupled")["w"][0] == pytest.approx(0.855, rel=1e-15)
    assert oracle.update(*args, "decoupled_unscaled")["w"][0] == pytest.approx(0.81, rel=1e-15)


def test_a_weight_decay_schedule_scales_the_decay_with_the_lr() -> None:
    settings = ADAMW | {"schedule": {"name": "step", "step_size": 1, "gamma": 0.5, "weight_decay": True}}
    out = rules.update("adam", {"w": np.array([1.0])}, {"w": np.array([0.0])}, {"w": Decay(decoupled=0.1)},
                       settings, 2)
    assert out["w"][0] == pytest.approx((1 - 0.1) * (1 - 0.5 * 0.5 * 0.1), rel=1e-15)


def test_an_unscaled_api_is_divergent_with_its_formula() -> None:
    """A decoupled API documented as not following the schedule: judged against the unscaled oracle."""
    case = load_case(str(CASES / "adamw_step_decay.yaml"))
    item = next(i for i in engine.plan_case(case, ("torch",)) if i.api == "torch.optim.AdamW")
    record, item.expected = item.conv, None  # the case's 0.855 is the scaled convention's value
    item.conv = Convention(record.api, record.framework, record.measures, record.quantities,
                           (arg("weight_decay", "l2"),), "w ← w − lr₀·weight_decay·w", "decoupled", record.how,
                           optimizers=record.optimizers, decay_follows_lr=False)
    rows = engine.judge(item, engine.Outcome("ok", value={"w": np.array([0.81], np.float32)}), case.weights)
    assert rows[0]["status"] == "divergent"
    assert "w ← w − lr₀·weight_decay·w" in rows[0]["detail"]
    scaled = engine.judge(item, engine.Outcome("ok", value={"w": np.array([0.855], np.float32)}), case.weights)
    assert scaled[0]["status"] == "mismatch"


def test_every_framework_has_a_class_for_every_schedule() -> None:
    names = {"step", "exponential", "cosine", "piecewise", "warmup"}
    for framework in ("torch", "tensorflow", "paddle"):
        assert set(schedules.SCHEDULERS[framework]) == names
    assert schedules.text("torch", {"name": "step", "step_size": 2, "gamma": 0.5}, 0.1) == (
        "torch.optim.lr_scheduler.StepLR(step_size=2, gamma=0.5)")


def test_piecewise_needs_one_more_value_than_boundaries(write_case) -> None:
    path = write_case("weights: {w: [1.0]}\nquantities: [update]\nregularizers: [{l2: 0.1}]\n"
                      "optimizer: {name: sgd, schedule: {name: piecewise, boundaries: [2], values: [0.1]}}\n")
    with pytest.raises(CaseError, match="schedule"):
        load_case(path)


def test_unknown_schedule_key_names_its_line(write_case) -> None:
    path = write_case("weights: {w: [1.0]}\nquantities: [update]\nregularizers: [{l2: 0.1}]\n"
                      "optimizer:\n  name: sgd\n  schedule: {name: step, step_size: 1, gama: 0.5}\n")
    with pytest.raises(CaseError, match=r"case.yaml:6: .*gama"):
        load_case(path)


@pytest.fixture(scope="module")
def schedule_rows() -> list[dict[str, Any]]:
    result = run_cases(sorted(CASES.glob("*.yaml")))
    assert result.failures == 0, [(r["case"], r["api"], r["detail"]) for r in result.rows
                                  if r["status"] in ("mismatch", "error") and not r["known"]]
    return result.rows


def _row(rows: list[dict[str, Any]], case: str, api: str, **keys: Any) -> dict[str, Any]:
    return next(r for r in rows if r["case"] == case and r["api"] == api
                and all(r.get(k) == v for k, v in keys.items()))


def test_adamw_step_schedule_gives_0855_in_all_three(schedule_rows: list[dict[str, Any]]) -> None:
    for api in ("torch.optim.AdamW", "keras.optimizers.AdamW", "paddle.optimizer.AdamW"):
        row = _row(schedule_rows, "schedules-adamw-step", api)
        assert row["raw"][0] == pytest.approx(0.855, rel=1e-6)
        assert row["status"] == "divergent"


def test_keras_piecewise_is_divergent_the_others_match(schedule_rows: list[dict[str, Any]]) -> None:
    case = "schedules-sgd-plain-piecewise"
    assert _row(schedule_rows, case, "torch.optim.SGD")["status"] == "match"
    assert _row(schedule_rows, case, "paddle.optimizer.SGD")["status"] == "match"
    keras = _row(schedule_rows, case, "keras.regularizers.L2")
    assert keras["status"] == "divergent" and "step > boundaries" in keras["detail"]
    assert keras["schedule"].startswith("keras.optimizers.schedules.PiecewiseConstantDecay(")


def test_keras_momentum_keeps_the_lr_of_past_steps(schedule_rows: list[dict[str, Any]]) -> None:
    for name in ("step", "exponential", "cosine", "warmup"):
        case = f"schedules-sgd-momentum-{name}"
        assert _row(schedule_rows, case, "torch.optim.SGD", tensor="w")["status"] == "match"
        assert _row(schedule_rows, case, "paddle.optimizer.Momentum", tensor="w")["status"] == "match"
        keras = _row(schedule_rows, case, "keras.regularizers.L2", tensor="w")
        assert keras["status"] == "divergent" and "inside its momentum" in keras["detail"]


def test_keras_refuses_a_weight_decay_schedule(schedule_rows: list[dict[str, Any]]) -> None:
    row = _row(schedule_rows, "schedules-weight-decay-schedule", "keras.optimizers.AdamW")
    assert row["status"] == "unsupported"
    assert "weight_decay=<callable>" in row["detail"] and "unsupported type" in row["detail"]
    torch_row = _row(schedule_rows, "schedules-weight-decay-schedule", "torch.optim.AdamW")
    assert torch_row["status"] == "skipped" and "no weight-decay schedule" in torch_row["detail"]


def test_conventions_list_every_scheduler_class_with_its_arguments_source_and_stepping() -> None:
    from regcompare.cli import conventions_text

    text = " ".join(conventions_text(400).split())
    for line in ("step: torch.optim.lr_scheduler.StepLR(step_size=step_size, gamma=gamma) — "
                 "torch/optim/lr_scheduler.py StepLR.get_lr",
                 "step: keras.optimizers.schedules.ExponentialDecay(initial_learning_rate=lr, decay_steps=step_size, "
                 "decay_rate=gamma, staircase=True)",
                 "cosine: keras.optimizers.schedules.CosineDecay(initial_learning_rate=lr, decay_steps=t_max, "
                 "alpha=eta_min/lr)",
                 "piecewise: keras.optimizers.schedules.PiecewiseConstantDecay(boundaries=boundaries, values=values)",
                 "boundaries − 1 give the canonical lrs",
                 "step: paddle.optimizer.lr.StepDecay(learning_rate=lr, step_size=step_size, gamma=gamma)",
                 "warmup: paddle.optimizer.lr.LinearWarmup(learning_rate=lr, warmup_steps=warmup_steps, "
                 "start_lr=start_factor·lr, end_lr=lr)",
                 "Stepped by optimizer iterations: keras/src/optimizers/base_optimizer.py _get_current_learning_rate",
                 "Stepped by scheduler.step() calls: torch/optim/lr_scheduler.py LRScheduler.step"):
        assert line in text, line
    # the two conventions of decoupled decay under a schedule
    assert "w ← w − lr(k)·weight_decay·w (measured: w = 1, lr 1.0 then 0.5, decay 0.1, zero gradients → 0.855)" in text
    assert "not multiplied by the scheduled lr" in text


def test_keras_schedules_are_the_same_classes_on_every_backend() -> None:
    spec = {"name": "step", "step_size": 2, "gamma": 0.5}
    for backend in ("keras-torch", "keras-jax"):
        assert schedules.scheduler(backend, spec) is schedules.scheduler("tensorflow", spec)
        momentum = schedules.semantics(backend, "sgd", {"schedule": spec, "momentum": 0.9})[0]
        assert momentum == {"lr_in_momentum": True}
