"""Adam, with AMSGrad (torch/optim/adam.py ``_single_tensor_adam``; paddle's adam kernel; keras/src/optimizers/adam.py).

    m ← β₁m + (1−β₁)g;   v ← β₂v + (1−β₂)g²;   amsgrad: v̄ ← max(v̄, v), used for v below
    amsgrad_max "v_hat" (optax.amsgrad, optax/_src/transform.py scale_by_amsgrad): the running maximum of the
    bias-corrected v/(1−β₂ᵗ) instead, w ← w − lr/(1−β₁ᵗ) · m/(√max + ε)
    eps_on "v_hat" (torch, paddle): w ← w − lr/(1−β₁ᵗ) · m/(√v/√(1−β₂ᵗ) + ε)
    eps_on "v" (Keras):             w ← w − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)

AdamW is this rule with decoupled decay (regcompare.rules places it).
"""

from __future__ import annotations

import math

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("beta1", 0.9, "fraction", "β₁, first-moment decay"),
    Setting("beta2", 0.999, "fraction", "β₂, second-moment decay"),
    Setting("eps", 1e-8, "positive", "ε, added to the root of the second moment"),
    Setting("amsgrad", False, "bool", "use the running maximum of v (Reddi et al. 2018)"),
)
OPTIONS = {"eps_on": "v_hat", "amsgrad_max": "v"}


def step(ctx: Step) -> np.ndarray:
    s, g, t = ctx.s, ctx.g, ctx.t
    b1, b2, eps = s["beta1"], s["beta2"], s["eps"]
    m = b1 * ctx.state.get("m", 0.0) + (1.0 - b1) * g
    v = b2 * ctx.state.get("v", 0.0) + (1.0 - b2) * g * g
    ctx.state["m"], ctx.state["v"] = m, v
    c1, c2 = 1.0 - b1**t, 1.0 - b2**t
    if s["amsgrad"] and s["amsgrad_max"] == "v_hat":  # the maximum of v̂ itself: no correction after it
        v_max = np.maximum(ctx.state.get("v_max", v / c2), v / c2)
        ctx.state["v_max"] = v_max
        return -ctx.lr * (m / c1 / (np.sqrt(v_max) + eps))
    if s["amsgrad"]:
        v = np.maximum(ctx.state.get("v_max", v), v)
        ctx.state["v_max"] = v
    if s["eps_on"] == "v_hat":
        return -ctx.lr * (m / c1 / (np.sqrt(v) / math.sqrt(c2) + eps))
    return -ctx.lr * (math.sqrt(c2) / c1 * m / (np.sqrt(v) + eps))
