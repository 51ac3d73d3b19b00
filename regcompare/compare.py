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
        return atol_words(float(atol), None)
    low, high = (float(atol.min()), float(atol.max())) if atol.size else (0.0, 0.0)
    return atol_words(high, low)


def atol_words(largest: float, smallest: float | None) -> str:
    """``atol_text`` from the figures (``smallest`` None: one figure for every element), for a caller that has
    them (a row's band, shared by every framework's row of a case, knows its atol's range)."""
    if smallest is None:
        return f"atol={largest:g}"
    return f"atol={largest:g} per element" if smallest == largest else f"atol={smallest:g}…{largest:g} per element"


def allowed_text(tol: Tolerance, tol_source: str, atol: str) -> str:
    """The tolerance in a verdict's words: ``rtol=1e-05, atol=1e-07 (float32 default)``; ``atol``: its text."""
    return f"rtol={tol.rtol:g}, {atol} ({tol_source})"


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


Within = tuple[float, float, float, tuple[int, ...]]


def _within(a: np.ndarray, r: np.ndarray, dtype: str, rtol: float, atol: np.ndarray) -> Within | None:
    """The figures of a comparison that passes (abs_err, rel_err and ULP maxima, the worst element's index) when
    every value is finite, the reference within the dtype's range and every element within its bound; None
    otherwise (then ``compare``'s chunked rules decide, and word a failure). The same figures as ``_errors``
    (tests/test_harness_cost.py holds them to it) with as few calls as small arrays allow: their cost is the
    calls, and rows are judged by the hundred thousand. ``atol``: one figure or one per element of ``a``'s shape."""
    if a.size == 1:  # a penalty: in Python floats, the same IEEE operations
        return _within_one(float(a.reshape(-1)[0]), float(r.reshape(-1)[0]), dtype, rtol,
                           float(atol.reshape(-1)[0]), a.ndim)
    largest, tiny, nmant = _limits(dtype)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        abs_err = np.abs(a.astype(np.float64) - r)
        at = int(abs_err.argmax())  # the first largest; the first NaN if any
        worst = abs_err.item(at)  # NaN or inf if any difference is: the full rules then
        abs_r = np.abs(r if r.dtype == np.float64 else r.astype(np.float64))
        if not (math.isfinite(worst) and float(abs_r.max()) <= largest):
            return None
        if (abs_err > atol + rtol * abs_r).any():
            return None
        # 0/0 (an exact zero reference) is NaN, which fmax skips: an exact element's relative error is 0.
        rel = float(np.fmax.reduce(abs_err / abs_r, axis=None))
        # The dtype's spacing at each (finite) reference value, 2^(exponent − nmant), the smallest normal's below
        # it: the power of two of |r| is |r|'s exponent bits alone (finite, normal float64), times 2^−nmant.
        power = (np.maximum(abs_r, tiny).view(np.uint64) & _EXPONENT_BITS).view(np.float64)
        ulps = float((abs_err / (power * 2.0 ** -nmant)).max())
    return worst, 0.0 if math.isnan(rel) else rel, ulps, _unravel(at, a.shape)


def _within_one(a: float, r: float, dtype: str, rtol: float, atol: float, ndim: int) -> Within | None:
    """``_within`` of one element."""
    largest, tiny, nmant = _limits(dtype)
    abs_err, abs_r = abs(a - r), abs(r)  # Python floats overflow to inf, as numpy's
    if not (math.isfinite(abs_err) and abs_r <= largest) or abs_err > atol + rtol * abs_r:
        return None
    if abs_err == 0:
        return 0.0, 0.0, 0.0, (0,) * ndim
    rel = abs_err / abs_r if abs_r else math.inf
    ulps = abs_err / math.ldexp(1.0, math.frexp(max(abs_r, tiny))[1] - (nmant + 1))
    return abs_err, rel, ulps, (0,) * ndim


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``np.unravel_index`` of one index, in Python ints."""
    index = []
    for n in reversed(shape):
        flat, i = divmod(flat, n)
        index.append(i)
    return tuple(reversed(index))


def _limits(dtype: str) -> tuple[float, float, int]:
    """The dtype's largest finite value, smallest normal one and mantissa bits (cached: finfo is slow to build)."""
    if dtype not in _LIMITS:
        info = finfo(dtype)
        _LIMITS[dtype] = (float(info.max), float(info.tiny), int(info.nmant))
    return _LIMITS[dtype]


_LIMITS: dict[str, tuple[float, float, int]] = {}
#: A float64's exponent bits: with the sign and mantissa cleared, a normal value becomes its power of two.
_EXPONENT_BITS = np.uint64(0x7FF0_0000_0000_0000)


def compare(
    actual: np.ndarray, reference: np.ndarray, dtype: str, tol: Tolerance, tol_source: str,
    where: Callable[[tuple[int, ...]], str] = at_index, allowed: str | None = None,
) -> Verdict:
    """Judge ``actual`` (any float dtype) against the float64 ``reference``, chunk by chunk. ``tol.atol`` is one
    figure or one per element (broadcast to the reference's shape). ``allowed``: ``allowed_text`` of ``tol``,
    where the caller has it already (else made here)."""
    a, r = np.asarray(actual), np.asarray(reference)
    atol = np.asarray(tol.atol, np.float64)
    if allowed is None:
        allowed = allowed_text(tol, tol_source, atol_text(atol))
    if a.shape != r.shape:
        return Verdict(False, None, None, None, None, f"shape {list(a.shape)} where {list(r.shape)} was expected")
    if a.size == 0:
        return Verdict(True, 0.0, 0.0, 0.0, None, f"empty tensor; {allowed}")
    # A per-element atol (regcompare.errormodel) goes chunk by chunk with the values.
    full_atol = np.broadcast_to(atol, a.shape) if atol.ndim and atol.shape != a.shape else atol
    if a.size <= _CHUNK:  # one chunk: the finite shortcut, when it applies
        within = _within(a, r, dtype, float(tol.rtol), full_atol)
        if within is not None:
            return Verdict(True, *within, f"within {allowed}")
    flat_a, flat_r = a.reshape(-1), r.reshape(-1)
    flat_atol = full_atol.reshape(-1) if atol.ndim else None

    figures = [0.0, 0.0, 0.0]
    worst_flat, worst_err, worst_is_bad, bound_at_worst, overflow_is_right = 0, -1.0, False, 0.0, False
    for start in range(0, a.size, _CHUNK):
        chunk_atol = atol if flat_atol is None else flat_atol[start:start + _CHUNK]
        # A chunk all finite and within its bounds: the shortcut's figures, its worst element (the first largest
        # error, as below) and no overflow (its reference is within the dtype's range); a bad one's error is the
        # larger, so a good chunk's bound is never the one reported.
        within = _within(flat_a[start:start + _CHUNK], flat_r[start:start + _CHUNK], dtype, float(tol.rtol),
                         chunk_atol)
        if within is not None:
            abs_max, rel_max, ulp_max, (i,) = within
            figures = [max(figures[0], abs_max), max(figures[1], rel_max), max(figures[2], ulp_max)]
            if (False, abs_max) > (worst_is_bad, worst_err):
                worst_flat, worst_err = start + i, abs_max
            continue
        chunk_tol = tol if flat_atol is None else Tolerance(tol.rtol, chunk_atol)
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
