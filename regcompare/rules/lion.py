"""Lion (keras/src/optimizers/lion.py ``Lion.update_step``; Chen et al. 2023, arXiv:2302.06675). torch and paddle
have no Lion: the canonical rule is Keras'.

    c = β₁m + (1−β₁)g;   w ← w − lr·sign(c);   m ← β₂m + (1−β₂)g

Its decay is Keras' generic one, a direct shrink w ← w − lr·λ·w before the step (the paper's decoupled decay);
an L2 penalty in the loss (a layer regularizer) goes through the sign instead: coupled, it moves w by lr at most.

==========  =======  =========================================
key         default  Keras name
==========  =======  =========================================
``lr``      0.1      ``learning_rate`` (Keras default 0.001)
``beta1``   0.9      ``beta_1``, the interpolation for the sign
``beta2``   0.99     ``beta_2``, the momentum's decay
==========  =======  =========================================
"""

from __future__ import annotations

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("beta1", 0.9, "fraction", "β₁: interpolation between momentum and gradient inside the sign"),
    Setting("beta2", 0.99, "fraction", "β₂: the momentum's decay"),
)


def step(ctx: Step) -> np.ndarray:
    s, g = ctx.s, ctx.g
    m = ctx.state.get("m", np.zeros_like(g))
    c = s["beta1"] * m + (1.0 - s["beta1"]) * g
    ctx.state["m"] = s["beta2"] * m + (1.0 - s["beta2"]) * g
    return -ctx.lr * np.sign(c)
