"""``regcompare translate --scheduler``: a source optimizer with its framework's lr scheduler class translates to every
other framework's class (the registry's schedule records), and round trips run the translated settings, schedule
included, through the real frameworks and compare the weights after each run.

Expected values that are not framework-vs-framework comparisons are worked out by hand (0.855: w = 1, zero
gradients, decoupled decay 0.1 at lr 1.0 then 0.5: 1·(1 − 0.1)·(1 − 0.05)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from regcompare import adapters, translate
from regcompare.adapters.base import Task
from regcompare.cli import EXIT_OK, EXIT_USAGE, main
from regcompare.conventions import schedule_records
from regcompare.workers import Outcome, evaluate

W = np.array([[1.0, -2.0], [-3.0, 4.0]], np.float32)
G = np.array([[1.0, 0.5], [-0.25, 2.0]], np.float32)
STEPS = 5
FRAMEWORKS = ("torch", "tensorflow", "paddle")

#: (source API, its arguments, its framework's scheduler): AdamW with StepLR (the issue), SGD+momentum with a cosine
#: schedule (Keras keeps the lr inside its momentum: no Keras equivalent), paddle SGD with PiecewiseDecay (Keras
#: boundaries shifted by one), Keras AdamW with ExponentialDecay, Keras SGD with a PolynomialDecay warm-up.
SOURCES: list[tuple[str, list[str], str]] = [
    ("torch.optim.AdamW", ["lr=0.1", "weight_decay=0.1"], "StepLR(step_size=2, gamma=0.5)"),
    ("torch.optim.SGD", ["lr=0.1", "momentum=0.9", "weight_decay=0.5"], "CosineAnnealingLR(T_max=4, eta_min=0.01)"),
    ("paddle.optimizer.SGD", ["learning_rate=0.1", "weight_decay=0.5"],
     "PiecewiseDecay(boundaries=[2, 4], values=[0.1, 0.05, 0.01])"),
    ("keras.optimizers.AdamW", ["weight_decay=0.1", "epsilon=1e-8"],
     "ExponentialDecay(initial_learning_rate=0.1, decay_steps=1, decay_rate=0.8)"),
    ("keras.optimizers.SGD", ["weight_decay=0.5"],
     "PolynomialDecay(initial_learning_rate=0.02, decay_steps=3, end_learning_rate=0.1, power=1.0)"),
]


def _framework(api: str) -> str:
    return adapters.conventions()[api].framework


def _run(tasks: list[Task]) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    for fw in sorted({_framework(t.api) for t in tasks}):
        mine = [t for t in tasks if _framework(t.api) == fw]
        outcomes |= {id(t): o for t, o in zip(mine, evaluate(fw, mine), strict=True)}
    return outcomes


def _source_task(src: translate.Source, weights: np.ndarray, grads: np.ndarray, steps: int,
                 schedule: bool = True) -> Task:
    options: dict[str, Any] = {"optimizer": src.call.api, "args": src.call.native(src.settings),
                               "grads": {"w": grads}, "steps": steps}
    if schedule:
        options["schedule"] = _source_schedule(src)
    return Task(src.conv.api, "update", "float32", src.conv.to_native(src.reg), {"w": weights}, options)


def _source_schedule(src: translate.Source) -> dict[str, Any]:
    """The schedule as the source's own class takes it (Keras boundaries as written, i.e. shifted back)."""
    spec = src.settings["schedule"]
    found = translate.schedules.scheduler(src.conv.framework, spec)
    assert found is not None
    return found.translated(spec)


#: The measured fact through translated settings: torch AdamW(lr=1.0, weight_decay=0.1) with StepLR(step_size=1,
#: gamma=0.5), w = 1, zero gradients, two steps.
MEASURED = ("torch.optim.AdamW", ["lr=1.0", "weight_decay=0.1"], "StepLR(step_size=1, gamma=0.5)")


@dataclass(frozen=True)
class Trajectory:
    """One setting's weights after each of 1 … n steps (each step count its own real run): round trips compare
    trajectories, not only where they end."""

    runs: tuple[Outcome, ...]

    @property
    def status(self) -> str:
        return next((o.status for o in self.runs if o.status != "ok"), "ok")

    @property
    def detail(self) -> str:
        return next((o.detail for o in self.runs if o.status != "ok"), "")

    @property
    def value(self) -> dict[str, Any]:
        return self.runs[-1].value


Trip = tuple[str, Trajectory, Trajectory, list[tuple[translate.Translation, Trajectory]]]


def _steps(make: Any, steps: int) -> list[Task]:
    return [make(k) for k in range(1, steps + 1)]


def _plan(api: str, pairs: list[str], scheduler: str, w: np.ndarray, g: np.ndarray, steps: int) -> tuple:
    src = translate.parsed_source(api, pairs, None, scheduler)
    own = _steps(lambda k: _source_task(src, w, g, k), steps)
    constant = _steps(lambda k: _source_task(src, w, g, k, schedule=False), steps)
    targets = [(t, _steps(lambda k, t=t: Task(t.conv.api, "update", "float32", t.native, {"w": w},
                                              t.options({"w": g}, k)), steps))
               for t in translate.translations(src) if t.framework in FRAMEWORKS]
    return api, own, constant, targets


@pytest.fixture(scope="module")
def all_trips() -> list[Trip]:
    """Every source's round trip, the measured one last; one worker per framework for all of them."""
    plans = [_plan(api, pairs, scheduler, W, G, STEPS) for api, pairs, scheduler in SOURCES]
    plans.append(_plan(*MEASURED, np.array([1.0], np.float32), np.array([0.0], np.float32), 2))
    tasks = [t for _, own, constant, targets in plans
             for run in (own, constant, *(task for _, task in targets)) for t in run]
    out = _run(tasks)

    def trajectory(run: list[Task]) -> Trajectory:
        return Trajectory(tuple(out[id(t)] for t in run))

    return [(api, trajectory(own), trajectory(constant), [(t, trajectory(run)) for t, run in targets])
            for api, own, constant, targets in plans]


@pytest.fixture(scope="module")
def round_trips(all_trips: list[Trip]) -> list[Trip]:
    return all_trips[:-1]


def _close(a: Trajectory, b: Trajectory) -> bool:
    return all(np.allclose(x.value["w"], y.value["w"], rtol=2e-5, atol=1e-6)
               for x, y in zip(a.runs, b.runs, strict=True))


def test_the_schedule_changes_the_result(round_trips) -> None:
    """Each source's scheduled run differs from its constant-lr run: the round trips below test the schedule."""
    for api, own, constant, _ in round_trips:
        assert own.status == "ok" and constant.status == "ok", (api, own.detail, constant.detail)
        assert not _close(own, constant), api


def test_every_equivalent_scheduled_translation_reproduces_the_source(round_trips) -> None:
    reproduced = set()
    for api, own, _, targets in round_trips:
        for t, outcome in targets:
            if t.equivalent:
                assert t.schedule is not None, t.text()
                assert outcome.status == "ok", (t.text(), outcome.detail)
                assert _close(own, outcome), f"{api} → {t.text()}: {own.value['w']} vs {outcome.value['w']}"
                reproduced.add((api, t.framework))
    for api, _, _ in SOURCES:
        wanted = set(FRAMEWORKS) - {_framework(api)}
        if api == "torch.optim.SGD":  # momentum under a schedule: Keras keeps the lr inside the momentum
            wanted.discard("tensorflow")
        assert {fw for a, fw in reproduced if a == api} >= wanted, api


def test_translations_marked_not_equivalent_under_the_schedule_really_differ(round_trips) -> None:
    differing = 0
    for api, own, _, targets in round_trips:
        for t, outcome in targets:
            if not t.equivalent and t.schedule is not None and not t.nearest:
                assert outcome.status == "ok", (t.text(), outcome.detail)
                assert not _close(own, outcome), f"{api}: {t.text()} was said to differ but agrees"
                differing += 1
    assert differing >= 5


def test_keras_momentum_under_a_schedule_is_not_equivalent(round_trips) -> None:
    _, own, _, targets = next(trip for trip in round_trips if trip[0] == "torch.optim.SGD")
    keras = [(t, o) for t, o in targets if t.call.api == "keras.optimizers.SGD"]
    assert keras and all(not t.equivalent and "keeps the lr inside its momentum" in t.why for t, _ in keras)
    assert all(not _close(own, o) for _, o in keras)


def test_the_measured_0855_through_translated_settings(all_trips: list[Trip]) -> None:
    """0.9·0.95 = 0.855 in torch and in its Keras and paddle AdamW translations."""
    _, own, _, targets = all_trips[-1]
    adamw = [(t, o) for t, o in targets if t.equivalent and t.call.api in ("keras.optimizers.AdamW",
                                                                            "paddle.optimizer.AdamW")]
    assert len(adamw) == 2
    for outcome in [own, *(o for _, o in adamw)]:
        assert outcome.status == "ok", outcome.detail
        assert float(np.asarray(outcome.value["w"])[0]) == pytest.approx(0.855, rel=1e-6)


# --- reading a class back: every record, without frameworks -----------------------------------------------------------

SPECS = {
    "step": {"name": "step", "step_size": 3, "gamma": 0.5},
    "exponential": {"name": "exponential", "gamma": 0.8},
    "cosine": {"name": "cosine", "t_max": 4, "eta_min": 0.01},
    "piecewise": {"name": "piecewise", "boundaries": [2, 4], "values": [0.1, 0.05, 0.01]},
    "warmup": {"name": "warmup", "warmup_steps": 3, "start_factor": 0.2},
}


@pytest.mark.parametrize("found", schedule_records.SCHEDULE_CLASSES, ids=lambda c: f"{c.framework}-{c.schedule}")
def test_each_class_reads_back_into_its_schedule(found: schedule_records.ScheduleClass) -> None:
    spec, lr = SPECS[found.schedule], 0.1
    native = found.kwargs(found.translated(spec), lr)
    if found.api.endswith("LambdaLR"):
        with pytest.raises(schedule_records.ScheduleReadError, match="Python function"):
            found.read(native, lr)
        return
    back, back_lr = found.read(native, lr)
    assert back_lr == pytest.approx(lr)
    assert back.keys() == spec.keys()
    for key, value in spec.items():
        assert back[key] == (value if isinstance(value, str | list) else pytest.approx(value)), key


def test_decoupled_decay_that_does_not_follow_the_schedule_is_no_equivalent() -> None:
    """TF add-ons' AdamW (a documented record, decay_follows_lr=False) against torch AdamW under a schedule."""
    src = translate.parsed_source("torch.optim.AdamW", ["lr=1.0", "weight_decay=0.1"], None,
                                  "StepLR(step_size=1, gamma=0.5)")
    tfa = adapters.conventions()["tfa.optimizers.AdamW"]
    said = translate._decay_follows(src, tfa)
    assert said.startswith("no equivalent") and "w ← w − lr₀·λ·w (not scaled)" in said
    keras = adapters.conventions()["keras.optimizers.AdamW"]
    assert translate._decay_follows(src, keras).startswith("weight decay follows the scheduled lr in both")


# --- the command line ---------------------------------------------------------------------------------------------------


def _translate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["translate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_issue_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _translate(capsys, "torch.optim.AdamW", "lr=1e-3", "weight_decay=0.01", "--scheduler",
                                "StepLR(step_size=10, gamma=0.5)")
    assert code == EXIT_OK, err
    keras = out.split("\ntensorflow:\n")[1].split("\npaddle:\n")[0]
    assert ("= keras.optimizers.AdamW(weight_decay=0.01, learning_rate=0.001" in keras and
            "with learning_rate=keras.optimizers.schedules.ExponentialDecay(initial_learning_rate=0.001, "
            "decay_steps=10, decay_rate=0.5, staircase=True) in place of the number" in keras)
    assert "stepped by optimizer iterations" in keras and "the source by scheduler.step() calls" in keras
    assert "weight decay follows the scheduled lr in both" in keras
    paddle = out.split("\npaddle:\n")[1].split("\njax:\n")[0]
    assert "= paddle.optimizer.AdamW(weight_decay=0.01, learning_rate=0.001" in paddle
    assert "paddle.optimizer.lr.StepDecay(learning_rate=0.001, step_size=10, gamma=0.5)" in paddle
    assert "stepped as the source: by scheduler.step() calls" in paddle
    torch_block = out.split("\ntorch:\n")[1].split("\ntensorflow:\n")[0]
    assert "[the source itself]\n      with scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, " \
           "gamma=0.5); scheduler.step() after optimizer.step()" in torch_block


@pytest.mark.parametrize(("scheduler", "message"), [
    ("MultiplicativeLR(lr_lambda=0.5)", "translate knows the torch scheduler classes"),
    ("LambdaLR(lr_lambda=0.5)", "takes a Python function"),
    ("StepLR(step_size=10, gama=0.5)", "takes no argument 'gama'"),
    ("StepLR(step_size=0)", "step_size"),
    ("StepLR(10)", "give the arguments by name"),
    ("StepLR(step_size=lr)", "numbers, lists of numbers or booleans"),
])
def test_bad_schedulers_are_usage_errors(capsys: pytest.CaptureFixture[str], scheduler: str, message: str) -> None:
    code, _, err = _translate(capsys, "torch.optim.AdamW", "weight_decay=0.01", "--scheduler", scheduler)
    assert code == EXIT_USAGE and message in err and "Traceback" not in err


def test_keras_exponential_decay_reads_as_step_or_exponential(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _translate(capsys, "keras.optimizers.AdamW", "weight_decay=0.01", "--scheduler",
                                "ExponentialDecay(initial_learning_rate=0.01, decay_steps=10, decay_rate=0.5, "
                                "staircase=True)")
    assert code == EXIT_OK, err
    assert "torch.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)" in out
    code, out, err = _translate(capsys, "keras.optimizers.AdamW", "weight_decay=0.01", "--scheduler",
                                "ExponentialDecay(initial_learning_rate=0.01, decay_steps=1, decay_rate=0.9)")
    assert code == EXIT_OK and "torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)" in out
    code, _, err = _translate(capsys, "keras.optimizers.AdamW", "weight_decay=0.01", "--scheduler",
                              "ExponentialDecay(initial_learning_rate=0.01, decay_steps=10, decay_rate=0.5)")
    assert code == EXIT_USAGE and "staircase" in err and "decay_steps" in err
