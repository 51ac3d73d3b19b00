"""Rprop (torch/optim/rprop.py ``_single_tensor_rprop``; paddle's ``rprop_`` kernel, paddle/optimizer/rprop.py).

    s ← sign(g·g_prev) mapped to etaplus (> 0), etaminus (< 0), 1 (= 0)
    η ← clamp(η·s, step_size_min, step_size_max)    (η starts at lr)
    g ← 0 where s = etaminus;   w ← w − sign(g)·η;   g_prev ← g
    lagged (optax.rprop, optax/_src/transform.py scale_by_rprop): the step applied is the previous step's
    sign(g)·η (0 at the first step, and 0 where s = etaminus), this step's is kept for the next one

===================  =======  ==========================================
key                  default  torch / paddle
===================  =======  ==========================================
``lr``               0.1      ``lr`` / ``learning_rate``: the initial step size
``etaminus``         0.5      ``etas[0]`` / ``etas[0]``
``etaplus``          1.2      ``etas[1]`` / ``etas[1]``
``step_size_min``    1e-6     ``step_sizes[0]`` / ``learning_rate_range[0]``
``step_size_max``    50       ``step_sizes[1]`` / ``learning_rate_range[1]``
===================  =======  ==========================================

torch's Rprop has no weight decay; paddle's takes none either but builds ``L2Decay(0.0)`` itself (see the records).
"""

from __future__ import annotations

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "initial step size η"),
    Setting("etaminus", 0.5, "fraction", "η shrink factor when the gradient changes sign"),
    Setting("etaplus", 1.2, "positive", "η growth factor when it keeps its sign"),
    Setting("step_size_min", 1e-6, "positive", "lower clamp of η"),
    Setting("step_size_max", 50.0, "positive", "upper clamp of η"),
)
OPTIONS = {"lagged": False}


def step(ctx: Step) -> np.ndarray:
    s, g = ctx.s, ctx.g
    prev = ctx.state.get("prev", np.zeros_like(g))
    eta = ctx.state.get("eta", np.full_like(g, ctx.lr))
    sign = np.sign(g * prev)
    factor = np.where(sign > 0, s["etaplus"], np.where(sign < 0, s["etaminus"], 1.0))
    eta = np.clip(eta * factor, s["step_size_min"], s["step_size_max"])
    g = np.where(sign < 0, 0.0, g)
    ctx.state["prev"], ctx.state["eta"] = g, eta
    delta = -np.sign(g) * eta
    if s.get("lagged"):  # optax returns the step it stored last time, zero where the sign flipped
        lagged = np.where(sign < 0, 0.0, ctx.state.get("delta", np.zeros_like(g)))
        ctx.state["delta"] = delta
        return lagged
    return delta
