"""The independent reference: canonical R(w) and dR/dw in float64 from the dtype-rounded inputs.

Sums use ``math.fsum`` (correctly rounded, order independent). Every input dtype but float64 has a
significand of at most 24 bits, so ``w*w`` is exact in float64 and the penalty is the exact value
rounded once; for float64 inputs each square is rounded once (relative error ≤ 2⁻⁵³, all terms
positive). Zero coefficients drop their term, so ``0·inf`` never turns an exact ``inf`` into NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal

import numpy as np

from regcompare.conventions import Decay, Regularizer

#: Elements per chunk when summing: fsum is fed a chunk's Python floats at a time, so a 10⁷-element
#: tensor costs a chunk's worth of memory, not 10⁷ Python floats at once.
_CHUNK = 1 << 18


def _fsum(arrays: Iterable[np.ndarray], term: Callable[[np.ndarray], np.ndarray]) -> float:
    """The correctly rounded sum of ``term(chunk)`` over every chunk of every array (one fsum stream)."""

    def values() -> Iterator[float]:
        for array in arrays:
            flat = array.reshape(-1)
            for start in range(0, flat.size, _CHUNK):
                yield from term(flat[start:start + _CHUNK].astype(np.float64)).tolist()

    try:
        return math.fsum(values())
    except OverflowError:  # the exact sum exceeds float64: it is +inf for these non-negative terms
        return math.inf


def penalty(weights: dict[str, np.ndarray], reg: Regularizer) -> float:
    """l1·Σ|w| + (l2/2)·Σw² over every element of every tensor (inputs in any dtype, widened per chunk)."""
    terms: list[float] = []
    with np.errstate(over="ignore", invalid="ignore"):
        if reg.l1:
            terms.append(reg.l1 * _fsum(weights.values(), np.abs))
        if reg.l2:
            terms.append(reg.l2 / 2 * _fsum(weights.values(), np.square))
    if any(math.isnan(t) for t in terms):
        return math.nan
    return math.fsum(terms) if terms else 0.0


def gradient(weights: dict[str, np.ndarray], reg: Regularizer) -> dict[str, np.ndarray]:
    """l1·sign(w) + l2·w per tensor, with sign(0) = 0 (inputs in any dtype, widened per chunk)."""
    out = {}
    for name, w in weights.items():
        g = np.zeros(w.shape, np.float64)
        flat_w, flat_g = w.reshape(-1), g.reshape(-1)
        for start in range(0, flat_w.size, _CHUNK):
            w64 = flat_w[start:start + _CHUNK].astype(np.float64)
            part = flat_g[start:start + _CHUNK]
            if reg.l1:
                part += reg.l1 * np.sign(w64)
            if reg.l2:
                part += reg.l2 * w64
        out[name] = g
    return out


# --- update: the weights after `steps` optimizer steps ------------------------------------------------------
#
# Written from each framework's documented update, checked against the pinned sources:
#   SGD   torch/optim/sgd.py _single_tensor_sgd: g += wd·w; buf = g on step 1, else μ·buf + (1−dampening)·g;
#         nesterov: d = g + μ·buf, else d = buf; w −= lr·d. keras/src/optimizers/sgd.py (m ← μm − lr·g,
#         w ← w + m; nesterov w ← w + μm − lr·g) and paddle's momentum kernel (v ← μv + g; w −= lr·v; nesterov
#         w −= lr·(g + μv)) are the same rule for a constant lr and no dampening.
#   Adam  torch/optim/adam.py _single_tensor_adam and paddle's adam kernel: w −= lr/(1−β₁ᵗ) · m/(√v/√(1−β₂ᵗ) + ε);
#         keras/src/optimizers/adam.py: w −= lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε) (ε on the raw √v).
#   Decoupled decay, before the step, with the plain lr: torch (param.mul_(1 − lr·wd)), keras
#         base_optimizer._apply_weight_decay (w − w·wd·lr), paddle adamw kernel (p − lr·lr_ratio·coeff·p).

Settings = dict[str, float | bool]
Semantics = Literal["coupled", "decoupled"]


def _decay_gradient(w: np.ndarray, reg: Regularizer) -> np.ndarray:
    g = np.zeros_like(w)
    if reg.l1:
        g = g + reg.l1 * np.sign(w)
    if reg.l2:
        g = g + reg.l2 * w
    return g


def _sgd_direction(g: np.ndarray, state: dict[str, Any], s: Settings) -> np.ndarray:
    if not s["momentum"]:
        return g
    buf = state.get("buf")
    buf = g.copy() if buf is None else s["momentum"] * buf + (1.0 - s["dampening"]) * g
    state["buf"] = buf
    return g + s["momentum"] * buf if s["nesterov"] else buf


def _adam_direction(g: np.ndarray, state: dict[str, Any], s: Settings, t: int, eps_on: str) -> np.ndarray:
    """The step divided by lr."""
    b1, b2, eps = s["beta1"], s["beta2"], s["eps"]
    m = b1 * state.get("m", 0.0) + (1.0 - b1) * g
    v = b2 * state.get("v", 0.0) + (1.0 - b2) * g * g
    state["m"], state["v"] = m, v
    c1, c2 = 1.0 - b1**t, 1.0 - b2**t
    if eps_on == "v_hat":
        return m / c1 / (np.sqrt(v) / math.sqrt(c2) + eps)
    return math.sqrt(c2) / c1 * m / (np.sqrt(v) + eps)


def update(
    weights: dict[str, np.ndarray], grads: dict[str, np.ndarray], reg: Regularizer, family: str,
    settings: Settings, steps: int, semantics: Semantics, eps_on: str = "v_hat",
) -> dict[str, np.ndarray]:
    """The weights after ``steps`` steps of ``family`` (sgd | adam) on constant loss gradients, in float64.

    ``coupled``: the canonical decay ``l1·sign(w) + l2·w`` is added to the gradient, so it goes through
    momentum and Adam's moments. ``decoupled``: ``w ← w − lr·l2·w`` before each step (l1 must be 0).
    """
    if semantics == "decoupled" and reg.l1:
        raise ValueError("decoupled decay has no L1 term")
    decay = Decay(decoupled=reg.l2) if semantics == "decoupled" else Decay(reg)
    return update_decays(weights, grads, dict.fromkeys(weights, decay), family, settings, steps, eps_on)


def update_decays(
    weights: dict[str, np.ndarray], grads: dict[str, np.ndarray], decays: dict[str, Decay], family: str,
    settings: Settings, steps: int, eps_on: str = "v_hat",
) -> dict[str, np.ndarray]:
    """``update`` with each tensor's own decay: a coupled part in the gradient and a decoupled part before
    the step, both at once where a framework applies both (a Keras kernel_regularizer with weight_decay)."""
    lr = float(settings["lr"])
    out = {}
    for name, w0 in weights.items():
        w = w0.astype(np.float64)
        loss_grad = grads[name].astype(np.float64)
        decay = decays[name]
        state: dict[str, Any] = {}
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(1, steps + 1):
                # The coupled term is part of the gradient, taken before the step changes w at all.
                g = loss_grad + _decay_gradient(w, decay.coupled)
                if decay.decoupled:
                    w = w - lr * decay.decoupled * w
                d = _sgd_direction(g, state, settings) if family == "sgd" else _adam_direction(
                    g, state, settings, t, eps_on)
                w = w - lr * d
        out[name] = w
    return out


# --- weight normalization: w = g · v/‖v‖, the regularizer on g and v -------------------------------------------
#
# torch.nn.utils.parametrizations.weight_norm, paddle.nn.utils.weight_norm and paddle.static.WeightNormParamAttr
# train g and v, not w: an L2 term decays g and v, and w only through them. ``dim`` keeps one norm per slice
# along that axis (dim=0: one per output row); ``None`` is one norm of the whole tensor.


def _axes(w: np.ndarray, dim: int | None) -> tuple[int, ...]:
    return tuple(a for a in range(w.ndim) if dim is None or a != dim % w.ndim)


def weight_norm_split(w: np.ndarray, dim: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The initial (g, v) of a weight, as every framework initialises them: g = ‖w‖ (kept dims), v = w."""
    w = w.astype(np.float64)
    return np.sqrt(np.sum(w * w, axis=_axes(w, dim), keepdims=True)), w.copy()


def weight_norm_grads(
    g: np.ndarray, v: np.ndarray, dw: np.ndarray, dim: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """w(g, v) and the loss gradient dL/dw chained to (dL/dg, dL/dv): with u = v/‖v‖,
    dL/dg = Σ dL/dw ⊙ u and dL/dv = g/‖v‖ · (dL/dw − (Σ dL/dw ⊙ u) u), sums over the normed axes."""
    axes = _axes(v, dim)
    norm = np.sqrt(np.sum(v * v, axis=axes, keepdims=True))
    u = v / norm
    along = np.sum(dw * u, axis=axes, keepdims=True)
    return g * u, along, g / norm * (dw - along * u)


def weight_norm_update(
    w0: np.ndarray, dw: np.ndarray, reg: Regularizer, family: str, settings: Settings, steps: int,
    dim: int | None, eps_on: str = "v_hat",
) -> dict[str, np.ndarray]:
    """g, v and the resulting w after ``steps`` steps with the canonical (coupled) ``reg`` on g and on v."""
    g, v = weight_norm_split(w0, dim)
    lr = float(settings["lr"])
    states: dict[str, dict[str, Any]] = {"g": {}, "v": {}}
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            _, dg, dv = weight_norm_grads(g, v, dw.astype(np.float64), dim)
            new = {}
            for name, p, loss_grad in (("g", g, dg), ("v", v, dv)):
                grad = loss_grad + _decay_gradient(p, reg)
                d = _sgd_direction(grad, states[name], settings) if family == "sgd" else _adam_direction(
                    grad, states[name], settings, t, eps_on)
                new[name] = p - lr * d
            g, v = new["g"], new["v"]
        w = weight_norm_grads(g, v, np.zeros_like(v), dim)[0]
    return {"g": g, "v": v, "w": w}
