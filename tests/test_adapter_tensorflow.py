"""The tensorflow adapter against hand-computed numbers, run in a worker subprocess.

TensorFlow is never imported here (tensorflow and paddle in one process segfault): every task goes to
one worker through ``regcompare.workers.evaluate``, once per module, because a worker costs seconds.
"""

from __future__ import annotations

import importlib.util
import math

import ml_dtypes
import numpy as np
import pytest

from regcompare.adapters.base import Task
from regcompare.workers import Outcome, evaluate

if importlib.util.find_spec("tensorflow") is None:  # find_spec locates it without importing it
    pytest.skip("needs tensorflow installed", allow_module_level=True)

SEED = np.array([[1.0, -2.0], [-3.0, 4.0]])  # Σ|w| = 10, Σw² = 30
EXTRA = np.array([0.5, -1.5])  # Σ|w| = 2, Σw² = 2.5
NUMPY = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32, "float64": np.float64}

L1, L2, L1L2, L2_LOSS = "keras.regularizers.L1", "keras.regularizers.L2", "keras.regularizers.L1L2", "tf.nn.l2_loss"


def _weights(dtype: str, **arrays: np.ndarray) -> dict[str, np.ndarray]:
    return {name: a.astype(NUMPY[dtype]) for name, a in arrays.items()}


def _task(api: str, quantity: str, dtype: str, native: dict[str, float], scale: float = 1.0) -> Task:
    return Task(api, quantity, dtype, native, _weights(dtype, w=SEED * scale))


#: label → task; every label is evaluated in the one worker of this module.
TASKS: dict[str, Task] = {
    # the seed goldens, float32
    "l1_default": _task(L1, "penalty", "float32", {}),
    "l1_half": _task(L1, "penalty", "float32", {"l1": 0.5}),
    "l2_one": _task(L2, "penalty", "float32", {"l2": 1.0}),
    "l2_half": _task(L2, "penalty", "float32", {"l2": 0.5}),
    "l2_default": _task(L2, "penalty", "float32", {}),
    "l2_loss": _task(L2_LOSS, "penalty", "float32", {"scale": 1.0}),
    "l2_loss_default": _task(L2_LOSS, "penalty", "float32", {}),
    "l2_loss_scaled": _task(L2_LOSS, "penalty", "float32", {"scale": 0.25}),
    "l1l2": _task(L1L2, "penalty", "float32", {"l1": 0.5, "l2": 0.5}),
    "l1l2_default": _task(L1L2, "penalty", "float32", {}),
    # gradients, float32
    "grad_l2_half": _task(L2, "gradient", "float32", {"l2": 0.5}),
    "grad_l2_loss": _task(L2_LOSS, "gradient", "float32", {"scale": 0.5}),
    "grad_l1": _task(L1, "gradient", "float32", {"l1": 0.5}),
    "grad_l1l2": _task(L1L2, "gradient", "float32", {"l1": 0.5, "l2": 0.25}),
    "grad_l1l2_default": _task(L1L2, "gradient", "float32", {}),
    # several tensors: the penalty is summed, the gradient is per tensor
    "multi_penalty": Task(L2, "penalty", "float32", {"l2": 0.5}, _weights("float32", w=SEED, b=EXTRA)),
    "multi_grad": Task(L1, "gradient", "float32", {"l1": 0.5}, _weights("float32", w=SEED, b=EXTRA)),
    "multi_l2_loss": Task(L2_LOSS, "penalty", "float32", {"scale": 2.0}, _weights("float32", w=SEED, b=EXTRA)),
    # float64: the Keras coefficient is rounded to float32 first, the l2_loss scale is not
    "f64_l2_half": _task(L2, "penalty", "float64", {"l2": 0.5}),
    "f64_l1_tenth": _task(L1, "penalty", "float64", {"l1": 0.1}),
    "f64_l2_loss_tenth": _task(L2_LOSS, "penalty", "float64", {"scale": 0.1}),
    "f64_grad_l2_loss": _task(L2_LOSS, "gradient", "float64", {"scale": 0.1}),
    # bfloat16 and float16 run in their own dtype
    "bf16_l2_half": _task(L2, "penalty", "bfloat16", {"l2": 0.5}),
    "bf16_grad_l2_half": _task(L2, "gradient", "bfloat16", {"l2": 0.5}),
    "bf16_l1_default": _task(L1, "penalty", "bfloat16", {}),
    "f16_l1_default": _task(L1, "penalty", "float16", {}),
    "f16_l2_loss": _task(L2_LOSS, "penalty", "float16", {}),
    # float16 overflow: exact penalties 1500 (finite), computed through Σw² = 3e5 > 65504
    "f16_overflow_l2": _task(L2, "penalty", "float16", {"l2": 0.005}, scale=100.0),
    "f16_overflow_l2_loss": _task(L2_LOSS, "penalty", "float16", {"scale": 0.01}, scale=100.0),
    "f16_overflow_l1l2": _task(L1L2, "penalty", "float16", {"l2": 0.005}, scale=100.0),
    "f16_overflow_grad_l2": _task(L2, "gradient", "float16", {"l2": 0.005}, scale=100.0),
    "f16_big_l1": _task(L1, "penalty", "float16", {"l1": 0.01}, scale=100.0),
    # refusals versus bugs
    "negative_coefficient": _task(L2, "penalty", "float32", {"l2": -1.0}),
    "unknown_argument": _task(L2, "penalty", "float32", {"lambd": 1.0}),
    "wrong_dtype": Task(L2, "penalty", "float16", {"l2": 0.5}, _weights("float32", w=SEED)),
    "unknown_api": _task("tf.compat.v1.layers.l2_regularizer", "penalty", "float32", {"scale": 1.0}),
}


@pytest.fixture(scope="module")
def out() -> dict[str, Outcome]:
    outcomes = evaluate("tensorflow", list(TASKS.values()))
    return dict(zip(TASKS, outcomes, strict=True))


def _ok(out: dict[str, Outcome], label: str) -> Outcome:
    outcome = out[label]
    assert outcome.status == "ok", f"{label}: {outcome.status} {outcome.detail}"
    return outcome


def penalty(out: dict[str, Outcome], label: str) -> float:
    value = np.asarray(_ok(out, label).value)
    # Results cross back in the dtype the API computed in (the parent widens exactly when it compares).
    assert value.shape == () and value.dtype == NUMPY[TASKS[label].dtype]
    return float(value)


def gradient(out: dict[str, Outcome], label: str) -> dict[str, np.ndarray]:
    return _ok(out, label).value


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("l1_default", float(np.float32(0.099999994))),  # L1() is l1=0.01, rounded in float32
        ("l1_half", 5.0),
        ("l2_one", 30.0),  # no ½: L2(c) = c·Σw²
        ("l2_half", 15.0),
        ("l2_default", float(np.float32(0.29999998))),  # L2() is l2=0.01
        ("l2_loss", 15.0),  # ½Σw²
        ("l2_loss_default", 15.0),  # scale missing → 1
        ("l2_loss_scaled", 3.75),
        ("l1l2", 20.0),  # 0.5·10 + 0.5·30
        ("l1l2_default", 0.0),  # L1L2() defaults to l1=l2=0, unlike L1() and L2()
    ],
)
def test_seed_penalties_float32(out: dict[str, Outcome], label: str, expected: float) -> None:
    assert penalty(out, label) == expected


def test_l2_gradient_has_no_half(out: dict[str, Outcome]) -> None:
    np.testing.assert_array_equal(gradient(out, "grad_l2_half")["w"], SEED)  # 2·0.5·w


def test_l2_loss_gradient_is_scale_times_w(out: dict[str, Outcome]) -> None:
    np.testing.assert_array_equal(gradient(out, "grad_l2_loss")["w"], 0.5 * SEED)


def test_l1_gradient_is_sign(out: dict[str, Outcome]) -> None:
    np.testing.assert_array_equal(gradient(out, "grad_l1")["w"], 0.5 * np.sign(SEED))


def test_l1l2_gradient(out: dict[str, Outcome]) -> None:
    np.testing.assert_array_equal(gradient(out, "grad_l1l2")["w"], 0.5 * np.sign(SEED) + 0.5 * SEED)


def test_l1l2_default_gradient_is_zero_not_missing(out: dict[str, Outcome]) -> None:
    np.testing.assert_array_equal(gradient(out, "grad_l1l2_default")["w"], np.zeros((2, 2)))


def test_penalties_sum_over_tensors(out: dict[str, Outcome]) -> None:
    assert penalty(out, "multi_penalty") == 0.5 * (30.0 + 2.5)
    assert penalty(out, "multi_l2_loss") == 2.0 * 0.5 * (30.0 + 2.5)


def test_gradients_per_tensor(out: dict[str, Outcome]) -> None:
    grads = gradient(out, "multi_grad")
    assert set(grads) == {"w", "b"}
    np.testing.assert_array_equal(grads["w"], 0.5 * np.sign(SEED))
    np.testing.assert_array_equal(grads["b"], 0.5 * np.sign(EXTRA))


def test_float64_runs_and_keeps_keras_float32_coefficient(out: dict[str, Outcome]) -> None:
    assert penalty(out, "f64_l2_half") == 15.0
    # tf.cast(0.1, float64) goes through a float32 tensor: 10·0.10000000149…, not 1.0.
    assert penalty(out, "f64_l1_tenth") == 10.0 * float(np.float32(0.1))
    assert penalty(out, "f64_l1_tenth") != 1.0
    # scale * tensor converts the Python float straight to float64.
    assert penalty(out, "f64_l2_loss_tenth") == 0.1 * 15.0
    np.testing.assert_array_equal(gradient(out, "f64_grad_l2_loss")["w"], 0.1 * SEED)


def test_bfloat16_runs_in_bfloat16(out: dict[str, Outcome]) -> None:
    assert penalty(out, "bf16_l2_half") == 15.0
    np.testing.assert_array_equal(gradient(out, "bf16_grad_l2_half")["w"], SEED)
    # 0.01 rounds to bfloat16 0.010009765625 (8 significant bits); times Σ|w| = 10 it stays exact.
    assert penalty(out, "bf16_l1_default") == 0.10009765625


def test_float16_computes_in_float16(out: dict[str, Outcome]) -> None:
    # float16(0.01) = 0.01000213623046875; ×10 rounds to 1639·2⁻¹⁴ in float16, not float32's 0.09999999.
    assert penalty(out, "f16_l1_default") == 0.10003662109375
    assert penalty(out, "f16_l2_loss") == 15.0


@pytest.mark.parametrize("label", ["f16_overflow_l2", "f16_overflow_l2_loss", "f16_overflow_l1l2"])
def test_float16_overflows_where_the_exact_penalty_is_finite(out: dict[str, Outcome], label: str) -> None:
    exact = 0.005 * float(np.sum((SEED * 100.0) ** 2))
    assert exact == 1500.0 < float(np.finfo(np.float16).max)
    assert math.isinf(penalty(out, label))  # the finding the harness reports as a mismatch


def test_float16_gradient_survives_the_overflow(out: dict[str, Outcome]) -> None:
    grad = gradient(out, "f16_overflow_grad_l2")["w"]  # 2·0.005·w = 0.01·w = seed, each step finite
    np.testing.assert_allclose(grad, SEED, rtol=1e-3)


def test_float16_l1_large_weights_finite(out: dict[str, Outcome]) -> None:
    assert penalty(out, "f16_big_l1") == pytest.approx(10.0, rel=1e-3)  # Σ|w| = 1000 fits


def test_keras_refusing_a_coefficient_is_unsupported(out: dict[str, Outcome]) -> None:
    outcome = out["negative_coefficient"]
    assert outcome.status == "unsupported"
    assert "non-negative" in outcome.detail


@pytest.mark.parametrize("label", ["unknown_argument", "wrong_dtype", "unknown_api"])
def test_harness_bugs_are_errors_not_refusals(out: dict[str, Outcome], label: str) -> None:
    assert out[label].status == "error", out[label]
