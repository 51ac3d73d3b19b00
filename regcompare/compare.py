"""Judging one value against the reference: worst element, abs/rel error, ULP, and why.

Equal when both are NaN, or both are infinite with the same sign; an ``inf`` is also right when the
exact value itself overflows the dtype. A non-finite result where the exact value fits the dtype
is reported as an overflow (or NaN) with the exact value beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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


def atol_text(atol: np.ndarray) -> str:
    """``atol=1e-05``, or for a per-element atol its range: ``atol=2e-07…4e-06 per element``."""
    if not atol.ndim:
        return f"atol={float(atol):g}"
    low, high = (float(atol.min()), float(atol.max())) if atol.size else (0.0, 0.0)
    return f"atol={high:g} per element" if low == high else f"atol={low:g}…{high:g} per element"


def at_index(index: tuple[int, ...]) -> str:
    """Where the worst element is, in words: `` at index (1, 2)`` (nothing for a scalar)."""
    return f" at index {index}" if index else ""


#: Elements compared at a time: the temporaries of a 10⁷-element comparison stay a few MB each.
_CHUNK = 1 << 17


@dataclass
class _Errors:
    """Element-wise errors of one chunk."""

    abs_err: np.ndarray
    rel_err: np.ndarray
    ulps: np.ndarray
    bound: np.ndarray
    bad: np.ndarray
    overflow_is_right: bool


def _errors(a: np.ndarray, r: np.ndarray, dtype: str, tol: Tolerance) -> _Errors:
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
    overflow_is_right = bool((np.isinf(rounded) & ~np.isinf(r)).any())
    return _Errors(abs_err, rel_err, ulps, bound, abs_err > bound, overflow_is_right)


def _finite_errors(a: np.ndarray, r: np.ndarray, dtype: str, tol: Tolerance) -> _Errors | None:
    """``_errors`` with a quarter of the array operations, for the common case where it is exact to skip the rest:
    every value finite and the reference within the dtype's range, so no NaN or inf rule applies and the exact
    value rounds to a finite one (None otherwise). Small arrays are judged by the hundred thousand: per-call
    overhead, not arithmetic, is their cost."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = a - r
        abs_r = np.abs(r)
        if not (np.isfinite(diff).all() and abs_r.max() <= _max(dtype)):
            return None  # a non-finite value on either side, or a reference that may round to inf: the full rules
        abs_err = np.abs(diff)
        bound = tol.atol + tol.rtol * abs_r
        exact = abs_err == 0
        rel_err = np.where(exact, 0.0, abs_err / abs_r)  # a zero reference with an error: inf, as in _errors
        ulps = np.where(exact, 0.0, abs_err / ulp(r, dtype))
    return _Errors(abs_err, rel_err, ulps, bound, abs_err > bound, False)


def _max(dtype: str) -> float:
    """The dtype's largest finite value (cached: finfo is slow to build)."""
    if dtype not in _MAX:
        _MAX[dtype] = float(finfo(dtype).max)
    return _MAX[dtype]


_MAX: dict[str, float] = {}


def compare(
    actual: np.ndarray, reference: np.ndarray, dtype: str, tol: Tolerance, tol_source: str,
    where: Callable[[tuple[int, ...]], str] = at_index,
) -> Verdict:
    """Judge ``actual`` (any float dtype) against the float64 ``reference``, chunk by chunk. ``tol.atol`` is one
    figure or one per element (broadcast to the reference's shape)."""
    a, r = np.asarray(actual), np.asarray(reference)
    atol = np.asarray(tol.atol, np.float64)
    allowed = f"rtol={tol.rtol:g}, {atol_text(atol)} ({tol_source})"
    if a.shape != r.shape:
        return Verdict(False, None, None, None, None, f"shape {list(a.shape)} where {list(r.shape)} was expected")
    if a.size == 0:
        return Verdict(True, 0.0, 0.0, 0.0, None, f"empty tensor; {allowed}")
    flat_a, flat_r = a.reshape(-1), r.reshape(-1)
    # A per-element atol (regcompare.errormodel) goes chunk by chunk with the values.
    flat_atol = np.broadcast_to(atol, a.shape).reshape(-1) if atol.ndim else None
    if a.size <= _CHUNK:  # one chunk: the finite shortcut, when it applies
        whole_tol = tol if flat_atol is None else Tolerance(tol.rtol, flat_atol)
        chunk = _finite_errors(flat_a.astype(np.float64), flat_r.astype(np.float64), dtype, whole_tol)
        if chunk is not None and not chunk.bad.any():
            index = tuple(int(i) for i in np.unravel_index(int(np.argmax(chunk.abs_err)), a.shape))
            figures = (float(chunk.abs_err.max()), float(chunk.rel_err.max()), float(chunk.ulps.max()))
            return Verdict(True, *figures, index, f"within {allowed}")

    figures = [0.0, 0.0, 0.0]
    worst_flat, worst_err, worst_is_bad, bound_at_worst, overflow_is_right = 0, -1.0, False, 0.0, False
    for start in range(0, a.size, _CHUNK):
        chunk_tol = tol if flat_atol is None else Tolerance(tol.rtol, flat_atol[start:start + _CHUNK])
        chunk = _errors(flat_a[start:start + _CHUNK].astype(np.float64),
                        flat_r[start:start + _CHUNK].astype(np.float64), dtype, chunk_tol)
        figures = [max(figures[0], float(chunk.abs_err.max())), max(figures[1], float(chunk.rel_err.max())),
                   max(figures[2], float(chunk.ulps.max()))]
        overflow_is_right |= chunk.overflow_is_right
        is_bad = bool(chunk.bad.any())
        i = int(np.argmax(np.where(chunk.bad, chunk.abs_err, -1.0) if is_bad else chunk.abs_err))
        # The worst element: the largest error among the bad ones, if any is bad.
        if (is_bad, float(chunk.abs_err[i])) > (worst_is_bad, worst_err):
            worst_flat, worst_is_bad = start + i, is_bad
            worst_err, bound_at_worst = float(chunk.abs_err[i]), float(chunk.bound[i])

    index = tuple(int(i) for i in np.unravel_index(worst_flat, a.shape))
    if not worst_is_bad:
        notes = [f"the exact value overflows {dtype}, so inf is right"] if overflow_is_right else []
        return Verdict(True, *figures, index, "; ".join([f"within {allowed}", *notes]))
    got, want = float(flat_a[worst_flat]), float(flat_r[worst_flat])
    if math.isinf(got) and abs(want) <= float(finfo(dtype).max):
        why = f"overflow: {dtype} result is {got} where the exact value {want:.9g} fits {dtype}"
    elif math.isnan(got):
        why = f"NaN where the exact value is {want:.9g}"
    elif math.isnan(want):
        why = f"{got:.9g} where the exact value is NaN (the NaN input did not propagate)"
    else:
        why = f"{got:.9g} vs {want:.9g}: abs err {abs(got - want):.3g} > {bound_at_worst:.3g} allowed"
    return Verdict(False, *figures, index, f"{why}{where(index)}; {allowed}")
