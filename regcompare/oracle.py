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

from regcompare import rules
from regcompare.conventions import Decay, Regularizer

#: Elements per chunk when summing: fsum is fed a chunk's Python floats at a time, so a 10⁷-element
#: tensor costs a chunk's worth of memory, not 10⁷ Python floats at once.
_CHUNK = 1 << 18


def _fsum(arrays: Iterable[np.ndarray], term: Callable[[np.ndarray], np.ndarray]) -> float:
    """The correctly rounded sum of ``term(chunk)`` over every chunk of every array (one fsum stream; each chunk
    first split into a few floats with the same exact sum, ``_exact_parts``)."""

    def values() -> Iterator[float]:
        for array in arrays:
            flat = array.reshape(-1)
            for start in range(0, flat.size, _CHUNK):
                yield from _exact_parts(term(flat[start:start + _CHUNK].astype(np.float64)))

    try:
        return math.fsum(values())
    except OverflowError:  # the exact sum exceeds float64: it is +inf for these non-negative terms
        return math.inf


#: Extractions per chunk before what is left goes to fsum element by element (each takes 52 − log₂(n + 2) bits).
_PASSES = 6


def _exact_parts(x: np.ndarray) -> list[float]:
    """Floats whose exact sum is exactly the sum of ``x`` (float64): a few, where ``x`` is millions (fsum's cost is
    a Python float per element). Rump, Ogita and Oishi's error-free extraction (Accurate floating-point summation
    part I, SIAM J. Sci. Comput. 31(1), 2008, Algorithm 3.2 ExtractVector): with σ = 2^(M+e), 2^M ≥ n + 2 and
    max|x| < 2^e, q = (σ + x) − σ is x rounded to a multiple of ulp(σ) and x − q is exact, and Σq is exact in any
    order (multiples of ulp(σ) no larger than n·2^e < 2^53·ulp(σ)). Each pass keeps Σq and goes on with the
    remainders that are not 0; what is left after ``_PASSES`` is returned as it is. Non-finite values (fsum's own
    rules for inf and NaN) are returned whole, and values too large for σ are left to fsum."""
    top = float(np.abs(x).max()) if x.size else 0.0
    if not math.isfinite(top):
        return x.tolist()
    parts: list[float] = []
    bits = (x.size + 2).bit_length()  # 2^bits > n + 2
    for _ in range(_PASSES):
        if top == 0.0:
            x = x[:0]
            break
        exponent = math.frexp(top)[1]  # max|x| < 2^exponent
        if exponent + bits > 1023:  # σ would not be a finite float64
            break
        sigma = math.ldexp(1.0, exponent + bits)
        q = (sigma + x) - sigma
        parts.append(float(q.sum()))
        x = x - q
        x = x[x != 0]
        top = float(np.abs(x).max()) if x.size else 0.0
    # Ascending: an fsum stream of non-negative terms never runs above its running total (the remainders may be
    # negative), so a sum near the float64 limit overflows only where the elements' own stream would.
    return np.sort(np.concatenate([parts, x])).tolist()


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


# --- update: the weights after `steps` optimizer steps (the rules and the decay placement: regcompare.rules) ------

Settings = dict[str, Any]
Semantics = Literal["coupled", "decoupled", "decoupled_unscaled"]


def update(
    weights: dict[str, np.ndarray], grads: dict[str, np.ndarray], reg: Regularizer, rule: str,
    settings: Settings, steps: int, semantics: Semantics, options: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """The weights after ``steps`` steps of ``rule`` on constant loss gradients, in float64.

    ``coupled``: the canonical decay ``l1·sign(w) + l2·w`` is added to the gradient, so it goes through
    momentum and Adam's moments. ``decoupled``: ``w ← w − lr·l2·w`` before each step (l1 must be 0), lr the step's
    scheduled lr; ``decoupled_unscaled``: the same with the optimizer's own lr number (``Decay.unscaled``).
    ``options``: the rule's options as an API implements them (regcompare.rules.canonical).
    """
    if semantics != "coupled" and reg.l1:
        raise ValueError("decoupled decay has no L1 term")
    unscaled = semantics == "decoupled_unscaled"
    decay = Decay(reg) if semantics == "coupled" else Decay(decoupled=reg.l2, unscaled=unscaled)
    return update_decays(weights, grads, dict.fromkeys(weights, decay), rule, settings, steps, options)


def update_decays(
    weights: dict[str, np.ndarray], grads: dict[str, np.ndarray], decays: dict[str, Decay], rule: str,
    settings: Settings, steps: int, options: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """``update`` with each tensor's own decay: a coupled part in the gradient and a decoupled part before
    the step, both at once where a framework applies both (a Keras kernel_regularizer with weight_decay)."""
    return rules.update(rule, weights, grads, decays, rules.canonical(rule, settings, options), steps)


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
    w0: np.ndarray, dw: np.ndarray, reg: Regularizer, rule: str, settings: Settings, steps: int,
    dim: int | None, options: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """g, v and the resulting w after ``steps`` steps with the canonical (coupled) ``reg`` on g and on v."""
    g, v = weight_norm_split(w0, dim)
    full = rules.canonical(rule, settings, options)
    mod = rules.module(rule)
    lr = float(full["lr"])
    states: dict[str, dict[str, Any]] = {"g": {}, "v": {}}
    dw = -dw if full.get("maximize") else dw  # torch's maximize negates the loss gradient, never the decay
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            _, dg, dv = weight_norm_grads(g, v, dw.astype(np.float64), dim)
            new = {}
            for name, p, loss_grad in (("g", g, dg), ("v", v, dv)):
                new[name] = p + rules.step_once(mod, p, loss_grad, Decay(reg), full, t, lr, states[name], False)
            g, v = new["g"], new["v"]
        w = weight_norm_grads(g, v, np.zeros_like(v), dim)[0]
    return {"g": g, "v": v, "w": w}
