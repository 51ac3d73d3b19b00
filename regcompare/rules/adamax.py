"""Adamax, Adam with the infinity norm (torch/optim/adamax.py ``_single_tensor_adamax``;
keras/src/optimizers/adamax.py ``update_step``; paddle/optimizer/adamax.py, its docstring's formula).

    m ← β₁m + (1−β₁)g;   w ← w − lr/(1−β₁ᵗ) · m/u, with u by where ε goes:
    eps_at "grad" (torch):   u ← max(β₂u, |g| + ε)
    eps_at "norm" (paddle):  u ← max(β₂u + ε, |g|)
    eps_at "after" (Keras):  u ← max(β₂u, |g|), divided by u + ε

| key | default | meaning |
|---|---|---|
| ``lr`` | 0.1 | learning rate |
| ``beta1`` | 0.9 | β₁ |
| ``beta2`` | 0.999 | β₂, decay of the infinity norm |
| ``eps`` | 1e-8 | ε (torch, paddle 1e-8; Keras 1e-7) |
"""

from __future__ import annotations

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("beta1", 0.9, "fraction", "β₁, first-moment decay"),
    Setting("beta2", 0.999, "fraction", "β₂, decay of the infinity norm"),
    Setting("eps", 1e-8, "positive", "ε"),
)
OPTIONS = {"eps_at": "grad"}


def step(ctx: Step) -> np.ndarray:
    s, g, state = ctx.s, ctx.g, ctx.state
    b1, b2, eps, at = s["beta1"], s["beta2"], s["eps"], s["eps_at"]
    m = b1 * state.get("m", 0.0) + (1.0 - b1) * g
    u = state.get("u", 0.0)
    if at == "grad":
        u = np.maximum(b2 * u, np.abs(g) + eps)
    elif at == "norm":
        u = np.maximum(b2 * u + eps, np.abs(g))
    else:
        u = np.maximum(b2 * u, np.abs(g))
    state["m"], state["u"] = m, u
    denom = u + eps if at == "after" else u
    return -ctx.lr / (1.0 - b1**ctx.t) * m / denom
