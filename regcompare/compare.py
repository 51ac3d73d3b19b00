"""Judging one value against the reference: worst element, abs/rel error, ULP, and why.

Equal when both are NaN, or both are infinite with the same sign; an ``inf`` is also right when the
exact value itself overflows the dtype. A non-finite result where the exact value fits the dtype
is reported as an overflow (or NaN) with the exact value beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from regcompare.dtypes import Tolerance, cast, finfo, ulp


@dataclass(frozen=True)
class Verdict:
    ok: bool
    abs_err: float | None
    rel_err: float | None
    ulp: float | None
    worst: tuple[int, ...] | None
    """Index of the worst element (``()`` for a scalar)."""
    detail: str


def _fmt_index(index: tuple[int, ...]) -> str:
    return f" at index {index}" if index else ""


def compare(actual: np.ndarray, reference: np.ndarray, dtype: str, tol: Tolerance, tol_source: str) -> Verdict:
    a = np.asarray(actual, np.float64)
    r = np.asarray(reference, np.float64)
    allowed = f"rtol={tol.rtol:g}, atol={tol.atol:g} ({tol_source})"
    if a.shape != r.shape:
        return Verdict(False, None, None, None, None, f"shape {list(a.shape)} where {list(r.shape)} was expected")
    if a.size == 0:
        return Verdict(True, 0.0, 0.0, 0.0, None, f"empty tensor; {allowed}")

    rounded = cast(r, dtype).astype(np.float64)  # the exact value as the dtype can hold it
    both_nan = np.isnan(a) & np.isnan(r)
    same_inf = np.isinf(a) & (a == rounded)  # covers inf references and exact values that overflow
    special = both_nan | same_inf
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_err = np.where(special, 0.0, np.abs(a - r))
        abs_err = np.where(np.isnan(abs_err), math.inf, abs_err)
        # A non-finite reference is met only by the special cases above: no tolerance around inf or NaN.
        bound = np.where(np.isfinite(r), tol.atol + tol.rtol * np.abs(r), 0.0)
        rel_err = np.where(abs_err == 0, 0.0, abs_err / np.abs(r))
        ulps = np.where(abs_err == 0, 0.0, abs_err / ulp(r, dtype))
    rel_err = np.where(np.isnan(rel_err), math.inf, rel_err)
    ulps = np.where(np.isnan(ulps), math.inf, ulps)
    bad = abs_err > bound

    worst = np.unravel_index(int(np.argmax(np.where(bad, abs_err, -1.0) if bad.any() else abs_err)), a.shape)
    index = tuple(int(i) for i in worst)
    figures = (float(abs_err.max()), float(rel_err.max()), float(ulps.max()))
    if not bad.any():
        notes = []
        if (np.isinf(rounded) & ~np.isinf(r)).any():
            notes.append(f"the exact value overflows {dtype}, so inf is right")
        return Verdict(True, *figures, index, "; ".join([f"within {allowed}", *notes]))
    got, want = float(a[worst]), float(r[worst])
    if math.isinf(got) and abs(want) <= float(finfo(dtype).max):
        why = f"overflow: {dtype} result is {got} where the exact value {want:.9g} fits {dtype}"
    elif math.isnan(got):
        why = f"NaN where the exact value is {want:.9g}"
    elif math.isnan(want):
        why = f"{got:.9g} where the exact value is NaN (the NaN input did not propagate)"
    else:
        why = f"{got:.9g} vs {want:.9g}: abs err {abs(got - want):.3g} > {float(bound[worst]):.3g} allowed"
    return Verdict(False, *figures, index, f"{why}{_fmt_index(index)}; {allowed}")
