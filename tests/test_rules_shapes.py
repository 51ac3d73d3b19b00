"""Adafactor's vector and matrix cases and Muon's non-square matrices against torch's own optimizers in float64
(the trust benchmark's false alarms on these were the oracle's to explain: docs/error-model.md)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest

from regcompare import rules
from regcompare.conventions import Decay

torch = pytest.importorskip("torch")


def _torch_adafactor(w0: np.ndarray, g: np.ndarray, steps: int, lr: float, wd: float) -> np.ndarray:
    p = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adafactor([p], lr=lr, weight_decay=wd, eps=(1e-30, 1e-3))
    for _ in range(steps):
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return p.detach().numpy()


def _rule_adafactor(w0: np.ndarray, g: np.ndarray, steps: int, lr: float, wd: float) -> np.ndarray:
    return rules.run("adafactor", w0, g, Decay(decoupled=wd), rules.canonical("adafactor", {"lr": lr}), steps)


@pytest.mark.parametrize("shape", [(7,), (1,), (3, 5), (5, 3), (2, 3, 4)])
@pytest.mark.parametrize("wd", [0.0, 0.5])
def test_adafactor_matches_torch_in_float64(shape: tuple[int, ...], wd: float) -> None:
    # A full second moment for a vector, factored row/column moments on the last two axes otherwise.
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    w0, g = rng.normal(size=shape), rng.normal(size=shape)
    torch_w = _torch_adafactor(w0, g, 3, 0.1, wd)
    np.testing.assert_allclose(_rule_adafactor(w0, g, 3, 0.1, wd) - w0, torch_w - w0, rtol=1e-12, atol=0)


def test_adafactor_decays_by_torchs_rounded_factor() -> None:
    # lr·λ = 5e-6: 1 − 5e-6 is rounded the same way every step, a bias that adds up (torch: param.mul_). After 100
    # steps w − lr·λ·w was 1.9e-14 off torch on weights ~4, twice the float64 band; the factor is within ~1 ULP.
    rng = np.random.default_rng(3)
    w0, g = rng.normal(size=2000), rng.normal(size=2000)
    torch_w = _torch_adafactor(w0, g, 100, 0.01, 5e-4)
    rule_w = _rule_adafactor(w0, g, 100, 0.01, 5e-4)
    assert np.abs(rule_w - torch_w).max() <= 4 * np.spacing(np.abs(torch_w).max())
    # By hand, one step of a 1-vector: α = |w|·0.01, u = sign(g), w·(1 − 0.01·0.5) − α·sign(g).
    w1 = _rule_adafactor(np.array([3.0]), np.array([-2.0]), 1, 0.01, 0.5)
    assert w1[0] == pytest.approx(3.0 * (1.0 - 0.005) + 0.03, rel=1e-15)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (2, 7), (7, 2), (4, 4)])
@pytest.mark.parametrize("adjust", ["original", "match_rms_adamw"])
def test_muon_matches_torch_on_non_square_matrices_without_the_bfloat16_cast(shape: tuple[int, int],
                                                                              adjust: str) -> None:
    # torch's _zeropower_via_newtonschulz casts to bfloat16 by design (~1% off, the registry's caveat); with that
    # one cast made a copy, its transposition of tall matrices, momentum and _adjust_lr must be the rule's exactly.
    rng = np.random.default_rng(shape[0] * 10 + shape[1])
    w0, g = rng.normal(size=shape), rng.normal(size=shape)
    p = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Muon([p], lr=0.1, weight_decay=0.5, adjust_lr_fn=adjust)
    with mock.patch.object(torch.Tensor, "bfloat16", lambda self: self.clone()):
        for _ in range(3):
            p.grad = torch.tensor(g, dtype=torch.float64)
            opt.step()
    full = rules.canonical("muon", {"lr": 0.1, "adjust_lr_fn": adjust})
    rule_w = rules.run("muon", w0, g, Decay(decoupled=0.5), full, 3)
    np.testing.assert_allclose(rule_w - w0, p.detach().numpy() - w0, rtol=1e-12, atol=1e-15)


def test_muon_with_torchs_bfloat16_cast_is_about_one_percent_off() -> None:
    # The whole difference on a 5×3 weight is the cast: without the patch torch lands ~1e-2 off, never 1e-12.
    rng = np.random.default_rng(53)
    w0, g = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    p = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Muon([p], lr=0.1, weight_decay=0.0)
    p.grad = torch.tensor(g, dtype=torch.float64)
    opt.step()
    step = rules.run("muon", w0, g, Decay(), rules.canonical("muon", {"lr": 0.1}), 1) - w0
    off = np.abs(p.detach().numpy() - w0 - step).max() / np.abs(step).max()
    assert 1e-4 < off < 5e-2
