"""RAdam, Adam with a rectified adaptive step (torch/optim/radam.py ``_single_tensor_radam``;
paddle/optimizer/radam.py, its docstring's formula).

    m ← β₁m + (1−β₁)g;   v ← β₂v + (1−β₂)g²;   m̂ = m/(1−β₁ᵗ)
    ρ∞ = 2/(1−β₂) − 1;   ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ)
    ρₜ > 5: r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ)),  w ← w − lr·m̂·r·√(1−β₂ᵗ)/(√v + ε)
    else:   w ← w − lr·m̂ (SGD with momentum)
    eps_on "v_hat" (optax.radam, optax/_src/transform.py scale_by_radam): w ← w − lr·m̂·r/(√v̂ + ε), v̂ = v/(1−β₂ᵗ)

With β₂ = 0.999 ρₜ passes 5 at t = 6: a case needs 7 steps or more to see both branches. Keras has no RAdam.

| key | default | meaning |
|---|---|---|
| ``lr`` | 0.1 | learning rate |
| ``beta1`` | 0.9 | β₁ |
| ``beta2`` | 0.999 | β₂ |
| ``eps`` | 1e-8 | ε, added to the raw √v |
"""

from __future__ import annotations

import math

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("beta1", 0.9, "fraction", "β₁, first-moment decay"),
    Setting("beta2", 0.999, "fraction", "β₂, second-moment decay"),
    Setting("eps", 1e-8, "positive", "ε, added to the raw √v"),
)
OPTIONS = {"eps_on": "v"}


def step(ctx: Step) -> np.ndarray:
    s, g, state, t = ctx.s, ctx.g, ctx.state, ctx.t
    b1, b2 = s["beta1"], s["beta2"]
    m = b1 * state.get("m", 0.0) + (1.0 - b1) * g
    v = b2 * state.get("v", 0.0) + (1.0 - b2) * g * g
    state["m"], state["v"] = m, v
    m_hat = m / (1.0 - b1**t)
    c2 = 1.0 - b2**t
    rho_inf = 2.0 / (1.0 - b2) - 1.0
    rho_t = rho_inf - 2.0 * t * b2**t / c2
    if rho_t <= 5.0:
        return -ctx.lr * m_hat
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    if s["eps_on"] == "v_hat":
        return -ctx.lr * m_hat * rect / (np.sqrt(v) / math.sqrt(c2) + s["eps"])
    return -ctx.lr * m_hat * rect * math.sqrt(c2) / (np.sqrt(v) + s["eps"])
