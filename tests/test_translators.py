"""Translators as subjects: PaConvert's and regcompare's translations of torch snippets, and the shipped
cases/programs/paconvert_*.yaml run in torch and paddle, their figures recomputed here in numpy."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from regcompare import programs, translators
from regcompare.cases import load_case, load_cases
from regcompare.engine import Run, run
from regcompare.plan import grads_of
from regcompare.workers import WorkerPool
from tests.conftest import ROOT

PROGRAMS = ROOT / "cases" / "programs"
needs_paconvert = pytest.mark.skipif(translators._paconvert_command() is None,
                                     reason="paconvert not installed: pip install 'regcompare[translators]'")


# --- regcompare's own translate ------------------------------------------------------------------------------


def test_read_torch_call() -> None:
    api, native = translators.read_torch_call("opt = torch.optim.Adam(params.values(), lr=0.01, betas=(0.8, 0.9))\n")
    assert api == "torch.optim.Adam"
    assert native == {"lr": 0.01, "betas[0]": 0.8, "betas[1]": 0.9}


@pytest.mark.parametrize(("source", "message"), [
    ("opt = torch.optim.SGD(params.values(), lr=lr)\n", "lr=lr is not a literal value"),
    ("x = 1\nopt = torch.optim.SGD(params.values(), lr=0.1)\n", "one line"),
    ("opt = keras.optimizers.SGD(learning_rate=0.1)\n", "is not a torch.optim class"),
    ("opt = torch.optim.SGD(lr=0.1\n", "not Python"),
])
def test_unreadable_snippets_are_refused(source: str, message: str) -> None:
    with pytest.raises(translators.Unreadable, match=message):
        translators.read_torch_call(source)
    refused = translators.regcompare_translate(source, ("paddle",))
    assert refused[0].refused and not refused[0].source


def test_regcompare_translation_is_runnable_code() -> None:
    (tf, paddle) = translators.regcompare_translate(
        "opt = torch.optim.AdamW(params.values(), lr=0.01)\n", ("tensorflow", "paddle"))
    assert tf.source == ("opt = keras.optimizers.Adam(weight_decay=0.01, learning_rate=0.01, beta_1=0.9, "
                         "beta_2=0.999, epsilon=1e-08, amsgrad=False)\n")
    assert paddle.source.startswith("opt = paddle.optimizer.AdamW(parameters=list(params.values()), "
                                    "weight_decay=0.01, learning_rate=0.01")


def test_regcompare_refuses_where_nothing_is_equivalent() -> None:
    (tf,) = translators.regcompare_translate(
        "opt = torch.optim.SGD(params.values(), lr=0.1, momentum=0.9, weight_decay=0.1)\n", ("tensorflow",))
    assert tf.refused.startswith("no equivalent setting: decoupled")


# --- PaConvert's output -------------------------------------------------------------------------------------


@needs_paconvert
def test_paconvert_output_carries_the_mistakes() -> None:
    adamw = translators.paconvert("opt = torch.optim.AdamW(params.values(), lr=0.01)\n")
    assert "paddle.optimizer.AdamW(" in adamw.source and "weight_decay=0.0" in adamw.source
    asgd = translators.paconvert("opt = torch.optim.ASGD(params.values(), lr=0.01, lambd=0.1)\n")
    assert "paddle.optimizer.ASGD(" in asgd.source and "lambd" not in asgd.source and not asgd.refused
    rmsprop = translators.paconvert("opt = torch.optim.RMSprop(params.values(), lr=0.0001, eps=1.0e-8)\n")
    assert "epsilon=1e-08" in rmsprop.source.replace("1.0e-8", "1e-08")


@needs_paconvert
def test_paconvert_refusal_is_reported() -> None:
    """PaConvert does not map SGD's momentum (it marks the line): that counts as refused, not run."""
    sgd = translators.paconvert("opt = torch.optim.SGD(params.values(), lr=0.1, momentum=0.9)\n")
    assert sgd.refused.startswith("marked unsupported: >>>>>>")


# --- the shipped cases ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Iterator[Run]:
    if translators._paconvert_command() is None:
        pytest.skip("paconvert not installed")
    pool = WorkerPool()
    try:
        yield run(load_cases([str(p) for p in sorted(PROGRAMS.glob("paconvert_*.yaml"))]),
                  ("torch", "tensorflow", "paddle"), pool)
    finally:
        pool.close()


def _row(result: Run, case: str, tensor: str, program: str = "paddle<paconvert>", against: str = "torch") -> dict:
    return next(r for r in result.rows if (r["case"], r["program"], r["against"], r["tensor"]) ==
                (case, program, against, tensor))


def _start(name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    case = load_case(str(PROGRAMS / f"{name}.yaml"))
    return ({n: w.astype(np.float32).astype(np.float64) for n, w in case.weights.items()},
            grads_of(case, "float32")[1])


def test_summary_per_translator(shipped: Run) -> None:
    """Seven right mappings, eight wrong settings (six mistakes; default lrs of three optimizers), none refused;
    regcompare's own: SGD and Adam to paddle, AdamW to paddle and Keras; Keras refused for coupled decay with Adam
    (its weight_decay is decoupled) and run for plain SGD."""
    summary = programs.translator_summary(shipped.rows)
    pc = summary["paconvert"]
    assert {k: pc[k] for k in ("tried", "equivalent", "wrong", "refused")} == \
        {"tried": 15, "equivalent": 7, "wrong": 8, "refused": 0}
    rc = summary["regcompare"]
    assert {k: rc[k] for k in ("tried", "equivalent", "wrong", "refused")} == \
        {"tried": 6, "equivalent": 5, "wrong": 0, "refused": 1}
    assert shipped.failures == 0 and not shipped.stale
    wrong = [r for r in shipped.rows if r.get("translator") == "paconvert" and r["status"] != "match"]
    assert wrong and all(r["known"] for r in wrong)


def test_group_lr_is_ignored_by_paddle(shipped: Run) -> None:
    """w's group lr 0.5 in torch, paddle's 0.1 after PaConvert: plain SGD, so w − 5·lr·g exactly."""
    w0, g = _start("paconvert_group_lr")
    row = _row(shipped, "paconvert-group-lr", "w")
    np.testing.assert_allclose(row["raw"], w0["w"] - 5 * 0.1 * g["w"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(row["reference"], w0["w"] - 5 * 0.5 * g["w"], rtol=1e-6, atol=1e-6)
    assert _row(shipped, "paconvert-group-lr", "b")["status"] == "match"


def test_first_steps_of_the_lost_defaults(shipped: Run) -> None:
    """Adamax's and Rprop's first step is lr·sign(g): 0.002 vs 0.001 and 0.01 vs 0.001 apart. AdamW's first step
    differs by the decay alone, lr·0.01·|w|; ASGD with lambd by λ·lr·|w|."""
    w0, _ = _start("paconvert_adamw_default_weight_decay")
    biggest = max(float(np.max(np.abs(w0["w"]))), 0.0)
    adamax = _row(shipped, "paconvert-adamax-default-lr", "w")
    rprop = _row(shipped, "paconvert-rprop-default-lr", "w")
    adamw = _row(shipped, "paconvert-adamw-default-weight-decay", "w")
    asgd = _row(shipped, "paconvert-asgd-lambd", "w")
    assert adamax["step_abs_err"][0] == pytest.approx(0.002 - 0.001, rel=1e-3)
    assert rprop["step_abs_err"][0] == pytest.approx(0.01 - 0.001, rel=1e-3)
    assert adamw["step_abs_err"][0] == pytest.approx(0.01 * 0.01 * biggest, rel=1e-2)
    assert asgd["step_abs_err"][0] == pytest.approx(0.1 * 0.01 * biggest, rel=1e-2)
    assert {r["apart_from_step"] for r in (adamax, rprop, adamw, asgd)} == {1}


def _rmsprop(w: np.ndarray, g: np.ndarray, eps_inside: bool) -> np.ndarray:
    """5 steps of RMSprop (lr 1e-4, smoothing 0.99, weight_decay 0.01 coupled, ε 1e-8) in float64."""
    v = np.zeros_like(w)
    for _ in range(5):
        grad = g + 0.01 * w
        v = 0.99 * v + 0.01 * grad**2
        w = w - 1e-4 * grad / (np.sqrt(v + 1e-8) if eps_inside else np.sqrt(v) + 1e-8)
    return w


def test_rmsprop_eps_inside_the_root(shipped: Run) -> None:
    w0, g = _start("paconvert_rmsprop_eps")
    row = _row(shipped, "paconvert-rmsprop-eps", "w")
    np.testing.assert_allclose(row["raw"], _rmsprop(w0["w"], g["w"], eps_inside=True), rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(row["reference"], _rmsprop(w0["w"], g["w"], eps_inside=False), rtol=1e-4, atol=1e-9)
    assert row["status"] == "mismatch" and row["known"]


def test_int_group_weight_decay_crashes_paddle(shipped: Run) -> None:
    row = _row(shipped, "paconvert-group-int-weight-decay", "w")
    assert row["status"] == "error" and row["known"]
    assert "TypeError: 'int' object is not callable" in row["detail"]
