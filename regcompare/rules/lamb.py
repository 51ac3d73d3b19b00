"""Lamb (You et al. 2019, arXiv:1904.00962; paddle's ``lamb_`` kernel, paddle/optimizer/lamb.py ``Lamb``;
keras/src/optimizers/lamb.py ``Lamb.update_step``). torch has no Lamb: the canonical rule is the paper's, as
paddle implements it, with the decay inside the trust ratio.

    m ← β₁m + (1−β₁)g;   v ← β₂v + (1−β₂)g²;   r = (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)
    decay_in_ratio (paddle, the paper): r ← r + λ·w
    w ← w − lr·(‖w‖/‖r‖)·r   (ratio 1 where ‖w‖ or ‖r‖ is 0; norms over the whole tensor)
    always_adapt False (paddle's default): ratio 1 where λ = 0, i.e. Adam without the layer-wise adaptation

Keras' weight_decay is its generic decoupled shrink w ← w − lr·λ·w *before* the step, so ‖w‖ is taken after it and
λw is not in r (``decay_in_ratio`` False: that API's own option). The rule therefore takes the decoupled coefficient
itself (``takes_decoupled``) when the decay is inside the ratio.

================  =======  ===================================================
key               default  paddle / Keras name
================  =======  ===================================================
``lr``            0.1      ``learning_rate`` (both default 0.001)
``beta1``         0.9      ``beta1`` / ``beta_1``
``beta2``         0.999    ``beta2`` / ``beta_2``
``eps``           1e-6     ``epsilon`` (paddle 1e-6, Keras 1e-7), added to √v̂
``always_adapt``  True     paddle ``always_adapt`` (default False); Keras: always
================  =======  ===================================================
"""

from __future__ import annotations

import math

import numpy as np

from regcompare.rules import Setting, Settings, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("beta1", 0.9, "fraction", "β₁, first-moment decay"),
    Setting("beta2", 0.999, "fraction", "β₂, second-moment decay"),
    Setting("eps", 1e-6, "positive", "ε, added to √v̂"),
    Setting("always_adapt", True, "bool", "the trust ratio also where λ = 0 (paddle's always_adapt, default False)"),
)
OPTIONS = {"decay_in_ratio": True}


def takes_decoupled(settings: Settings) -> bool:
    """The decoupled decay λ·w is part of r, inside the trust ratio (paddle, the paper), not a shrink before it."""
    return bool(settings["decay_in_ratio"])


def step(ctx: Step) -> np.ndarray:
    s, g, t, w = ctx.s, ctx.g, ctx.t, ctx.w
    b1, b2 = s["beta1"], s["beta2"]
    m = b1 * ctx.state.get("m", 0.0) + (1.0 - b1) * g
    v = b2 * ctx.state.get("v", 0.0) + (1.0 - b2) * g * g
    ctx.state["m"], ctx.state["v"] = m, v
    r = (m / (1.0 - b1**t)) / (np.sqrt(v / (1.0 - b2**t)) + s["eps"])
    if s["decay_in_ratio"]:
        r = r + ctx.decoupled * w
    w_norm, r_norm = math.sqrt(float(np.sum(w * w))), math.sqrt(float(np.sum(r * r)))
    adapt = s["always_adapt"] or ctx.decoupled != 0.0  # paddle: no trust ratio for an undecayed tensor by default
    ratio = w_norm / r_norm if adapt and w_norm > 0 and r_norm > 0 else 1.0
    return -ctx.lr * ratio * r
