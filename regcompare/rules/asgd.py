"""ASGD, averaged SGD (torch/optim/asgd.py ``_single_tensor_asgd``).

    w ← w·(1 − lambd·η_t) − η_t·g;   η_1 = lr,  η_{t+1} = lr / (1 + lambd·lr·t)^alpha

``lambd`` is a decay of its own, placed like a decoupled one (w shrinks by lambd·η, outside the gradient) but
with the decaying step size η_t; torch's ``weight_decay`` is added to g (coupled) on top of it. The averaged
iterate ``ax`` (which ``t0`` starts) is kept in the optimizer's state and never written to w: ``t0`` cannot show in
the weights.

paddle.optimizer.ASGD is another algorithm under the same name, SAG (Schmidt et al., paddle/optimizer/asgd.py):
x ← x − lr·(d/min(m+1, n) + λx) with d the sum of the last ``batch_num`` = n gradients; for n = 1 it is SGD,
i.e. this rule with lambd = 0. Option ``sag_batches`` = n > 0 is that API's own rule (0: torch's); its weight_decay
is added to each gradient before the average (the base Optimizer's L2Decay), not outside it as the docstring's λx.

===========  =======  ==================================================
key          default  meaning (torch name)
===========  =======  ==================================================
``lr``       0.1      η_1
``lambd``    1e-4     decay term, also the step size's decay
``alpha``    0.75     power of the step size's decay
``t0``       1e6      step at which averaging starts (``ax`` only, not w)
===========  =======  ==================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from regcompare.rules import Setting, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "initial step size η₁"),
    Setting("lambd", 1e-4, "nonnegative", "decay term: w·(1 − lambd·η) each step, and η's decay"),
    Setting("alpha", 0.75, "nonnegative", "power of η's decay"),
    Setting("t0", 1e6, "nonnegative", "step at which averaging starts (the averaged iterate only)"),
)


def eta(s: dict, t: int) -> float:
    """η_t: lr on step 1, then lr/(1 + lambd·lr·(t−1))^alpha (torch updates η after each step)."""
    return s["lr"] / (1.0 + s["lambd"] * s["lr"] * (t - 1)) ** s["alpha"]


OPTIONS = {"sag_batches": 0}


def _sag(ctx: Step, n: int) -> np.ndarray:
    """paddle's SAG step: the average of the last n gradients (fewer during the first n steps)."""
    ys = ctx.state.setdefault("ys", [np.zeros_like(ctx.g)] * n)
    i = (ctx.t - 1) % n
    d = ctx.state.get("d", np.zeros_like(ctx.g)) - ys[i] + ctx.g
    ys[i], ctx.state["d"] = ctx.g, d
    return -ctx.lr * d / min(ctx.t, n)


def step(ctx: Step) -> np.ndarray:
    if ctx.s["sag_batches"]:
        return _sag(ctx, int(ctx.s["sag_batches"]))
    e = eta(ctx.s, ctx.t)
    return -ctx.s["lambd"] * e * ctx.w - e * ctx.g


def parts(ctx: Step) -> list[Callable[[np.ndarray], np.ndarray]]:
    """The step as torch's for-loop ASGD applies it: ``param.mul_(1 − λ·η)``, then ``param.add_(grad, alpha=−η)``
    (torch/optim/asgd.py ``_single_tensor_asgd``), the weight stored in its dtype after each and the factor
    1 − λ·η rounded to it (a float32 1 − 1e-6 is off by up to 3% of λ·η): the error model samples that
    (``rules.advance(..., split=True)``). paddle's SAG step is one term."""
    if ctx.s["sag_batches"]:
        return [lambda w: w + step(ctx)]
    e = eta(ctx.s, ctx.t)
    return [lambda w: w * (1.0 - ctx.s["lambd"] * e), lambda w: w + -e * ctx.g]
