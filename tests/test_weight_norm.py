"""Weight normalization: the float64 oracle (w = g·v/‖v‖, L2 on g and v) against finite differences and by hand."""

from __future__ import annotations

import numpy as np
import pytest

from regcompare import oracle
from regcompare.conventions import Regularizer

W = np.array([[1.0, -2.0, 0.5], [-3.0, 4.0, 2.0]])
DW = np.array([[1.0, 0.5, -1.0], [-0.25, 2.0, 1.0]])
SGD = {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "nesterov": False, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


@pytest.mark.parametrize("dim", [0, 1, None])
def test_split_reproduces_w_and_g_is_the_norm(dim: int | None) -> None:
    g, v = oracle.weight_norm_split(W, dim)
    np.testing.assert_allclose(oracle.weight_norm_grads(g, v, DW, dim)[0], W, rtol=1e-15)
    assert g.shape == ((2, 1) if dim == 0 else (1, 3) if dim == 1 else (1, 1))


@pytest.mark.parametrize("dim", [0, None])
def test_chained_gradients_match_finite_differences(dim: int | None) -> None:
    g, v = oracle.weight_norm_split(W, dim)
    g = g * 1.3  # away from g = ‖v‖, where a wrong g/‖v‖ factor would cancel

    def loss(g_: np.ndarray, v_: np.ndarray) -> float:
        return float(np.sum(DW * oracle.weight_norm_grads(g_, v_, DW, dim)[0]))

    _, dg, dv = oracle.weight_norm_grads(g, v, DW, dim)
    h = 1e-6
    for array, grad, is_g in ((g, dg, True), (v, dv, False)):
        for index in np.ndindex(array.shape):
            bump = np.zeros_like(array)
            bump[index] = h
            args = (g + bump, v) if is_g else (g, v + bump)
            back = (g - bump, v) if is_g else (g, v - bump)
            assert (loss(*args) - loss(*back)) / (2 * h) == pytest.approx(grad[index], rel=1e-7, abs=1e-9)


def test_one_sgd_step_by_hand_whole_tensor_norm() -> None:
    out = oracle.weight_norm_update(W, DW, Regularizer(l2=0.5), "sgd", SGD, 1, None)
    g0, v0 = oracle.weight_norm_split(W, None)
    _, dg, dv = oracle.weight_norm_grads(g0, v0, DW, None)
    np.testing.assert_allclose(out["g"], g0 - 0.1 * (dg + 0.5 * g0), rtol=1e-15)
    np.testing.assert_allclose(out["v"], v0 - 0.1 * (dv + 0.5 * v0), rtol=1e-15)
    # w is not decayed by 0.5·w: v's decay only shrinks ‖v‖, which w does not see; g's decay does reach w.
    no_decay = oracle.weight_norm_update(W, DW, Regularizer(), "sgd", SGD, 1, None)
    assert not np.allclose(out["w"], no_decay["w"] - 0.1 * 0.5 * W)
