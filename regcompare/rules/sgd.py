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


def step(ctx: Step) -> np.ndarray:
    s, g = ctx.s, ctx.g
    if not s["momentum"]:
        return -ctx.lr * g
    buf = ctx.state.get("buf")
    buf = g.copy() if buf is None else s["momentum"] * buf + (1.0 - s["dampening"]) * g
    ctx.state["buf"] = buf
    d = g + s["momentum"] * buf if s["nesterov"] else buf
    return -ctx.lr * d
