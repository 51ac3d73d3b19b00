"""Measuring a decay term through a real optimizer step, without losing it to rounding.

Frameworks such as torch (``SGD(weight_decay=c)``) and paddle (``L2Decay``/``L1Decay``) expose the
regularizer only inside an optimizer step. With a zero loss gradient one plain SGD step gives
``w' = w - lr * term``, so ``term = (w - w') / lr``. Two choices keep that recovery faithful:

* ``lr`` is a power of two, so multiplying and dividing by it is exact;
* ``lr * |term|`` is about ``|w|``: then ``w - lr*term`` subtracts numbers within a factor of two
  of each other (exact by Sterbenz' lemma for a pure L2 term) and, in general, ``w'`` is rounded
  at most half an ULP of a value no larger than the term itself.

The recovered term is therefore the framework's own rounded term to within about one ULP.
"""

from __future__ import annotations

import math

import numpy as np

from regcompare.dtypes import finfo


def probe_lr(weights: dict[str, np.ndarray], l1: float, l2: float, dtype: str) -> float:
    """A power-of-two learning rate for which ``lr * (l1 + l2*m)`` is about ``m = max|w|``."""
    finite = [np.abs(a[np.isfinite(a)].astype(np.float64)) for a in weights.values()]
    m = max((float(a.max()) for a in finite if a.size), default=0.0) or 1.0
    rate = l1 + l2 * m
    if rate <= 0.0 or not math.isfinite(rate):
        return 1.0
    exponent = round(math.log2(m / rate))
    limit = math.floor(math.log2(float(finfo(dtype).max))) - 2  # keep lr itself representable
    return 2.0 ** max(-limit, min(limit, exponent))


def term_from_step(before: np.ndarray, after: np.ndarray, lr: float) -> np.ndarray:
    """The decay term of one SGD step with zero loss gradient: ``(w - w') / lr`` in float64."""
    return (np.asarray(before, np.float64) - np.asarray(after, np.float64)) / lr
