"""The independent reference: canonical R(w) and dR/dw in float64 from the dtype-rounded inputs.

Sums use ``math.fsum`` (correctly rounded, order independent). Every input dtype but float64 has a
significand of at most 24 bits, so ``w*w`` is exact in float64 and the penalty is the exact value
rounded once; for float64 inputs each square is rounded once (relative error ≤ 2⁻⁵³, all terms
positive). Zero coefficients drop their term, so ``0·inf`` never turns an exact ``inf`` into NaN.
"""

from __future__ import annotations

import math

import numpy as np

from regcompare.conventions import Regularizer


def _fsum(values: np.ndarray) -> float:
    try:
        return math.fsum(values.ravel().tolist())
    except OverflowError:  # the exact sum exceeds float64: it is +inf for these non-negative terms
        return math.inf


def penalty(weights: dict[str, np.ndarray], reg: Regularizer) -> float:
    """l1·Σ|w| + (l2/2)·Σw² over every element of every tensor."""
    terms: list[float] = []
    with np.errstate(over="ignore", invalid="ignore"):
        if reg.l1:
            terms.append(reg.l1 * _fsum(np.concatenate([np.abs(w).ravel() for w in weights.values()])))
        if reg.l2:
            squares = np.concatenate([(w.astype(np.float64) ** 2).ravel() for w in weights.values()])
            terms.append(reg.l2 / 2 * _fsum(squares))
    if any(math.isnan(t) for t in terms):
        return math.nan
    return _fsum(np.asarray(terms)) if terms else 0.0


def gradient(weights: dict[str, np.ndarray], reg: Regularizer) -> dict[str, np.ndarray]:
    """l1·sign(w) + l2·w per tensor, with sign(0) = 0."""
    out = {}
    for name, w in weights.items():
        w64 = w.astype(np.float64)
        g = np.zeros_like(w64)
        if reg.l1:
            g = g + reg.l1 * np.sign(w64)
        if reg.l2:
            g = g + reg.l2 * w64
        out[name] = g
    return out
