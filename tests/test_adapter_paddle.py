"""The paddle adapter, run in its worker process: paddle is never imported by pytest itself.

All tasks go through one ``evaluate`` call (one worker start); each test reads its own outcomes.
"""

from __future__ import annotations

import numpy as np
import pytest

from regcompare.adapters import specs
from regcompare.adapters.base import Task
from regcompare.dtypes import cast
from regcompare.workers import Outcome, evaluate

W = np.array([[1.0, -2.0], [-3.0, 4.0]])
SIGN = np.sign(W)

L2 = "paddle.regularizer.L2Decay"
L1 = "paddle.regularizer.L1Decay"
ATTR_L2 = "paddle.ParamAttr.L2Decay"
ATTR_L1 = "paddle.ParamAttr.L1Decay"
SGD = "paddle.optimizer.SGD"
HAND = "paddle.handwritten"
HAND_ARGS = {"l1": 0.5, "l2": 1.0}
ALL_DTYPES = ("float16", "bfloat16", "float32", "float64")


def _task(api: str, quantity: str, dtype: str, native: dict[str, float], **extra: np.ndarray) -> Task:
    weights = {"w": cast(W, dtype)} | {name: cast(a, dtype) for name, a in extra.items()}
    return Task(api, quantity, dtype, native, weights)


TASKS: dict[str, Task] = {
    **{
        f"{api}-{dtype}": _task(api, "gradient", dtype, native)
        for dtype in ALL_DTYPES
        for api, native in (
            (L2, {"coeff": 0.5}),
            (L1, {"coeff": 0.1}),
            (ATTR_L2, {"coeff": 0.5}),
            (ATTR_L1, {"coeff": 0.1}),
            (SGD, {"weight_decay": 0.5}),
        )
    },
    **{f"hand-penalty-{dtype}": _task(HAND, "penalty", dtype, HAND_ARGS) for dtype in ALL_DTYPES},
    **{f"hand-gradient-{dtype}": _task(HAND, "gradient", dtype, HAND_ARGS) for dtype in ("float32", "float64")},
    "hand-penalty-two-tensors": _task(HAND, "penalty", "float64", HAND_ARGS, b=np.array([0.5, -1.0])),
    "L2Decay-default": _task(L2, "gradient", "float32", {}),
    "SGD-default": _task(SGD, "gradient", "float32", {}),
    "bad-argument": _task(L2, "gradient", "float32", {"coef": 0.5}),
    "bad-quantity": _task(L2, "penalty", "float32", {"coeff": 0.5}),
}


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    if "paddle" not in specs():
        pytest.skip("no paddle adapter spec")
    results = evaluate("paddle", list(TASKS.values()))
    if all(o.status == "skipped" for o in results):
        pytest.skip(results[0].detail)
    return dict(zip(TASKS, results, strict=True))


def _ok(outcomes: dict[str, Outcome], key: str) -> np.ndarray | dict[str, np.ndarray]:
    outcome = outcomes[key]
    assert outcome.status == "ok", f"{key}: {outcome.status} {outcome.detail}"
    return outcome.value


def _unsupported(outcomes: dict[str, Outcome], key: str, kernel: str, dtype: str) -> None:
    outcome = outcomes[key]
    assert outcome.status == "unsupported", f"{key}: {outcome.status} {outcome.detail}"
    assert f"kernel `{kernel}` is not registered" in outcome.detail
    assert dtype in outcome.detail
    assert "\n" not in outcome.detail and len(outcome.detail) < 160  # paddle's long message, shortened


@pytest.mark.parametrize("api", [L2, ATTR_L2, SGD])
@pytest.mark.parametrize("dtype", ["bfloat16", "float32", "float64"])
def test_l2_decay_term_is_coeff_times_w(outcomes: dict[str, Outcome], api: str, dtype: str) -> None:
    np.testing.assert_array_equal(_ok(outcomes, f"{api}-{dtype}")["w"], 0.5 * W)


@pytest.mark.parametrize("api", [L1, ATTR_L1])
def test_l1_decay_term_is_coeff_times_sign_float32(outcomes: dict[str, Outcome], api: str) -> None:
    term = _ok(outcomes, f"{api}-float32")["w"]
    # paddle computes scale(sign(w), 0.1) in float32: float32(0.1), recovered to about one float32 ULP
    np.testing.assert_allclose(term, float(np.float32(0.1)) * SIGN, rtol=2.0**-22, atol=0.0)
    assert not np.allclose(term, 0.1 * SIGN, rtol=1e-12, atol=0.0)  # not float64's 0.1: the float32 rounding shows


@pytest.mark.parametrize("api", [L1, ATTR_L1])
def test_l1_decay_term_is_coeff_times_sign_float64(outcomes: dict[str, Outcome], api: str) -> None:
    np.testing.assert_allclose(_ok(outcomes, f"{api}-float64")["w"], 0.1 * SIGN, rtol=2.0**-51, atol=0.0)


def test_float_weight_decay_equals_l2decay(outcomes: dict[str, Outcome]) -> None:
    for dtype in ("bfloat16", "float32", "float64"):
        np.testing.assert_array_equal(_ok(outcomes, f"{SGD}-{dtype}")["w"], _ok(outcomes, f"{L2}-{dtype}")["w"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_handwritten_penalty_and_gradient(outcomes: dict[str, Outcome], dtype: str) -> None:
    # 0.5 * (1+2+3+4) + 1/2 * (1+4+9+16) = 5 + 15
    assert float(_ok(outcomes, f"hand-penalty-{dtype}")) == 20.0
    np.testing.assert_array_equal(_ok(outcomes, f"hand-gradient-{dtype}")["w"], 0.5 * SIGN + W)


def test_handwritten_penalty_sums_over_tensors(outcomes: dict[str, Outcome]) -> None:
    # b = [0.5, -1]: 0.5 * 1.5 + 1/2 * 1.25 = 1.375 on top of w's 20
    assert float(_ok(outcomes, "hand-penalty-two-tensors")) == 21.375


def test_absent_coefficients_take_paddle_defaults(outcomes: dict[str, Outcome]) -> None:
    np.testing.assert_array_equal(_ok(outcomes, "L2Decay-default")["w"], np.zeros_like(W))  # L2Decay(coeff=0.0)
    np.testing.assert_array_equal(_ok(outcomes, "SGD-default")["w"], np.zeros_like(W))  # weight_decay=None


def test_float16_has_no_cpu_kernels(outcomes: dict[str, Outcome]) -> None:
    # The idiom calls abs before square; paddle has neither for float16 on CPU, and stops at the first.
    _unsupported(outcomes, "hand-penalty-float16", "abs", "float16")
    for api in (L2, ATTR_L2, SGD):
        _unsupported(outcomes, f"{api}-float16", "sgd", "float16")
    for api in (L1, ATTR_L1):  # the regularizer runs before the update: sign fails first
        _unsupported(outcomes, f"{api}-float16", "sign", "float16")


def test_bfloat16_has_sgd_but_not_sign_or_abs(outcomes: dict[str, Outcome]) -> None:
    _unsupported(outcomes, "hand-penalty-bfloat16", "abs", "bfloat16")
    for api in (L1, ATTR_L1):
        _unsupported(outcomes, f"{api}-bfloat16", "sign", "bfloat16")


def test_harness_mistakes_are_errors_not_refusals(outcomes: dict[str, Outcome]) -> None:
    assert outcomes["bad-argument"].status == "error"
    assert "coef" in outcomes["bad-argument"].detail
    assert outcomes["bad-quantity"].status == "error"
