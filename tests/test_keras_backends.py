"""Keras 3 on its backends: the tensorflow worker pins its backend, and the keras-torch and keras-jax workers run
the same Keras APIs on torch and jax, agreeing with TensorFlow's Keras to a few ULP.

No framework is imported here: everything runs in workers or in ``python -m regcompare`` subprocesses.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from regcompare.adapters.base import Task
from regcompare.workers import Outcome, evaluate
from tests.conftest import ROOT, run_cli

SEED_CASE = ROOT / "cases" / "seeds" / "tf_regularizer_comparison.yaml"


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"]


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow installed")
def test_an_exported_keras_backend_does_not_move_the_tensorflow_worker(tmp_path: Path) -> None:
    """The issue's report: with KERAS_BACKEND=torch exported, Keras regularizer gradients came back 0 (18
    mismatch rows) and 12 rows were errors. Pinned, the rows are those of a run without the variable."""
    plain, exported = tmp_path / "plain", tmp_path / "exported"
    first = run_cli("run", str(SEED_CASE), "--frameworks", "tensorflow", "--out", str(plain))
    second = run_cli("run", str(SEED_CASE), "--frameworks", "tensorflow", "--out", str(exported),
                     env={"KERAS_BACKEND": "torch"})
    assert first.returncode == 0 and second.returncode == 0, second.stdout + second.stderr
    rows = _rows(exported)
    assert rows == _rows(plain)
    assert {r["status"] for r in rows} == {"match"} and sum(r["api"].startswith("keras.") for r in rows) == 49


def test_a_keras_imported_on_another_backend_fails_the_import_with_the_reason() -> None:
    """``checked`` is what each Keras worker runs after its import: Keras already loaded on jax (KERAS_BACKEND
    set only after the import, as a user's code might do) is refused with why."""
    code = (
        "import os; os.environ['KERAS_BACKEND'] = 'jax'; import keras\n"
        "from regcompare.adapters import keras_backend\n"
        "keras_backend.pin('tensorflow')\n"
        "try:\n    keras_backend.checked(keras, 'tensorflow')\n"
        "except keras_backend.BackendMismatch as exc:\n    print(exc)\n"
    )
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax installed")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "Keras runs on the 'jax' backend, this worker needs 'tensorflow'" in done.stdout, done.stderr


# --- keras-torch and keras-jax workers ---------------------------------------------------------------------------

SEED = np.array([[1.0, -2.0], [-3.0, 4.0]])  # Σ|w| = 10, Σw² = 30
GRAD = np.array([[1.0, 0.5], [-0.25, 2.0]])
NUMPY = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32, "float64": np.float64}
BACKENDS = {"keras-torch": ("torch", "@torch"), "keras-jax": ("jax", "@jax")}


def _task(suffix: str, api: str, quantity: str, dtype: str, native: dict, **options) -> Task:
    weights = {"w": SEED.astype(NUMPY[dtype]), **({"b": np.array([0.5, -0.25], NUMPY[dtype])} if "b" in
                                                   options.get("grads", {}) else {})}
    return Task(f"keras.{api}{suffix}", quantity, dtype, native, weights, options)


def _tasks(suffix: str) -> dict[str, Task]:
    adam = {"learning_rate": 0.1, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    update = {"optimizer": "keras.optimizers.Adam", "args": adam, "steps": 3}
    return {
        "l1_default": _task(suffix, "regularizers.L1", "penalty", "float32", {}),
        "l1_half": _task(suffix, "regularizers.L1", "penalty", "float32", {"l1": 0.5}),
        "l2_one": _task(suffix, "regularizers.L2", "penalty", "float32", {"l2": 1.0}),
        "l2_half_bf16": _task(suffix, "regularizers.L2", "penalty", "bfloat16", {"l2": 0.5}),
        "l1_tenth_f64": _task(suffix, "regularizers.L1", "penalty", "float64", {"l1": 0.1}),
        "grad_l1l2": _task(suffix, "regularizers.L1L2", "gradient", "float32", {"l1": 0.5, "l2": 0.25}),
        "grad_l1l2_default": _task(suffix, "regularizers.L1L2", "gradient", "float32", {}),
        "adamw": _task(suffix, "optimizers.AdamW", "update", "float64", {"weight_decay": 0.5},
                       **(update | {"optimizer": "keras.optimizers.AdamW"}), grads={"w": GRAD}),
        "layer_l2": _task(suffix, "regularizers.L2", "update", "float64", {"l2": 0.25},
                          **update, grads={"w": GRAD}),
        "adam_scope": _task(suffix, "optimizers.Adam", "update", "float64", {"weight_decay": 0.5},
                            **update, grads={"w": GRAD, "b": np.ones(2)}, scope=["w"]),
    }


@pytest.fixture(scope="module", params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Outcome]]:
    framework = request.param
    if importlib.util.find_spec(BACKENDS[framework][0]) is None:
        pytest.skip(f"needs {BACKENDS[framework][0]} installed")
    tasks = _tasks(BACKENDS[framework][1])
    return framework, dict(zip(tasks, evaluate(framework, list(tasks.values())), strict=True))


def _ok(backend: tuple[str, dict[str, Outcome]], label: str):
    framework, out = backend
    assert out[label].status == "ok", f"{framework} {label}: {out[label]}"
    return out[label].value


def _keras_adam(w: np.ndarray, g: np.ndarray, coupled: float = 0.0, decoupled: float = 0.0) -> np.ndarray:
    """Keras' Adam (ε on √v, keras/src/optimizers/adam.py), its weight_decay applied to w before each step, in
    float64. Keras on torch and jax lands within ~5e-8 relative of it in float64 (its learning rate is a float32
    variable, and some of its op constants are float32), hence ``RTOL``, the harness's float64 tolerance."""
    lr = 0.1
    m = v = np.zeros_like(w)
    for t in range(1, 4):
        w = w - lr * decoupled * w
        gt = g + coupled * w
        m, v = m + (gt - m) * 0.1, v + (gt * gt - v) * 0.001
        w = w - lr * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
    return w


@pytest.mark.parametrize(("label", "expected"), [
    ("l1_default", float(np.float32(0.099999994))), ("l1_half", 5.0), ("l2_one", 30.0), ("l2_half_bf16", 15.0),
])
def test_seed_goldens_on_every_backend(backend, label: str, expected: float) -> None:
    assert float(np.asarray(_ok(backend, label))) == expected


def test_float64_coefficient_rounding_depends_on_the_backend(backend) -> None:
    """L1 stores ``ops.convert_to_tensor(l1)``: a float32 tensor on torch (as on tensorflow), so the float64
    penalty is 10·float32(0.1); with x64 enabled jax makes it a float64 tensor and the penalty is exactly 1."""
    expected = {"keras-torch": 10.0 * float(np.float32(0.1)), "keras-jax": 1.0}[backend[0]]
    assert float(np.asarray(_ok(backend, "l1_tenth_f64"))) == expected


def test_gradients_through_the_backends_autodiff(backend) -> None:
    np.testing.assert_array_equal(_ok(backend, "grad_l1l2")["w"], 0.5 * np.sign(SEED) + 0.5 * SEED)
    np.testing.assert_array_equal(_ok(backend, "grad_l1l2_default")["w"], np.zeros((2, 2)))  # unconnected: zero


RTOL = 1e-7


def test_optimizer_weight_decay_is_decoupled(backend) -> None:
    np.testing.assert_allclose(_ok(backend, "adamw")["w"], _keras_adam(SEED, GRAD, decoupled=0.5), rtol=RTOL)


def test_layer_regularizer_is_coupled(backend) -> None:
    # L2(0.25) adds 0.25·Σw² to the loss: gradient 0.5·w, through Adam's moments
    np.testing.assert_allclose(_ok(backend, "layer_l2")["w"], _keras_adam(SEED, GRAD, coupled=0.5), rtol=RTOL)


def test_exclude_from_weight_decay(backend) -> None:
    value = _ok(backend, "adam_scope")
    np.testing.assert_allclose(value["w"], _keras_adam(SEED, GRAD, decoupled=0.5), rtol=RTOL)
    np.testing.assert_allclose(value["b"], _keras_adam(np.array([0.5, -0.25]), np.ones(2)), rtol=RTOL)


def _ulps(a: Any, b: Any, dtype: str) -> float:
    x, y = np.asarray(a, np.float64).astype(dtype), np.asarray(b, np.float64).astype(dtype)
    finite = np.isfinite(x) & np.isfinite(y)
    assert np.array_equal(np.isfinite(x), np.isfinite(y))
    gap = np.abs(x[finite].astype(np.float64) - y[finite])
    return float(np.max(gap / np.spacing(np.maximum(np.abs(x[finite]), np.abs(y[finite]))), initial=0.0))


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("tensorflow", "torch", "jax")),
                    reason="needs tensorflow, torch and jax installed")
def test_backends_agree_with_tensorflow_to_two_ulp_in_float32(tmp_path: Path) -> None:
    """The same Keras calls on tensorflow, torch and jax, rows side by side: float32 within 2 ULP everywhere;
    float64 penalties and gradients identical, float64 Adam updates ~3e-6 apart (only TF rounds the betas)."""
    cases = [str(SEED_CASE), str(ROOT / "cases" / "optimizers" / "adam.yaml")]
    done = run_cli("run", *cases, "--frameworks", "tensorflow,keras-torch,keras-jax", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    by: dict[tuple, dict[str, dict]] = {}
    for r in (r for r in _rows(tmp_path) if r["api"].startswith("keras.")):
        key = (r["case"], r["api"].split("@")[0], json.dumps(r["native"]), r["quantity"], r["dtype"], r["tensor"])
        by.setdefault(key, {})[r["framework"]] = r
    compared = 0
    for key, rows in by.items():
        if set(rows) != {"tensorflow", "keras-torch", "keras-jax"}:  # an `expect` golden, in tensorflow's ids
            assert set(rows) == {"tensorflow"} and rows["tensorflow"]["expected"] is not None, key
            continue
        for fw in ("keras-torch", "keras-jax"):
            assert rows[fw]["status"] in ("match", "divergent"), (key, fw, rows[fw]["detail"])
            tf_raw, raw, dtype = rows["tensorflow"]["raw"], rows[fw]["raw"], key[4]
            if dtype == "float32":
                assert _ulps(tf_raw, raw, dtype) <= 2.0, (key, fw)
            elif dtype == "float64" and key[3] != "update":
                assert np.array_equal(np.asarray(tf_raw), np.asarray(raw)), (key, fw)
            elif dtype == "float64":
                np.testing.assert_allclose(raw, tf_raw, rtol=1e-5)
            compared += 1
    assert compared >= 100
