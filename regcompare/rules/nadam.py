"""NAdam, Adam with Nesterov momentum and a momentum schedule (torch/optim/nadam.py ``_single_tensor_nadam``;
keras/src/optimizers/nadam.py ``update_step``; paddle/optimizer/nadam.py, its docstring's formula).

    μₜ = β₁(1 − ½·0.96^(t·ψ));   Πₜ = μ₁⋯μₜ;   m ← β₁m + (1−β₁)g;   v ← β₂v + (1−β₂)g²
    w ← w − lr·[(1−μₜ)/(1−Πₜ)·g + μₜ₊₁/(1−Πₜ·μₜ₊₁)·m] / (√(v/(1−β₂ᵗ)) + ε)

ψ is ``momentum_decay`` (torch, paddle; default 0.004). Keras has no such argument: its schedule is 0.96^t,
i.e. ψ = 1 — a different optimizer at the other frameworks' default.

| key | default | meaning |
|---|---|---|
| ``lr`` | 0.1 | learning rate |
| ``beta1`` | 0.9 | β₁ |
| ``beta2`` | 0.999 | β₂ |
| ``eps`` | 1e-8 | ε, added to √v̂ (torch, paddle 1e-8; Keras 1e-7) |
| ``momentum_decay`` | 0.004 | ψ (Keras: 1, fixed) |
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("beta1", 0.9, "fraction", "β₁, first-moment decay"),
    Setting("beta2", 0.999, "fraction", "β₂, second-moment decay"),
    Setting("eps", 1e-8, "positive", "ε, added to √v̂"),
    Setting("momentum_decay", 0.004, "nonnegative", "ψ of the momentum schedule β₁(1 − ½·0.96^(tψ))"),
)


def _mu(s: dict, t: int) -> float:
    return s["beta1"] * (1.0 - 0.5 * 0.96 ** (t * s["momentum_decay"]))


def _terms(ctx: Step) -> tuple[float, float, np.ndarray, np.ndarray]:
    """One step's state update, and the coefficients of g and m and the denominator of the update."""
    s, state, t = ctx.s, ctx.state, ctx.t
    b1, b2 = s["beta1"], s["beta2"]
    mu, mu_next = _mu(s, t), _mu(s, t + 1)
    product = state.get("mu_product", 1.0) * mu
    state["mu_product"] = product
    m = b1 * state.get("m", 0.0) + (1.0 - b1) * ctx.g
    v = b2 * state.get("v", 0.0) + (1.0 - b2) * ctx.g * ctx.g
    state["m"], state["v"] = m, v
    denom = np.sqrt(v) / math.sqrt(1.0 - b2**t) + s["eps"]
    return (1.0 - mu) / (1.0 - product), mu_next / (1.0 - product * mu_next), m, denom


def step(ctx: Step) -> np.ndarray:
    c_g, c_m, m, denom = _terms(ctx)
    return -ctx.lr * (c_g * ctx.g + c_m * m) / denom


def parts(ctx: Step) -> list[Callable[[np.ndarray], np.ndarray]]:
    """The step as torch's for-loop NAdam adds it to the weight: the gradient's term and the momentum's term in two
    ``addcdiv_`` calls (torch/optim/nadam.py ``_single_tensor_nadam``), each result stored in the weight's dtype
    (the error model samples that: ``rules.advance(..., split=True)``)."""
    c_g, c_m, m, denom = _terms(ctx)
    return [lambda w: w + -ctx.lr * c_g * ctx.g / denom, lambda w: w + -ctx.lr * c_m * m / denom]
