"""The jax adapter (jax.numpy penalties, jax.grad, optax chains, flax nnx.Optimizer) against hand-computed numbers,
run in a worker subprocess. Update references are written out here step by step in numpy (not regcompare.rules)."""

from __future__ import annotations

import importlib.util
import json
import math
import os

import ml_dtypes
import numpy as np
import pytest

from regcompare.adapters.base import Task
from regcompare.workers import Outcome, evaluate
from tests.conftest import run_cli

if importlib.util.find_spec("jax") is None or importlib.util.find_spec("optax") is None:
    pytest.skip("needs jax and optax installed", allow_module_level=True)

SEED = np.array([[1.0, -2.0], [-3.0, 4.0]])  # Σ|w| = 10, Σw² = 30
BIAS = np.array([0.5, -0.25])
GRAD_W = np.array([[1.0, 0.5], [-0.25, 2.0]])
NUMPY = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32, "float64": np.float64}
ADAM = {"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8}
SGD = {"learning_rate": 0.1, "momentum": 0.9, "nesterov": False}


def _penalty(api: str, quantity: str, dtype: str, native: dict, w: np.ndarray = SEED) -> Task:
    return Task(api, quantity, dtype, native, {"w": w.astype(NUMPY[dtype])})


def _update(api: str, optimizer: str, args: dict, wd: float, dtype: str = "float64", scope: list | None = None,
            bias: bool = False) -> Task:
    weights = {"w": SEED, **({"b": BIAS} if bias else {})}
    grads = {"w": GRAD_W, **({"b": np.ones(2)} if bias else {})}
    options = {"optimizer": optimizer, "args": args, "steps": 3,
               "grads": {n: g.astype(NUMPY[dtype]) for n, g in grads.items()}}
    if scope is not None:
        options["scope"] = scope
    return Task(api, "update", dtype, {"weight_decay": wd}, {n: w.astype(NUMPY[dtype]) for n, w in weights.items()},
                options)


TASKS: dict[str, Task] = {
    "l2": _penalty("jax.handwritten", "penalty", "float32", {"l2": 1.0}),
    "l1": _penalty("jax.handwritten", "penalty", "float32", {"l1": 0.5}),
    "tree_norm": _penalty("optax.tree_utils.tree_norm", "penalty", "float32", {"l2": 1.0}),
    "tree_norm_bf16": _penalty("optax.tree_utils.tree_norm", "penalty", "bfloat16", {"l2": 1.0}),
    "f64_l2": _penalty("jax.handwritten", "penalty", "float64", {"l2": 0.1}),
    "f16_l2": _penalty("jax.handwritten", "penalty", "float16", {"l2": 0.01}, SEED * 100.0),
    "grad": _penalty("jax.handwritten", "gradient", "float64", {"l1": 0.5, "l2": 0.25}),
    "grad_inf_l1": _penalty("jax.handwritten", "gradient", "float32", {"l1": 0.5}, np.array([np.inf, -1.0])),
    "adam_coupled": _update("optax.add_decayed_weights", "optax.adam", ADAM, 0.5),
    "adam_after": _update("optax.add_decayed_weights.after", "optax.adam", ADAM, 0.5),
    "adamw": _update("optax.adamw", "optax.adamw", ADAM, 0.5),
    "adamw_mask_callable": _update("optax.adamw", "optax.adamw", ADAM | {"mask": "callable"}, 0.5),
    "sgd_coupled": _update("optax.add_decayed_weights", "optax.sgd", SGD, 0.5),
    "sgd_after": _update("optax.add_decayed_weights.after", "optax.sgd", SGD, 0.5),
    "sgd_plain_no_momentum": _update("optax.add_decayed_weights", "optax.sgd", SGD | {"momentum": 0.0}, 0.5),
    "adamw_scope_w": _update("optax.adamw", "optax.adamw", ADAM, 0.5, scope=["w"], bias=True),
    "flax_kernels": _update("flax.nnx.Optimizer", "optax.adamw", ADAM, 0.5, scope=["w"], bias=True),
    "flax_all": _update("flax.nnx.Optimizer", "optax.adamw", ADAM, 0.5, bias=True),
    "flax_bias_scope": _update("flax.nnx.Optimizer", "optax.adamw", ADAM, 0.5, scope=["b"], bias=True),
    **{f"adamw_{d}": _update("optax.adamw", "optax.adamw", ADAM, 0.5, dtype=d) for d in ("float16", "bfloat16",
                                                                                          "float32")},
}


@pytest.fixture(scope="module")
def out() -> dict[str, Outcome]:
    return dict(zip(TASKS, evaluate("jax", list(TASKS.values())), strict=True))


def _ok(out: dict[str, Outcome], label: str):
    assert out[label].status == "ok", f"{label}: {out[label]}"
    return out[label].value


def _adam(w: np.ndarray, g: np.ndarray, coupled: float = 0.0, decoupled: float = 0.0, steps: int = 3) -> np.ndarray:
    """Adam as the Adam paper writes it, with ε outside √v̂, decay either added to g or applied to w."""
    m = v = np.zeros_like(w)
    for t in range(1, steps + 1):
        gt = g + coupled * w
        m, v = 0.9 * m + 0.1 * gt, 0.999 * v + 0.001 * gt * gt
        direction = (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        w = w - 0.1 * (direction + decoupled * w)
    return w


def _momentum(w: np.ndarray, g: np.ndarray, coupled: float = 0.0, decoupled: float = 0.0) -> np.ndarray:
    """Heavy ball t ← g + 0.9t, w ← w − 0.1(t + decoupled·w)."""
    trace = np.zeros_like(w)
    for _ in range(3):
        trace = g + coupled * w + 0.9 * trace
        w = w - 0.1 * (trace + decoupled * w)
    return w


@pytest.mark.parametrize(("label", "expected"), [("l2", 15.0), ("l1", 5.0), ("tree_norm", 15.0),
                                                   ("tree_norm_bf16", 15.0)])
def test_seed_penalties(out: dict[str, Outcome], label: str, expected: float) -> None:
    value = np.asarray(_ok(out, label))
    assert value.dtype == NUMPY[TASKS[label].dtype] and float(value) == expected


def test_float64_stays_float64(out: dict[str, Outcome]) -> None:
    value = np.asarray(_ok(out, "f64_l2"))
    assert value.dtype == np.float64 and float(value) == pytest.approx(1.5, rel=1e-15)


def test_float16_sum_of_squares_overflows_in_float16(out: dict[str, Outcome]) -> None:
    # exact: 0.01/2 · 300000 = 1500, but Σw² = 3e5 > 65504 in float16 (no silent widening)
    assert math.isinf(float(np.asarray(_ok(out, "f16_l2"))))


def test_gradients_by_jax_grad(out: dict[str, Outcome]) -> None:
    np.testing.assert_array_equal(_ok(out, "grad")["w"], 0.5 * np.sign(SEED) + 0.25 * SEED)
    # the l2 term is not written when its coefficient is 0, so an infinite weight keeps a finite L1 gradient
    np.testing.assert_array_equal(_ok(out, "grad_inf_l1")["w"], [0.5, -0.5])


def test_add_decayed_weights_before_adam_is_coupled(out: dict[str, Outcome]) -> None:
    np.testing.assert_allclose(_ok(out, "adam_coupled")["w"], _adam(SEED, GRAD_W, coupled=0.5), rtol=1e-12)


@pytest.mark.parametrize("label", ["adam_after", "adamw", "adamw_mask_callable"])
def test_add_decayed_weights_after_adam_is_adamw(out: dict[str, Outcome], label: str) -> None:
    np.testing.assert_allclose(_ok(out, label)["w"], _adam(SEED, GRAD_W, decoupled=0.5), rtol=1e-12)


def test_coupled_and_decoupled_differ_with_adam(out: dict[str, Outcome]) -> None:
    assert np.max(np.abs(_ok(out, "adam_coupled")["w"] - _ok(out, "adamw")["w"])) > 0.1


def test_sgd_momentum_before_and_after(out: dict[str, Outcome]) -> None:
    np.testing.assert_allclose(_ok(out, "sgd_coupled")["w"], _momentum(SEED, GRAD_W, coupled=0.5), rtol=1e-12)
    np.testing.assert_allclose(_ok(out, "sgd_after")["w"], _momentum(SEED, GRAD_W, decoupled=0.5), rtol=1e-12)
    w = SEED
    for _ in range(3):  # momentum 0: optax.sgd(momentum=None), w ← w − lr(g + λw)
        w = w - 0.1 * (GRAD_W + 0.5 * w)
    np.testing.assert_allclose(_ok(out, "sgd_plain_no_momentum")["w"], w, rtol=1e-12)


@pytest.mark.parametrize("label", ["adamw_scope_w", "flax_kernels"])
def test_mask_decays_the_kernel_only(out: dict[str, Outcome], label: str) -> None:
    value = _ok(out, label)
    np.testing.assert_allclose(value["w"], _adam(SEED, GRAD_W, decoupled=0.5), rtol=1e-12)
    np.testing.assert_allclose(value["b"], _adam(BIAS, np.ones(2)), rtol=1e-12)


def test_flax_without_scope_decays_every_parameter(out: dict[str, Outcome]) -> None:
    np.testing.assert_allclose(_ok(out, "flax_all")["b"], _adam(BIAS, np.ones(2), decoupled=0.5), rtol=1e-12)


def test_flax_kernels_mask_refuses_another_scope(out: dict[str, Outcome]) -> None:
    outcome = out["flax_bias_scope"]
    assert outcome.status == "unsupported" and "p.ndim > 1" in outcome.detail


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_low_precision_updates_run_in_their_dtype(out: dict[str, Outcome], dtype: str) -> None:
    value = _ok(out, f"adamw_{dtype}")["w"]
    assert value.dtype == NUMPY[dtype]
    tol = {"float16": 1e-2, "bfloat16": 4e-2, "float32": 1e-6}[dtype]
    np.testing.assert_allclose(value.astype(np.float64), _adam(SEED, GRAD_W, decoupled=0.5), rtol=tol, atol=tol)


@pytest.mark.parametrize("framework", ["jax", "keras-jax"])
def test_a_missing_jax_is_skipped_with_the_install_command(framework: str, tmp_path, write_case) -> None:
    """Both workers need jax: without it their rows are ``skipped``, saying how to install it, and the other
    frameworks still run."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    # sys.modules["jax"] = None is how Python marks a module as absent: find_spec says None, import raises
    (shadow / "sitecustomize.py").write_text("import sys\nsys.modules['jax'] = None\n", encoding="utf-8")
    case = write_case("weights: {w: [[1, -2], [-3, 4]]}\nregularizers: [{l2: 1.0}]\n")
    out = tmp_path / "out"
    env = {"PYTHONPATH": os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])}
    done = run_cli("run", case, "--frameworks", f"numpy,{framework}", "--out", str(out), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "results.json").read_text(encoding="utf-8"))
    info = result["environment"]["frameworks"][framework]
    assert info["status"] == "missing" and "pip install 'regcompare[jax]'" in info["reason"]
    rows = [r for r in result["rows"] if r["framework"] == framework]
    assert rows and {r["status"] for r in rows} == {"skipped"}
    assert all("pip install 'regcompare[jax]'" in r["detail"] for r in rows)
    assert {r["status"] for r in result["rows"] if r["framework"] == "numpy"} == {"match"}
