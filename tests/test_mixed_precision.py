"""Mixed precision with loss scaling: master weights, the final cast, and where the penalty enters.

The measured fact (torch GradScaler, scale 1024, lr 0.1, L2 0.5, w = [1, -2], g = 0): inside the scaled loss
[0.95, -1.9], outside [0.99995, -1.9999]. Expected values are worked out by hand here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from regcompare import engine, mixed_precision
from regcompare.cases import load_case
from tests.conftest import run_cases

ROOT = Path(__file__).parent.parent
CASES = ROOT / "cases" / "mixed_precision"
FACT = CASES / "grad_scaler_l2.yaml"


def test_only_mixed_precision_apis_run_for_a_mixed_precision_case() -> None:
    items = engine.plan_case(load_case(str(FACT)), ("torch", "tensorflow", "paddle"))
    assert {i.api for i in items} == {"torch.amp.GradScaler", "keras.optimizers.LossScaleOptimizer",
                                      "paddle.amp.GradScaler"}
    assert {i.variant_name() for i in items} == {None, "penalty_outside"}


def test_oracle_masters_and_final_cast() -> None:
    case = load_case(str(FACT))
    items = [i for i in engine.plan_case(case, ("torch",)) if i.dtype == "float16"]
    inside = next(i for i in items if i.variant is None)
    outside = next(i for i in items if i.variant is not None)
    refs, own, why = mixed_precision.references(inside, case.weights, *_grads(inside))
    assert own is None and why == ""
    np.testing.assert_allclose(refs["w.master"], np.float32([0.95, -1.9]), rtol=0)
    np.testing.assert_array_equal(refs["w"], np.float16([0.95, -1.9]).astype(np.float64))
    _, own, why = mixed_precision.references(outside, case.weights, *_grads(outside))
    assert own is not None and "divides its gradient by the loss scale" in why
    np.testing.assert_allclose(own["w.master"], [1 - 0.1 * 0.5 / 1024, -2 * (1 - 0.1 * 0.5 / 1024)], rtol=1e-7)
    np.testing.assert_array_equal(own["w"], [1.0, -2.0])  # 0.99995 rounds back to 1 in float16


def _grads(item: engine.Item) -> tuple[dict[str, np.ndarray], Any]:
    assert item.optimizer is not None
    return engine.grads_of(item.case, item.dtype)[1], item.optimizer


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    result = run_cases(sorted(CASES.glob("*.yaml")))
    assert result.failures == 0
    return result.rows


def _row(rows: list[dict[str, Any]], api: str, variant: str | None, tensor: str, dtype: str = "float16",
         case: str = "mixed-precision-l2-placement") -> dict[str, Any]:
    return next(r for r in rows if r["case"] == case and r["api"] == api and r["variant"] == variant
                and r["tensor"] == tensor and r["dtype"] == dtype)


@pytest.mark.parametrize("api", ["torch.amp.GradScaler", "keras.optimizers.LossScaleOptimizer"])
def test_inside_and_outside_the_scaled_loss(rows: list[dict[str, Any]], api: str) -> None:
    inside = _row(rows, api, None, "w.master")
    assert inside["status"] == "match"
    assert inside["raw"] == pytest.approx([0.95, -1.9], rel=1e-7)
    outside = _row(rows, api, "penalty_outside", "w.master")
    assert outside["status"] == "divergent" and "loss scale" in outside["detail"]
    assert outside["raw"] == pytest.approx([0.99995, -1.9999], abs=5e-6)  # the rounding
    assert outside["raw"] == pytest.approx([1 - 0.05 / 1024, -2 * (1 - 0.05 / 1024)], rel=1e-7)
    assert _row(rows, api, "penalty_outside", "w")["raw"] == [1.0, -2.0]


def test_momentum_case_shows_the_same_split(rows: list[dict[str, Any]]) -> None:
    for dtype in ("float16", "bfloat16"):
        for api in ("torch.amp.GradScaler", "keras.optimizers.LossScaleOptimizer"):
            kw = {"dtype": dtype, "case": "mixed-precision-momentum"}
            assert _row(rows, api, None, "w", **kw)["status"] == "match"
            assert _row(rows, api, "penalty_outside", "w", **kw)["status"] == "divergent"


def test_paddle_amp_declines_on_cpu(rows: list[dict[str, Any]]) -> None:
    row = _row(rows, "paddle.amp.GradScaler", None, "w")
    assert row["status"] == "unsupported" and "CUDAPlace" in row["detail"]
