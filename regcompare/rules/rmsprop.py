"""RMSprop, plain, centered and with momentum (torch/optim/rmsprop.py ``_single_tensor_rmsprop``;
keras/src/optimizers/rmsprop.py ``update_step``; paddle/optimizer/rmsprop.py, its docstring's formula).

    v ← αv + (1−α)g²;   centered: ḡ ← αḡ + (1−α)g, v′ = v − ḡ², else v′ = v
    ε outside the root (torch):          d = √v′ + ε
    ε inside the root (Keras, paddle):   d = √(v′ + ε)
    momentum μ > 0: buf ← μ·buf + g/d, w ← w − lr·buf;   else w ← w − lr·g/d

Keras and paddle keep buf ← μ·buf + lr·g/d, w ← w − buf: the same for a constant lr. torch spells the decay
``alpha``, Keras and paddle ``rho``.

| key | default | meaning |
|---|---|---|
| ``lr`` | 0.1 | learning rate |
| ``alpha`` | 0.99 | decay of the average of g² (torch ``alpha`` 0.99; Keras ``rho`` 0.9; paddle ``rho`` 0.95) |
| ``eps`` | 1e-8 | ε (torch 1e-8, Keras 1e-7, paddle 1e-6), outside the root canonically |
| ``momentum`` | 0 | μ |
| ``centered`` | false | divide by the estimated variance v − ḡ² instead of v |
"""

from __future__ import annotations

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("alpha", 0.99, "fraction", "decay of the squared-gradient average (Keras, paddle: rho)"),
    Setting("eps", 1e-8, "positive", "ε, added to the root"),
    Setting("momentum", 0.0, "fraction", "μ (0: none)"),
    Setting("centered", False, "bool", "use v − ḡ² (the centered variance)"),
)
OPTIONS = {"eps_inside_sqrt": False}


def step(ctx: Step) -> np.ndarray:
    s, g, state = ctx.s, ctx.g, ctx.state
    a = s["alpha"]
    v = a * state.get("v", 0.0) + (1.0 - a) * g * g
    state["v"] = v
    if s["centered"]:
        mean = a * state.get("mean", 0.0) + (1.0 - a) * g
        state["mean"] = mean
        v = v - mean * mean
    d = np.sqrt(v + s["eps"]) if s["eps_inside_sqrt"] else np.sqrt(v) + s["eps"]
    if s["momentum"] > 0:
        buf = s["momentum"] * state.get("buf", 0.0) + g / d
        state["buf"] = buf
        return -ctx.lr * buf
    return -ctx.lr * g / d
