"""FTRL-Proximal (keras/src/optimizers/ftrl.py ``Ftrl.update_step``; McMahan et al. 2013). torch and paddle have no
Ftrl: the canonical rule is Keras', with the decay placed as everywhere else (coupled: its gradient added to g).

    n' = n + g_n²;   z ← z + g_z − (n'^(−p) − n^(−p))/lr · w;   n ← n'
    w ← (clip(z, −λ₁, λ₁) − z) / (n'^(−p)/lr + 2·(λ₂ + β/(2·lr)))           (p = lr_power = −0.5: n'^(−p) = √n')

Keras' own regularization arguments are conventions of their own (``reg_form``, an API's option):

- ``gradient`` (canonical): the coupled decay is in g for both n and z, λ₁ = λ₂ = 0;
- ``shrinkage`` (``l2_shrinkage_regularization_strength`` = l2/2): 2·λs·w is added to the g of z only, n accumulates
  the loss gradient alone;
- ``proximal`` (``l1_regularization_strength`` = l1, ``l2_regularization_strength`` = l2/2): λ₁|w| + λ₂w² enter
  the closed form above, on the whole accumulated objective, never the gradient.

==============================  =======  ==========================================
key                             default  Keras name
==============================  =======  ==========================================
``lr``                          0.1      ``learning_rate`` (0.001)
``lr_power``                    -0.5     ``learning_rate_power``
``initial_accumulator_value``   0.1      ``initial_accumulator_value``: n₀
``beta``                        0.0      ``beta``
==============================  =======  ==========================================
"""

from __future__ import annotations

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "learning rate"),
    Setting("lr_power", -0.5, "real", "power of the accumulator in the per-coordinate step (≤ 0)"),
    Setting("initial_accumulator_value", 0.1, "nonnegative", "n₀, the accumulator's start"),
    Setting("beta", 0.0, "nonnegative", "β, added to the accumulator's root"),
)
OPTIONS = {"reg_form": "gradient"}


def step(ctx: Step) -> np.ndarray:
    s, w, form = ctx.s, ctx.w, ctx.s["reg_form"]
    assert ctx.loss_grad is not None, "the loop passes the loss gradient"
    g_n = ctx.g if form == "gradient" else ctx.loss_grad
    g_z = ctx.loss_grad if form == "proximal" else ctx.g
    l1, l2 = (ctx.coupled.l1, ctx.coupled.l2 / 2) if form == "proximal" else (0.0, 0.0)
    n = ctx.state.get("n", np.full_like(w, s["initial_accumulator_value"]))
    z = ctx.state.get("z", np.zeros_like(w))
    power = -s["lr_power"]
    new_n = n + g_n * g_n
    z = z + g_z - (new_n**power - n**power) / ctx.lr * w
    quadratic = new_n**power / ctx.lr + 2 * (l2 + s["beta"] / (2 * ctx.lr))
    ctx.state["n"], ctx.state["z"] = new_n, z
    return (np.clip(z, -l1, l1) - z) / quadratic - w
