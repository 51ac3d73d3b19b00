"""The error model: how far a correct implementation may land from the float64 reference, row by row.

A row's allowed error follows from what was computed, not from one table per dtype. Besides the float64
reference, regcompare computes the same quantity the way a correct implementation in the row's dtype may
compute it — *samples*, each a different but legitimate order of operations and rounding — and measures
their spread from the reference. The band a framework's value must fall in is, element by element
(docs/error-model.md)::

    |actual − reference| ≤ atol + rtol·|reference|
    rtol   = FLOOR_EPS · eps(dtype)                   the floor: the result's own rounding and a few ops
    atol   = WIDEN · max(spread, typical spread)      per element; spread = max over samples |sample − reference|

An element's own spread, widened, is what a correct implementation may do there; an element where the samples
happen to agree with the reference still gets what a typical element of the tensor may do: the median spread
relative to each element's magnitude (max(|w₀|, |reference|): a weight that shrank keeps the rounding of the
value it started from), times this element's magnitude; and FLOOR_EPS·eps of that magnitude is added, the floor
on the value it started from rather than on its result alone. Per
element rather than one figure per tensor, because low precision is uneven: a float16 weight whose step is below
half its ULP does not move at all (a correct implementation stalls there), and one whose Adam v underflows takes
a huge step, while their neighbours move and round at random; one figure for all would hide a fault on the
ordinary elements behind the extraordinary ones.

The samples, by quantity:

- ``penalty`` (l1·Σ|w| + l2/2·Σw²): terms rounded to the dtype or kept in the accumulator, summed in the
  accumulator (float32 for float16/bfloat16/float32 — what torch, TensorFlow and paddle do — and float64 for
  float64) pairwise (numpy), sequentially forwards and backwards, and in 16 lanes (a SIMD kernel), then rounded
  to the dtype. The spread grows with the reduction length n (about √n·eps for random orders, up to n·eps).
- ``gradient`` (l1·sign(w) + l2·w): each op rounded to the dtype; the exact value rounded once; and the term
  read back through one SGD step with regcompare's probe learning rate (regcompare.measure), as torch and paddle
  rows are measured.
- ``update``: the rule module (regcompare.rules, numpy) run for the case's steps in the next wider type with the
  weights and the rule's state rounded to the dtype after each step (an "opmath" kernel: torch computes float16
  and bfloat16 in float32 and stores the dtype), the same in float32 with the hyper-parameters held in float32
  (Keras and paddle keep them in float32; β powers as paddle's running float32 products) and decoupled decay as
  a multiplication by the rounded 1 − lr·λ (torch), and op by op: each op rounded to float32, or for 16-bit
  types each op computed in float32 and rounded to the dtype (torch's for-loop path; the scalars stay float32,
  as β₂ = 0.999 would be 1.0 in bfloat16). For float64 the samples are the same rule in x87 long double (64-bit
  significand) — its distance to the float64 reference is float64's own rounding error along the steps — and in
  float64 with β powers as running float64 products and decoupled decay as a rounded factor. The spread grows
  with the steps. An API documented with its
  own semantics (decoupled decay, a precedence rule, its own rule option) is judged against those too, so it
  also gets that computation's samples, and its band is the wider of the two.

``WIDEN`` = 4: the samples are two to eight of the many orders a framework may use; an implementation that
rounds the same number of times in another order lands within a few times their spread (torch's own optimizer
tests allow 5× the single-op tolerance for the same reason). ``FLOOR_EPS`` = 2: every row may be off by the
rounding of its result and of an input scalar (lr, a coefficient) rounded to the dtype, 2 eps relative, even
where the samples happen to agree with the reference exactly. A faulty implementation — a factor 2, decay in
the wrong place, skipped elements, a drift of one ULP per step — is off by much more than either
(``bench/trust.py`` measures both sides).

Weight-normalization updates are not sampled in the dtype: the float64 update from inputs perturbed by one
rounding (±eps of the dtype, relative) measures how much the computation amplifies a rounding error, and the
spread is that times the steps (each step rounds again). Rules that see all tensors as one vector (``JOINT``)
get the analytic estimate ``spread = (steps + log2 n) · eps · max|reference|`` (``fallback``).

A case's ``tolerance`` entry for a dtype replaces the model's rtol and/or atol (``dtypes.tolerance_for``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

import numpy as np

from regcompare import conventions, measure, rules, schedules
from regcompare.conventions import Decay, Regularizer
from regcompare.conventions.findings import CONDITIONS, Finding, Held, precision_findings
from regcompare.dtypes import Tolerance, cast, finfo, numpy_dtype

if TYPE_CHECKING:
    from regcompare.plan import Item

#: The spread of the samples is widened by this factor (see the module docstring).
WIDEN = 4.0
#: Every row may be off by this many eps of its dtype, relative, whatever the samples say.
FLOOR_EPS = 2.0
#: Lanes of the vectorized sum sample (an AVX-512 register of float32).
LANES = 16


@dataclass(frozen=True)
class Band:
    """The allowed error of one row: the tolerance (atol per element for a tensor), the samples' largest spread,
    and the source in words."""

    tol: Tolerance
    spread: float
    source: str
    finding: str | None = None
    """The precision finding (regcompare.conventions.findings) that widened this band, if one did."""
    plain: Band | None = None
    """The band of the row's own dtype, before a precision finding widened it."""

    def as_row(self, source: str | None = None) -> dict[str, Any]:
        """The row's ``tolerance`` key: the figures (atol: the largest of the elements') and where they came from
        (``source``, or the band's own)."""
        largest, smallest = self._atol_range
        out = {"rtol": self.tol.rtol, "atol": largest, "spread": self.spread,
               "source": self.source if source is None else source}
        if smallest is not None:
            out["atol_min"] = smallest
        return out

    @cached_property
    def _atol_range(self) -> tuple[float, float | None]:
        """atol's largest and (per element) smallest figure: a band is shared by every framework's row of a case,
        so they are found once (the band is frozen; its atol is never changed in place)."""
        atol = np.asarray(self.tol.atol, np.float64)
        largest = float(atol.max()) if atol.size else 0.0
        if not atol.ndim:
            return largest, None
        return largest, float(atol.min()) if atol.size else 0.0


def eps(dtype: str) -> float:
    return float(finfo(dtype).eps)


def band(
    spread: np.ndarray | float, dtype: str, what: str, scale: np.ndarray | None = None,
    magnitude: np.ndarray | None = None,
) -> Band:
    """The band for a measured spread (one figure, or one per element):
    atol = WIDEN·max(spread, typical spread) per element, rtol = FLOOR_EPS·eps(dtype). The typical spread is the
    median one, or with ``scale`` (each element's magnitude: max(|w₀|, |reference|) for an update) the median
    spread relative to its element's scale, times this element's scale. With
    ``magnitude`` (max(|w₀|, |reference|)), FLOOR_EPS·eps·magnitude is added to atol: the floor on the value
    the element started from, not only on its result."""
    s = _finite(spread)
    worst = float(s.max()) if s.size else 0.0
    atol: Any = WIDEN * np.maximum(s, _typical(s, scale)) if s.ndim else WIDEN * worst
    if magnitude is not None and s.ndim and s.size:
        atol = atol + FLOOR_EPS * eps(dtype) * np.abs(magnitude)  # the floor, on the values it started from too
    tol = Tolerance(FLOOR_EPS * eps(dtype), atol)
    per = " per element" if s.ndim else ""
    return Band(tol, worst, f"error model: {what}; atol = {WIDEN:g} × spread{per} (largest {worst:.3g}), "
                            f"rtol = {FLOOR_EPS:g} eps({dtype})")


def _finite(values: np.ndarray | float) -> np.ndarray:
    """The values in float64 with NaN and +inf as 0 (``np.nan_to_num(nan=0, posinf=0)``); values all finite (a
    spread always is) are not copied: a 10⁷-element spread is checked once instead of rewritten."""
    v = np.asarray(values, np.float64)
    return v if np.isfinite(v).all() else np.nan_to_num(v, nan=0.0, posinf=0.0)


def _typical(s: np.ndarray, scale: np.ndarray | None) -> Any:
    """``band``'s typical spread of a per-element spread ``s``: its median, or with ``scale`` the median spread
    relative to each element's scale, times that scale. (Only the one that is used is computed: a median of a
    10⁷-element spread is a sort's worth of work.)"""
    if not s.size:
        return 0.0
    if scale is None:
        return float(np.median(s))
    sc = _finite(np.abs(np.asarray(scale, np.float64)))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(sc > 0, s / sc, 0.0)
    return float(np.median(relative, overwrite_input=True)) * sc  # relative is this call's own: no copy to sort


def spread_of(samples: Iterable[np.ndarray], reference: np.ndarray) -> np.ndarray:
    """Per element, the largest distance of any sample from the reference (a 0-d array for a penalty).

    Non-finite elements (an overflow, NaN inputs) count 0: they are the comparison's business, not the band's."""
    ref = np.asarray(reference, np.float64)
    worst = np.zeros(ref.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        for sample in samples:
            d = np.abs(np.asarray(sample, np.float64) - ref)
            worst = np.maximum(worst, np.where(np.isfinite(d), d, 0.0))
    return worst


def accumulator(dtype: str) -> np.dtype:
    """Where a correct implementation accumulates sums of the dtype: float32 below float64."""
    return np.dtype(np.float64 if dtype == "float64" else np.float32)


def wider(dtype: str) -> np.dtype:
    """The type an opmath kernel computes the dtype in: float32 for 16-bit types, then float64, long double."""
    return np.dtype({"float16": np.float32, "bfloat16": np.float32, "float32": np.float64}.get(dtype, np.longdouble))


# --- penalty -------------------------------------------------------------------------------------------------


def _sequential(x: np.ndarray, acc: np.dtype) -> float:
    return float(np.cumsum(x, dtype=acc)[-1]) if x.size else 0.0


def _lanes(x: np.ndarray, acc: np.dtype) -> float:
    """LANES running sums, one per SIMD lane, then the lanes summed: a vectorized kernel's order."""
    padded = np.zeros(-(-x.size // LANES) * LANES, acc)
    padded[:x.size] = x
    return float(np.add.reduce(padded.reshape(-1, LANES), axis=0, dtype=acc).sum(dtype=acc))


ORDERS: dict[str, Callable[[np.ndarray, np.dtype], float]] = {
    "pairwise": lambda x, acc: float(np.sum(x, dtype=acc)),
    "sequential": _sequential,
    "reversed": lambda x, acc: _sequential(x[::-1], acc),
    "lanes": _lanes,
}


def penalty_samples(
    weights: dict[str, np.ndarray], reg: Regularizer, dtype: str, acc: np.dtype | None = None,
) -> list[float]:
    """The penalty as correct implementations in ``dtype`` compute it: each order of ``ORDERS``, with the terms
    rounded to the dtype (torch's ``w.pow(2)`` in float16) and kept in the accumulator (``accumulator(dtype)``,
    or ``acc``: a framework that sums in a narrower type, a precision finding)."""
    acc = accumulator(dtype) if acc is None else acc
    d = numpy_dtype(dtype)
    flats = [np.asarray(w).reshape(-1) for w in weights.values()]
    out = []
    with np.errstate(over="ignore", invalid="ignore"):
        for term_type in dict.fromkeys((d, acc)):  # float64: one and the same
            abs_terms = [np.abs(w.astype(acc)).astype(term_type).astype(acc) for w in flats]
            sq_terms = [np.square(w.astype(acc)).astype(term_type).astype(acc) for w in flats]
            for order in ORDERS.values():
                total = acc.type(0.0)
                if reg.l1:
                    total = total + acc.type(reg.l1) * acc.type(sum(order(t, acc) for t in abs_terms))
                if reg.l2:
                    total = total + acc.type(reg.l2 / 2) * acc.type(sum(order(t, acc) for t in sq_terms))
                out.append(float(cast(np.asarray(total, np.float64), dtype)))
    return out


# --- gradient ------------------------------------------------------------------------------------------------


def gradient_samples(w: np.ndarray, reg: Regularizer, dtype: str, lr: float) -> list[np.ndarray]:
    """l1·sign(w) + l2·w: each op in the dtype; rounded once; and read back through one SGD step of ``lr``."""
    d = numpy_dtype(dtype)
    w_d = np.asarray(w).astype(d)
    w64 = w_d.astype(np.float64)
    exact = np.zeros(w64.shape)
    per_op = np.zeros(w64.shape, d)
    with np.errstate(over="ignore", invalid="ignore"):
        if reg.l1:
            exact = exact + reg.l1 * np.sign(w64)
            per_op = (per_op + (reg.l1 * np.sign(w_d)).astype(d)).astype(d)
        if reg.l2:
            exact = exact + reg.l2 * w64
            per_op = (per_op + (reg.l2 * w_d).astype(d)).astype(d)
        rounded = cast(exact, dtype)
        stepped = cast(w64 - lr * rounded.astype(np.float64), dtype)
        through_step = measure.term_from_step(w_d, stepped, lr)
    return [per_op, rounded, through_step]


# --- update --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateSpec:
    """What one update reference computed: the rule, its full settings, the steps, each tensor's decay."""

    family: str
    settings: dict[str, Any]
    steps: int
    decays: dict[str, Decay]


def held_in(dtype: str) -> type[float]:
    """A float type for hyper-parameters held in ``dtype`` (the value rounded to it, still a Python float, so arrays
    keep their dtype), whose integer powers are running products in that dtype: paddle's Adam keeps β₁ᵗ and β₂ᵗ
    in accumulators of the parameter's type (float32 for float16/bfloat16/float32) multiplied by β each step,
    and 1 − β₂ᵗ amplifies their rounding a thousandfold."""
    kind = np.dtype(np.float64 if dtype == "float64" else np.float32).type

    class Held(float):
        def __new__(cls, value: float) -> Held:
            return super().__new__(cls, float(kind(value)))

        def __pow__(self, exponent: Any, modulo: Any = None) -> Any:
            if modulo is not None or not isinstance(exponent, int) or exponent < 0:
                return float(self) ** exponent
            return _running_power(kind, float(self), exponent)

    return Held


def _running_power(kind: type, value: float, exponent: int) -> Any:
    """kind(1)·β·β·…·β (``exponent`` factors, each product rounded to ``kind``): ``held_in``'s integer power. The
    products of a β are kept (every step t of every sample asks for βᵗ: a run of t products each time), extended as
    a larger power is asked; the same products, in the same order, as the loop would make."""
    if not math.isfinite(value):
        products = [kind(1.0)]
        for _ in range(exponent):
            products.append(kind(products[-1] * kind(value)))
        return products[exponent]
    kept = _POWERS.get((kind, value))
    if kept is not None and len(kept) > exponent:
        return kept[exponent]
    products = list(kept or [kind(1.0)])  # extended aside and then put in whole: judging threads share the lists
    while len(products) <= exponent:
        products.append(kind(products[-1] * kind(value)))
    if len(_POWERS) >= 1024:  # bounded: a run of many cases with many different β
        _POWERS.clear()
    _POWERS[(kind, value)] = products
    return products[exponent]


#: ``_running_power``'s products by (kind, β): a case's few hyper-parameters, each a list of its step count's length.
_POWERS: dict[tuple[type, float], list[Any]] = {}


def computed_in(precision: str, running: bool = True) -> type[float]:
    """A float type for hyper-parameters and scalar state a framework keeps in ``precision`` (a precision finding):
    the value is rounded there, and so is every scalar operation on it (``1 − β₂ᵗ``, ASGD's η, NAdam's μ product,
    ``lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)``), as a float32 (or 16-bit) tensor of scalar state computes them. Integer powers
    are running products (``running``, paddle's accumulators) or one power rounded once (Keras' ``ops.power``).
    Arrays are not touched: an array times such a scalar stays in the array's dtype."""
    kind = numpy_dtype(precision).type

    def rounded(value: Any) -> Any:
        return Scalar(value) if isinstance(value, float) else value

    class Scalar(float):
        def __new__(cls, value: float) -> Scalar:
            return super().__new__(cls, float(kind(value)))

        def __pow__(self, exponent: Any, modulo: Any = None) -> Any:
            if not running or modulo is not None or not isinstance(exponent, int) or exponent < 0:
                return rounded(float(self) ** exponent)
            product = Scalar(1.0)
            for _ in range(exponent):
                product = product * self
            return product

    def binary(name: str) -> Callable[[float, Any], Any]:
        plain = getattr(float, name)

        def op(self: float, other: Any) -> Any:
            if not isinstance(other, (int, float)) or isinstance(other, (bool, np.generic)):
                return NotImplemented
            return rounded(plain(float(self), float(other)))

        return op

    for name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
                 "__rtruediv__", "__rpow__"):
        setattr(Scalar, name, binary(name))
    Scalar.__neg__ = lambda self: Scalar(-float(self))  # type: ignore[method-assign]
    return Scalar


def powers_in(precision: str) -> type[float]:
    """A float type whose value stays exact but whose integer powers are taken of the value rounded to
    ``precision``, in it: Keras Adam's bias corrections ``ops.power(ops.cast(β, ...), t)`` from a float32 β while
    its moments use the exact 1 − β (``keras-adam-float32-betas``)."""
    kind = numpy_dtype(precision).type

    class Powers(float):
        def __pow__(self, exponent: Any, modulo: Any = None) -> Any:
            if modulo is not None or not isinstance(exponent, int):
                return float(self) ** exponent
            return float(kind(float(kind(self)) ** exponent))

    return Powers


def per_op(dtype: str) -> type[np.ndarray]:
    """A float32 array type whose every ufunc result is rounded to ``dtype``: each op computed in float32 and
    stored in the dtype, as torch's for-loop path does for float16/bfloat16 tensors (opmath per op), while
    Python-float scalars stay float32 (rounding them to bfloat16 would make β₂ = 0.999 exactly 1)."""

    class PerOp(np.ndarray):
        def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
            plain = [x.view(np.ndarray) if isinstance(x, PerOp) else x for x in inputs]
            if "out" in kwargs:  # np.mean divides in place (out=): unwrapped too, or this method recurses
                kwargs["out"] = tuple(x.view(np.ndarray) if isinstance(x, PerOp) else x for x in kwargs["out"])
            result = getattr(ufunc, method)(*plain, **kwargs)
            if isinstance(result, np.ndarray) and result.dtype.kind == "f":
                return cast(result, dtype).astype(np.float32).view(PerOp)
            return result

    return PerOp


def _round_state(state: dict[str, Any], dtype: str, work: np.dtype) -> None:
    for key, value in state.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            state[key] = cast(value.astype(np.float64), dtype).astype(work)


def run_in(
    spec: UpdateSpec, w0: np.ndarray, dw: np.ndarray, decay: Decay, work: np.dtype, store: str | None = None,
    scalars: type | None = None, factor: bool = False, rounding: type[np.ndarray] | None = None,
    split: bool = False,
) -> np.ndarray:
    """One tensor after the steps of the rule with every array in ``work`` (each op rounded there), each step at
    its scheduled learning rate (``rules.lr_at``, as the reference); with ``store``, the weights and the rule's
    state are rounded to that dtype after every step, as a kernel that computes in ``work`` and keeps its tensors
    in ``store`` does; with ``scalars`` (``held_in``, ``computed_in``), the hyper-parameters, coefficients and
    each step's learning rate are of that type, so 1 − β₂ᵗ and the like are computed there; with ``factor``,
    decoupled decay multiplies by the rounded 1 − lr·λ (torch's ``param.mul_(1 - lr * wd)``) instead of
    subtracting lr·λ·w; with ``rounding`` (``per_op``), the arrays are of that type, which rounds every op; with
    ``split``, a rule's ``parts`` are added to the weight one by one (``rules.advance``), each sum rounded."""
    mod = rules.module(spec.family)
    if getattr(mod, "JOINT", False) and np.ndim(w0) > 1:  # a rule over one flat vector (one tensor: _update_spec)
        return run_in(spec, np.reshape(w0, -1), np.reshape(dw, -1), decay, work, store, scalars, factor, rounding,
                      split).reshape(np.shape(w0))
    settings = spec.settings
    takes = getattr(mod, "takes_decoupled", lambda s: False)(settings)
    shrink = decay.decoupled if factor and decay.decoupled and not takes else 0.0
    if shrink:
        decay = replace(decay, decoupled=0.0)
    keep = scalars or float
    if scalars is not None:
        settings = {k: scalars(v) if isinstance(v, float) else v for k, v in settings.items()}
        decay = replace(decay, coupled=Regularizer(scalars(decay.coupled.l1), scalars(decay.coupled.l2)),
                        decoupled=scalars(decay.decoupled))
    lr0 = keep(rules.base_lr(settings))
    w = np.asarray(w0).astype(work)
    g = np.asarray(dw).astype(work)
    if rounding is not None:
        w, g = w.view(rounding), g.view(rounding)
    if settings.get("maximize"):
        g = -g
    state: dict[str, Any] = {}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(1, spec.steps + 1):
            lr, scale = keep(rules.lr_at(settings, t - 1)), rules.decay_factor(settings, t - 1)
            if shrink:
                w = (w * keep(1.0 - (lr0 if decay.unscaled else lr) * scale * shrink)).astype(work)
            w = rules.advance(mod, w, g, decay, settings, t, lr, state, takes, lr0, scale, split).astype(work)
            if store is not None:
                w = cast(w.astype(np.float64), store).astype(work)
                _round_state(state, store, work)
    return w


def update_samples(spec: UpdateSpec, w0: np.ndarray, dw: np.ndarray, decay: Decay, dtype: str) -> list[np.ndarray]:
    """The samples of one tensor's update in ``dtype`` (module docstring): computed one type wider with the weights
    and state stored in the dtype; in float32 with the hyper-parameters held in float32 (Keras and paddle keep
    them in float32 variables or attributes) and decoupled decay as a rounded factor; op by op (float32 itself,
    or each op in float32 rounded to a 16-bit dtype). For float64: the rule in long double, and in float64 with β
    powers as running products and decoupled decay as a rounded factor."""
    loss = getattr(rules.module(spec.family), "LOSS_PRECISION", None)
    if loss is not None and dtype != "float64":  # a closure's loss is a tensor of the dtype (LBFGS' stopping test)
        spec = replace(spec, settings={**spec.settings, loss: dtype})
    if dtype == "float64":
        return [run_in(spec, w0, dw, decay, np.dtype(np.longdouble)),
                run_in(spec, w0, dw, decay, np.dtype(np.float64), scalars=held_in(dtype), factor=True)]
    f32 = np.dtype(np.float32)
    samples = [run_in(spec, w0, dw, decay, wider(dtype), store=dtype),
               run_in(spec, w0, dw, decay, f32, store=dtype, scalars=held_in("float32"), factor=True)]
    if dtype == "float32":
        samples.append(run_in(spec, w0, dw, decay, numpy_dtype(dtype)))
    else:  # op by op: each op in float32, rounded to the dtype
        samples.append(run_in(spec, w0, dw, decay, f32, rounding=per_op(dtype)).view(np.ndarray))
    held = getattr(rules.module(spec.family), "SCALAR_PRECISION", None)
    if held is not None and dtype != "float32":
        # A rule that keeps its scalars as 0-dim tensors of the dtype (torch's LBFGS: y·s, ρ, H_diag, α, β), op by op
        # with those held there and the coupled coefficient rounded to it, as autograd of lambd·Σw²/2 gives it.
        torch_like = replace(spec, settings={**spec.settings, held: dtype})
        coupled = replace(decay, coupled=rounded_regularizer(decay.coupled, dtype))
        samples.append(run_in(torch_like, w0, dw, coupled, f32, rounding=per_op(dtype)).view(np.ndarray))
    if hasattr(rules.module(spec.family), "parts"):
        # A rule whose step a framework adds to the weight in parts (torch's NAdam: two addcdiv_), op by op with
        # the weight stored after each part: in bfloat16 a step of two half-ULP parts rounds twice, not once.
        rounding = None if dtype == "float32" else per_op(dtype)
        samples.append(run_in(spec, w0, dw, decay, f32, rounding=rounding, split=True).view(np.ndarray))
    return samples


def perturbed(w: np.ndarray, dtype: str, seed: int) -> np.ndarray:
    """``w`` with every element moved by ±eps(dtype) relative (a fixed random sign per element)."""
    signs = np.random.default_rng(seed).choice((-1.0, 1.0), size=np.shape(w))
    return np.asarray(w, np.float64) * (1.0 + signs * eps(dtype))


def weight_norm_samples(
    item: Item, w0: np.ndarray, dw: np.ndarray, precision: str | None = None,
) -> list[dict[str, np.ndarray]]:
    """Weight normalization is not sampled in the dtype (the oracle is float64-only): instead, the float64 update
    from inputs perturbed by one rounding (±eps of the dtype, or of the ``precision`` a finding says part of it
    is held in) measures how much this computation amplifies one rounding error; ``_update_band`` multiplies that
    by the steps, each of which rounds again."""
    from regcompare import oracle

    call, spec = item.optimizer, item.case.spec.weight_norm
    assert call is not None and spec is not None
    precision = precision or item.dtype
    return [oracle.weight_norm_update(perturbed(w0, precision, seed), perturbed(dw, precision, seed + 1),
                                      item.regularizer, call.family, item.settings(), item.case.spec.steps, spec.dim,
                                      call.rule_options(own=False)) for seed in (0, 2)]


def fallback(reference: np.ndarray, dtype: str, steps: int) -> float:
    """The analytic spread of a computation not sampled: (steps + log2 n) rounding errors of max|reference|."""
    ref = np.asarray(reference, np.float64)
    finite = np.abs(ref[np.isfinite(ref)])
    scale = float(finite.max()) if finite.size else 0.0
    return (steps + math.log2(max(ref.size, 1))) * eps(dtype) * scale


# --- precision findings: the part a framework holds in a lower precision, sampled so --------------------------


def rounded_regularizer(reg: Regularizer, precision: str) -> Regularizer:
    """The coefficients as a framework holding them in ``precision`` uses them."""
    kind = numpy_dtype(precision).type
    return Regularizer(float(kind(reg.l1)), float(kind(reg.l2)))


def flushed(w: np.ndarray, precision: str) -> np.ndarray:
    """``w`` with the elements subnormal in ``precision`` read as zero (flush-to-zero, denormals-are-zero)."""
    a = np.asarray(w)
    tiny = float(finfo(precision).tiny)
    return np.where(np.abs(a.astype(np.float64)) < tiny, np.zeros((), a.dtype), a)


def held_penalty_samples(weights: dict[str, np.ndarray], reg: Regularizer, dtype: str, held: Held) -> list[float]:
    """The penalty with the finding's part in its precision: summed in it, or with its coefficients rounded to it,
    or from the inputs flushed."""
    precision = held.precision(dtype)
    if held.what == "accumulator":
        return penalty_samples(weights, reg, dtype, numpy_dtype(precision))
    if held.what == "subnormals":
        return penalty_samples({n: flushed(w, precision) for n, w in weights.items()}, reg, dtype)
    return penalty_samples(weights, rounded_regularizer(reg, precision), dtype)


def held_gradient_samples(w: np.ndarray, reg: Regularizer, dtype: str, lr: float, held: Held) -> list[np.ndarray]:
    """The gradient term with the finding's part in its precision (a sum's accumulator plays no part here)."""
    precision = held.precision(dtype)
    if held.what == "subnormals":
        return gradient_samples(flushed(w, precision), reg, dtype, lr)
    if held.what == "hyper-parameters":
        return gradient_samples(w, rounded_regularizer(reg, precision), dtype, lr)
    return []


def held_update_samples(
    spec: UpdateSpec, w0: np.ndarray, dw: np.ndarray, decay: Decay, dtype: str, held: Held,
) -> list[np.ndarray]:
    """The update with the hyper-parameters, coefficients and scalar state computed in the finding's precision
    (``computed_in``: β powers as running products and as one rounded power; decoupled decay as a rounded factor
    and as a subtraction), and with only the β powers taken there (``powers_in``, Keras' bias corrections), the
    tensors as in the row's dtype (float64 itself, or float32 stored in the dtype). For an ``orthogonalization``
    held in a precision (torch's Muon), the rule's Newton–Schulz iteration with every op rounded there."""
    precision = held.precision(dtype)
    work, store = (np.dtype(np.float64), None) if dtype == "float64" else (np.dtype(np.float32), dtype)
    if held.what == "orthogonalization":
        if not hasattr(rules.module(spec.family), "NS_PRECISION"):
            return []
        ns = replace(spec, settings={**spec.settings, rules.module(spec.family).NS_PRECISION: precision})
        wide = np.dtype(np.longdouble) if dtype == "float64" else wider(dtype)  # the tensors' ops one type wider
        return [run_in(ns, w0, dw, decay, work, store=store), run_in(ns, w0, dw, decay, wide, store=store)]
    if held.what != "hyper-parameters":
        return []
    kinds = (computed_in(precision, running=True), computed_in(precision, running=False), powers_in(precision))
    # The first also adds a rule's parts one by one, where it has them (torch's ASGD and NAdam store the weight
    # after each: update_samples), as its other samples do not hold the scalars.
    split = hasattr(rules.module(spec.family), "parts")
    runs: list[Callable[[], np.ndarray]] = [
        partial(run_in, spec, w0, dw, decay, work, store=store, scalars=kind, factor=i == 0, split=split and i == 0)
        for i, kind in enumerate(kinds)]
    if precision == dtype and dtype in ("float16", "bfloat16"):
        # Scalars in the 16-bit dtype and every op rounded to it (Keras computes a 16-bit variable's update in its
        # dtype, op by op), not only the scalars.
        runs.append(partial(run_in, spec, w0, dw, decay, np.dtype(np.float32), scalars=kinds[0],
                            rounding=per_op(dtype)))
    return [np.asarray(r) for r in (_defined(run) for run in runs) if r is not None]


def _defined(run: Callable[[], np.ndarray]) -> np.ndarray | None:
    """A held sample, or None where its scalar arithmetic is undefined in the held precision: RAdam's
    ρ∞ = 2/(1 − β₂) − 1 divides by zero with β₂ = 0.999 rounded to 1.0 in bfloat16 (torch's foreach rounds only
    the scalars it passes to its ops, not that one): no implementation computes that way, so it is no sample."""
    try:
        return run().view(np.ndarray)
    except (ZeroDivisionError, OverflowError):
        return None


def floor_dtype(dtype: str, held: Held | None) -> str:
    """Whose eps sets a band's floor (rtol, and 2 eps of an update's magnitude): the row's dtype, or the coarser
    precision a finding's part is held in (a float64 Keras row whose lr is float32 is as good as float32's
    rounding of it, whatever the samples happen to show)."""
    if held is None or held.what == "orthogonalization":
        # An orthogonalized direction in bfloat16 is as good as its samples show; a floor of 2 eps(bfloat16) of
        # the weight itself would be more than a whole step of lr 0.01 and would hide any fault of the step.
        return dtype
    precision = held.precision(dtype)
    return precision if eps(precision) > eps(dtype) else dtype


def selecting(item: Item, tensor: str | None) -> list[Finding]:
    """The precision findings that select the row of ``tensor`` of this item (its framework, API, optimizer call,
    schedule class, quantity, dtype, tensor, inputs)."""
    row: dict[str, Any] = {"framework": item.framework, "api": item.api, "quantity": item.quantity,
                           "dtype": item.dtype, "tensor": tensor}
    if item.quantity == "update" and item.optimizer is not None:
        row["optimizer"] = item.optimizer.call_text(item.call_args())
    schedule = item.settings().get("schedule") if item.quantity == "update" else None
    if schedule is not None:  # as the row will show it (regcompare.judge)
        row["schedule"] = schedules.text(item.framework, schedule, float(item.settings()["lr"])) or None

    def holds(condition: str) -> bool:
        # A condition on the case's weights: the same for every row of the case, computed once.
        return _shared(item, ("condition", condition), lambda: CONDITIONS[condition](item.case.weights))

    return precision_findings(row, item.case.weights, holds=holds)


def widened(plain: Band, wide: list[Band], finding: Finding) -> Band:
    """``plain`` widened by the bands of precision findings: the widest per element, marked with the (first)
    finding, whose part and precision the source names."""
    atol = np.asarray(plain.tol.atol, np.float64)
    for b in wide:
        atol = np.maximum(atol, np.asarray(b.tol.atol, np.float64))
    rtol = max([plain.tol.rtol, *(b.tol.rtol for b in wide)])
    assert finding.held is not None
    source = (f"{plain.source}; widened by finding {finding.id} ({finding.held.what} in {finding.held.dtype}: "
              f"{wide[0].source.removeprefix('error model: ')})")
    spread = max([plain.spread, *(b.spread for b in wide)])
    return Band(Tolerance(rtol, atol if atol.ndim else float(atol)), spread, source, finding.id, plain)


# --- the bands of an item's rows ----------------------------------------------------------------------------


def _update_spec(item: Item, documented: bool = False) -> UpdateSpec | None:
    """What the item's canonical reference computed, or (``documented``) its reference by the API's own documented
    semantics, as ``regcompare.judge.references`` makes them (its rule options, its scheduler's convention, its
    decoupled decay that does not follow the schedule); None where the update is not sampled."""
    call = item.optimizer
    if call is None or item.case.spec.weight_norm is not None:
        return None
    if getattr(rules.module(call.family), "JOINT", False) and len(item.case.weights) != 1:
        return None  # a rule over all tensors as one vector: sampled where that vector is the one tensor
    names, reg = list(item.case.weights), item.regularizer
    scheduled = schedules.semantics(item.framework, call.family, item.settings())[0] if documented else {}
    unscaled = (documented and item.conv.coupling == "decoupled" and not item.conv.decay_follows_lr
                and not reg.l1)
    special = bool(call.options or scheduled or unscaled)
    own = documented and (item.placed is not None or special)
    if documented and not own and item.conv.coupling != "decoupled":
        return None  # a coupled API's decoupled reference only tells a wrong coupling apart: no band of its own
    if item.placed is not None:
        placed = item.placed
        decays = {t: conventions.documented(item.conv, placed, t)[0] if documented else placed.canonical(t)
                  for t in names}
    elif documented:
        # As judge.references: an API with its own rule, schedule or unscaled decay keeps its documented coupling;
        # otherwise the documented reference is the plain decoupled oracle. An L1 term has no decoupled form.
        decoupled = (item.conv.coupling == "decoupled" or not special) and not reg.l1
        decays = dict.fromkeys(names, Decay(decoupled=reg.l2, unscaled=unscaled) if decoupled else Decay(reg))
    else:
        decays = dict.fromkeys(names, Decay(reg))
    settings = rules.canonical(call.family, item.settings(), call.rule_options(own=own) | scheduled)
    return UpdateSpec(call.family, settings, item.case.spec.steps, decays)


def widest(a: Band, b: Band) -> Band:
    """Both bands at once, element by element: the larger atol and rtol of the two."""
    atol = np.maximum(np.asarray(a.tol.atol, np.float64), np.asarray(b.tol.atol, np.float64))
    tol = Tolerance(max(a.tol.rtol, b.tol.rtol), atol if atol.ndim else float(atol))
    return Band(tol, max(a.spread, b.spread), f"{a.source}; widened by the documented semantics' samples")


def _shared(item: Item, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    # As plan.shared (which cannot be imported at import: plan imports adapters), inline: it is asked per row.
    references, key = item.case.references, ("error model", *key)
    if key not in references:
        references[key] = make()
    return references[key]


def _penalty_band(item: Item, inputs: dict[str, np.ndarray], reference: np.ndarray, held: Held | None = None) -> Band:
    key = ("penalty", item.dtype, item.regularizer, held)

    def make() -> Band:
        if held is None:
            samples = _shared(item, key, lambda: penalty_samples(inputs, item.regularizer, item.dtype))
        else:
            samples = _shared(item, key, lambda: held_penalty_samples(inputs, item.regularizer, item.dtype, held))
        n = sum(int(np.size(w)) for w in inputs.values())
        what = f"penalty, sum of {n:,} terms in {item.dtype}, {len(samples)} orders"
        spread = float(spread_of([np.asarray(s) for s in samples], reference))
        return band(spread, floor_dtype(item.dtype, held), what)

    # The band, from the samples and the reference alone, is the same for every framework's penalty item of the
    # case: kept by what it is made of (the reference by its bits: one figure, NaN included).
    return _shared(item, ("penalty band", *key[1:], np.asarray(reference, np.float64).tobytes()), make)


def _gradient_band(
    item: Item, inputs: dict[str, np.ndarray], tensor: str, reference: np.ndarray, held: Held | None = None,
) -> Band:
    reg = item.regularizer

    def make() -> Band:
        lr = measure.probe_lr(inputs, reg.l1, reg.l2, item.dtype)
        if held is None:
            samples = gradient_samples(inputs[tensor], reg, item.dtype, lr)
        else:
            samples = held_gradient_samples(inputs[tensor], reg, item.dtype, lr, held)
        return band(spread_of(samples, reference), floor_dtype(item.dtype, held), f"gradient term in {item.dtype}, "
                    f"{len(samples)} roundings", np.abs(reference))

    # The band, not the samples, is kept for the case's other APIs: one array instead of three.
    return _shared(item, ("gradient", item.dtype, reg, tensor, held), make)


def _weight_norm_band(item: Item, inputs: dict[str, np.ndarray], tensor: str, weight: str,
                      reference: np.ndarray, held: Held | None = None) -> Band:
    from regcompare.plan import grads_of

    steps = item.case.spec.steps
    dw = grads_of(item.case, item.dtype)[1][weight]
    precision = floor_dtype(item.dtype, held)
    runs = _shared(item, ("weight norm", item.dtype, item.regularizer, weight, precision),
                   lambda: weight_norm_samples(item, inputs[weight], dw, precision))
    part = tensor[len(weight) + 1:] or "w"
    spread = spread_of([r[part] for r in runs], reference).max(initial=0.0) * steps
    what = f"weight-norm update, {steps} step(s) in {precision}, one rounding's effect × steps"
    return band(spread, precision, what)


def _sampled_band(item: Item, inputs: dict[str, np.ndarray], tensor: str, reference: np.ndarray,
                  spec: UpdateSpec, held: Held | None = None) -> Band:
    from regcompare.plan import grads_of

    def make() -> Band:
        dw = grads_of(item.case, item.dtype)[0][tensor]
        if held is None:
            samples = update_samples(spec, inputs[tensor], dw, spec.decays[tensor], item.dtype)
        else:
            samples = held_update_samples(spec, inputs[tensor], dw, spec.decays[tensor], item.dtype, held)
        what = f"{spec.family} update, {spec.steps} step(s) of {np.size(reference):,} elements in {item.dtype}"
        w0 = np.asarray(inputs[tensor], np.float64)
        magnitude = np.maximum(np.abs(w0), np.abs(reference))
        return band(spread_of(samples, reference), floor_dtype(item.dtype, held), what, magnitude, magnitude)

    # json: settings may hold a mapping (a schedule), which a tuple key cannot
    settings = json.dumps(spec.settings, sort_keys=True, default=str)
    key = ("update", item.dtype, spec.family, settings, spec.steps, spec.decays[tensor], tensor, held)
    return _shared(item, key, make)


def _update_band(item: Item, inputs: dict[str, np.ndarray], tensor: str, reference: np.ndarray,
                 alt: np.ndarray | None, held: Held | None = None) -> Band | None:
    """The canonical reference's band; where the API has a documented reference too, widened by that one's (a
    row is judged against both, and a correct decoupled implementation rounds differently from a coupled one)."""
    weight = tensor.rsplit(".", 1)[0] if tensor not in inputs else tensor
    if item.case.spec.mixed_precision is not None:
        # float32 master weights: the steps round in float32, the result once in the dtype (rtol covers that).
        return _fallback_band(reference, "float32" if item.dtype != "float64" else "float64", item.case.spec.steps,
                              item.dtype)
    if item.case.spec.weight_norm is not None and item.optimizer is not None and weight in inputs:
        return _weight_norm_band(item, inputs, tensor, weight, reference, held)
    spec = _update_spec(item)
    if spec is None or tensor not in inputs:
        precision = floor_dtype(item.dtype, held)  # not sampled: the analytic band, in a held part's precision
        return _fallback_band(reference, precision, item.case.spec.steps, precision)
    canonical = _sampled_band(item, inputs, tensor, reference, spec, held)
    own = None if alt is None else _update_spec(item, documented=True)
    if own is None or own == spec:
        return canonical
    return widest(canonical, _sampled_band(item, inputs, tensor, np.asarray(alt, np.float64), own, held))


def _fallback_band(reference: np.ndarray, precision: str, steps: int, dtype: str) -> Band:
    what = f"update, {steps} step(s) in {precision}, analytic (not sampled)"
    return band(fallback(reference, precision, steps), dtype, what)


def bands(
    item: Item, inputs: dict[str, np.ndarray], reference: dict[str | None, np.ndarray],
    documented: dict[str, np.ndarray] | None = None,
) -> dict[str | None, Band]:
    """The band of each row of an item (``None``: the penalty), from the item's inputs and references
    (``documented``: the API's own semantics' reference, for ``update``)."""
    out: dict[str | None, Band] = {}
    for tensor, ref in reference.items():
        plain = _band(item, inputs, tensor, ref, documented)
        assert plain is not None
        out[tensor] = _widened_by_findings(item, inputs, tensor, ref, documented, plain)
    return out


def _band(
    item: Item, inputs: dict[str, np.ndarray], tensor: str | None, ref: np.ndarray,
    documented: dict[str, np.ndarray] | None, held: Held | None = None,
) -> Band | None:
    """One row's band, in its own dtype or (``held``) with a precision finding's part in that one's precision;
    None where the part plays no role in this computation."""
    if item.quantity == "penalty" or tensor is None:
        return _penalty_band(item, inputs, ref, held)
    if item.quantity == "gradient":
        return _gradient_band(item, inputs, tensor, ref, held)
    alt = None if documented is None else documented.get(tensor)
    return _update_band(item, inputs, tensor, ref, alt, held)


def _widened_by_findings(
    item: Item, inputs: dict[str, np.ndarray], tensor: str | None, ref: np.ndarray,
    documented: dict[str, np.ndarray] | None, plain: Band,
) -> Band:
    """The row's band widened by every precision finding that selects it (the first names it); each distinct
    held part is sampled once."""
    findings = selecting(item, tensor)
    helds = dict.fromkeys(f.held for f in findings)
    wide = [b for held in helds if (b := _band(item, inputs, tensor, ref, documented, held)) is not None]
    return widened(plain, wide, findings[0]) if wide else plain
