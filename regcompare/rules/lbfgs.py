"""L-BFGS without line search (torch/optim/lbfgs.py ``LBFGS.step``, ``line_search_fn=None``; paddle/optimizer/lbfgs.py
``LBFGS.step`` is the same algorithm). One ``step`` is one ``optimizer.step(closure)``: up to ``max_iter`` inner
iterations over every tensor as one flat vector (``JOINT``), each re-evaluating the loss and gradient at the new
weights (``ctx.loss_at``, ``ctx.grad_at``: the loss Σ grads⊙w plus the coupled penalty).

    d = −H·g (two-loop recursion over the last ``history_size`` pairs s = t·d, y = Δg with y·s > 1e-10;
    H₀ = y·s/y·y);  t = min(1, 1/‖g‖₁)·lr on the very first iteration, lr after;  w ← w + t·d
    stop: max_iter, max_eval evaluations, max|g| ≤ tolerance_grad, g·d > −tolerance_change,
    max|t·d| ≤ tolerance_change or |Δloss| < tolerance_change

====================  =======  ==========================================
key                   default  meaning (torch name; paddle the same)
====================  =======  ==========================================
``lr``                0.1      step length (torch default 1; paddle ``learning_rate``)
``max_iter``          20       inner iterations per step
``max_eval``          25       function evaluations per step (torch: max_iter·5/4)
``tolerance_grad``    1e-7     first-order optimality tolerance
``tolerance_change``  1e-9     tolerance on the loss or weight change
``history_size``      100      number of (s, y) pairs kept
====================  =======  ==========================================
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regcompare.dtypes import cast
from regcompare.rules import Setting, Settings, Step

JOINT = True
SETTINGS = (
    Setting("lr", 0.1, "positive", "step length t (the first iteration's scaled by min(1, 1/‖g‖₁))"),
    Setting("max_iter", 20, "count", "inner iterations per optimizer step"),
    Setting("max_eval", 25, "count", "loss/gradient evaluations per optimizer step"),
    Setting("tolerance_grad", 1e-7, "positive", "stop when max|g| is at most this"),
    Setting("tolerance_change", 1e-9, "positive", "stop when the loss or the weights change less"),
    Setting("history_size", 100, "count", "(s, y) pairs kept"),
)


#: A setting the rule reads but no case sets: the dtype its scalars are held in. torch's LBFGS keeps every scalar of
#: the algorithm as a 0-dim tensor of the parameters' dtype — the curvature y·s and y·y, ρ = 1/y·s, H_diag, the
#: two-loop coefficients α and β, g·d, ‖g‖₁ — and compares tensors against its Python-float thresholds in that
#: dtype (tolerance_change = 1e-9 is 0 in float16, 1e-10 too). In 16 bits that is 3 significant digits for ρ and
#: H_diag: the error model sets it for one sample of a float16/bfloat16 row (torch/optim/lbfgs.py LBFGS.step).
SCALAR_PRECISION = "scalar_precision"


def _held(value: float, s: Settings) -> float:
    """``value`` as a 0-dim tensor of the held precision holds it (``SCALAR_PRECISION``), else unchanged."""
    precision = s.get(SCALAR_PRECISION)
    return value if precision is None else float(cast(np.asarray(value, np.float64), precision))


def _dot(a: np.ndarray, b: np.ndarray, s: Settings) -> float:
    """a·b in the arrays' own type; held, summed in float64 and then rounded (torch's 16-bit ``dot`` accumulates
    in float32 and stores the dtype)."""
    if s.get(SCALAR_PRECISION) is None:
        return float(a @ b)
    return _held(float(np.dot(np.asarray(a, np.float64), np.asarray(b, np.float64))), s)


def _direction(g: np.ndarray, st: dict[str, Any], s: Settings) -> np.ndarray:
    """−H·g by the two-loop recursion over the stored pairs."""
    if s.get(SCALAR_PRECISION) is None:
        return _direction_unheld(g, st)
    q = -g
    al = [0.0] * len(st["dirs"])
    for i in range(len(st["dirs"]) - 1, -1, -1):
        al[i] = _held(_dot(st["stps"][i], q, s) * st["ro"][i], s)
        q = q - al[i] * st["dirs"][i]
    r = q * st["H_diag"]
    for i in range(len(st["dirs"])):
        be = _held(_dot(st["dirs"][i], r, s) * st["ro"][i], s)
        r = r + _held(al[i] - be, s) * st["stps"][i]
    return r


def _direction_unheld(g: np.ndarray, st: dict[str, Any]) -> np.ndarray:
    """``_direction`` with no held scalars (``_dot`` is ``float(a @ b)``, ``_held`` the value itself): the same
    operations in the same order, without two calls per product (history_size pairs per iteration)."""
    dirs, stps, ro = st["dirs"], st["stps"], st["ro"]
    q = -g
    al = [0.0] * len(dirs)
    for i in range(len(dirs) - 1, -1, -1):
        al[i] = float(stps[i] @ q) * ro[i]
        q = q - al[i] * dirs[i]
    r = q * st["H_diag"]
    for i in range(len(dirs)):
        be = float(dirs[i] @ r) * ro[i]
        r = r + (al[i] - be) * stps[i]
    return r


def _remember(g: np.ndarray, st: dict[str, Any], history: int, s: Settings) -> None:
    """Store the pair (s, y) of the last iteration if its curvature y·s is positive."""
    y, step = g - st["prev_g"], st["d"] * st["t"]
    ys = _dot(y, step, s)
    if ys > _held(1e-10, s):
        if len(st["dirs"]) == history:
            for key in ("dirs", "stps", "ro"):
                st[key].pop(0)
        st["dirs"].append(y)
        st["stps"].append(step)
        st["ro"].append(_held(1.0 / ys, s))
        with np.errstate(divide="ignore", invalid="ignore"):  # a held y·y may be 0 or inf: H_diag inf or 0
            st["H_diag"] = _held(float(np.float64(ys) / np.float64(_dot(y, y, s))), s)


#: A setting the rule reads but no case sets: the dtype the loss is rounded to, as a closure returns it (a tensor of
#: the weights' dtype). Its stopping test |Δloss| < tolerance_change then sees the rounded loss (a float16 loss of
#: ~1e5 changes in steps of 64): the error model sets it for its samples in the row's dtype.
LOSS_PRECISION = "loss_precision"


def _loss(ctx: Step, w: np.ndarray) -> float:
    assert ctx.loss_at is not None
    loss = ctx.loss_at(w)
    precision = ctx.s.get(LOSS_PRECISION)
    return loss if precision is None else float(cast(np.asarray(loss, np.float64), precision))


def _first_t(g: np.ndarray, s: Settings) -> float:
    """min(1, 1/‖g‖₁), the first iteration's step scale; with held scalars ‖g‖₁ and its reciprocal are 0-dim
    tensors of that dtype (a float16 ‖g‖₁ above 65504 is inf, and the first step is 0)."""
    if s.get(SCALAR_PRECISION) is None:
        return min(1.0, 1.0 / float(np.sum(np.abs(g))))
    total = _held(float(np.sum(np.abs(np.asarray(g, np.float64)))), s)
    with np.errstate(divide="ignore"):
        return min(1.0, _held(float(np.float64(1.0) / np.float64(total)), s))


def step(ctx: Step) -> np.ndarray:
    assert ctx.grad_at is not None and ctx.loss_at is not None, "LBFGS evaluates the loss again"
    s, st = ctx.s, ctx.state
    st.setdefault("n_iter", 0)
    w = ctx.w.copy()
    loss, g = _loss(ctx, w), ctx.g
    evals = 1
    if np.max(np.abs(g)) <= _held(s["tolerance_grad"], s):
        return np.zeros_like(w)
    for n_iter in range(1, int(s["max_iter"]) + 1):
        st["n_iter"] += 1
        if st["n_iter"] == 1:
            st.update(dirs=[], stps=[], ro=[], H_diag=1.0)
            d = -g
        else:
            _remember(g, st, int(s["history_size"]), s)
            d = _direction(g, st, s)
        st["prev_g"], prev_loss = g, loss
        scale = _first_t(g, s) if st["n_iter"] == 1 else 1.0
        t = ctx.lr if scale == 1.0 else _held(scale * ctx.lr, s)  # a held 1/‖g‖₁ times lr is a tensor too
        st["d"], st["t"] = d, t
        if _dot(g, d, s) > -_held(s["tolerance_change"], s):
            break
        w = w + t * d
        optimal = False
        if n_iter != s["max_iter"]:
            loss, g = _loss(ctx, w), ctx.grad_at(w)
            evals += 1
            optimal = bool(np.max(np.abs(g)) <= _held(s["tolerance_grad"], s))
        if n_iter == s["max_iter"] or evals >= s["max_eval"] or optimal:
            break
        # |Δloss| compares Python floats (torch takes float(closure())); the step's size is a tensor of the dtype
        if np.max(np.abs(d * t)) <= _held(s["tolerance_change"], s) or abs(loss - prev_loss) < s["tolerance_change"]:
            break
    return w - ctx.w
