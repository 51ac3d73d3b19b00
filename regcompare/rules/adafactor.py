"""Adafactor (torch/optim/_adafactor.py ``_single_tensor_adafactor``; keras/src/optimizers/adafactor.py
``Adafactor.update_step``), without first moment, with relative step sizes.

    ρ_t = min(lr, 1/√t);   α_t = max(eps2, RMS(w))·ρ_t          (the relative step: it scales with the weights)
    β̂_t = t^beta2_decay;  vector: v ← (1−β̂_t)·v + β̂_t·g²;  matrix (last two axes): row/col means of g² the same,
    v = (r ⊗ c)/mean(r) (r clamped at eps1);   u = g/√max(v, eps1²);   w ← w − α_t·u/max(1, RMS(u)/d)

torch's weight_decay is decoupled, ``w ← w·(1 − lr·λ)`` *after* α_t is taken from the undecayed w, so the rule
takes the coefficient itself (``takes_decoupled``, option ``rms_before_decay``), and multiplies by the rounded
factor 1 − lr·λ as torch does (``_decayed``). Keras decays first
(BaseOptimizer._apply_weight_decay, before update_step) and takes RMS(w) of the decayed weights (its own option).
Keras adds eps1 to g² where torch clamps with it: the same for gradients far above √eps1.

================  =======  ==========================================================
key               default  torch / Keras name
================  =======  ==========================================================
``lr``            0.1      ``lr`` (0.01) / ``learning_rate`` (0.001): ρ_t's cap
``beta2_decay``   -0.8     ``beta2_decay`` / ``beta_2_decay``
``eps1``          1e-30    ``eps[0]`` (None: the dtype's machine ε) / ``epsilon_1``
``eps2``          1e-3     ``eps[1]`` / ``epsilon_2``: the smallest RMS(w) in α_t
``d``             1.0      ``d`` / ``clip_threshold``: the update's RMS clip
================  =======  ==========================================================
"""

from __future__ import annotations

import math

import numpy as np

from regcompare.rules import Setting, Settings, Step

SETTINGS = (
    Setting("lr", 0.1, "positive", "cap of the relative step ρ_t = min(lr, 1/√t)"),
    Setting("beta2_decay", -0.8, "real", "β̂_t = t^beta2_decay, the second moment's update weight"),
    Setting("eps1", 1e-30, "positive", "floor of the second-moment estimate"),
    Setting("eps2", 1e-3, "positive", "floor of RMS(w) in the step size"),
    Setting("d", 1.0, "positive", "clipping threshold of the update's RMS"),
)
OPTIONS = {"rms_before_decay": True}


def takes_decoupled(settings: Settings) -> bool:
    """torch: α_t is taken from the weights before its decoupled decay, so the rule applies that decay itself."""
    return bool(settings["rms_before_decay"])


def _rms(x: np.ndarray) -> float:
    return math.sqrt(float(np.mean(x * x)))


def _decayed(w: np.ndarray, lr_wd: float) -> np.ndarray:
    """torch's ``param.mul_(1 - lr * weight_decay)`` (``_single_tensor_adafactor``): a multiplication by the factor
    rounded in the weights' type, not w − lr·λ·w. The factor's rounding is the same every step, so it adds up over
    the steps (1.9e-14 on weights ~4 after 100 float64 steps with lr·λ = 5e-6, twice the float64 band); in the
    reference it is float64's, in the error model's long-double sample long double's, and the band measures it.
    (w·f − w is exact, f within [½, 2]: added back to w it gives w·f up to the rounding of the step.)"""
    return w * (w.dtype.type(1.0) - lr_wd)


def _estimate(g: np.ndarray, beta: float, eps1: float, state: dict) -> np.ndarray:
    if g.ndim < 2:
        v = state.get("v", np.zeros_like(g))
        state["v"] = v + beta * (g * g - v)
        return state["v"]
    row = state.get("row", np.zeros((*g.shape[:-1], 1)))
    col = state.get("col", np.zeros((*g.shape[:-2], 1, g.shape[-1])))
    row = row + beta * (np.mean(g * g, axis=-1, keepdims=True) - row)
    col = col + beta * (np.mean(g * g, axis=-2, keepdims=True) - col)
    state["row"], state["col"] = row, col
    return (row @ col) / np.maximum(np.mean(row, axis=-2, keepdims=True), eps1)


def step(ctx: Step) -> np.ndarray:
    s, g, t, w = ctx.s, ctx.g, ctx.t, ctx.w
    alpha = max(s["eps2"], _rms(w)) * min(ctx.lr, 1.0 / math.sqrt(t))
    shrink = _decayed(w, ctx.lr * ctx.decoupled) - w if s["rms_before_decay"] and ctx.decoupled else 0.0
    v = _estimate(g, float(t) ** s["beta2_decay"], s["eps1"], ctx.state)
    u = g / np.sqrt(np.maximum(v, s["eps1"] ** 2))
    return shrink - alpha / max(1.0, _rms(u) / s["d"]) * u
