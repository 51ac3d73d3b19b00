"""SGD with momentum, dampening and Nesterov (torch/optim/sgd.py ``_single_tensor_sgd``).

    buf ← g on the first step, else μ·buf + (1 − dampening)·g;   d = g + μ·buf (nesterov) or buf;   w ← w − lr·d

Keras (``keras/src/optimizers/sgd.py``: m ← μm − lr·g, w ← w + m; nesterov w ← w + μm − lr·g) and paddle's
momentum kernel (v ← μv + g; w −= lr·v; nesterov w −= lr·(g + μv)) are the same rule for a constant lr and no
dampening.
"""

from __future__ import annotations

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("momentum", 0.0, "fraction", "μ (0: plain SGD)"),
    Setting("dampening", 0.0, "fraction", "torch's dampening of the momentum buffer"),
    Setting("nesterov", False, "bool", "Nesterov momentum"),
)


OPTIONS = {"lr_in_momentum": False}
"""``lr_in_momentum``: Keras' form, m ← μm − lr·g; w ← w + m (nesterov: w ← w + μm − lr·g). Under a learning-rate
schedule the lr of past steps stays inside m, where torch and paddle apply the current lr to the whole buffer."""


def step(ctx: Step) -> np.ndarray:
    s, g = ctx.s, ctx.g
    if not s["momentum"]:
        return -ctx.lr * g
    if s.get("lr_in_momentum"):
        m = s["momentum"] * ctx.state.get("m", 0.0) - ctx.lr * g
        ctx.state["m"] = m
        return s["momentum"] * m - ctx.lr * g if s["nesterov"] else m
    buf = ctx.state.get("buf")
    buf = g.copy() if buf is None else s["momentum"] * buf + (1.0 - s["dampening"]) * g
    ctx.state["buf"] = buf
    d = g + s["momentum"] * buf if s["nesterov"] else buf
    return -ctx.lr * d
