"""The conventions registry: one record per API, the only place that knows a framework's factors.

Canonical convention (DESIGN.md §1)::

    R(w)  = l1 * sum(|w|) + (l2 / 2) * sum(w**2)
    dR/dw = l1 * sign(w) + l2 * w

Each record says how the API's own arguments carry the canonical coefficients
(``native = factor * canonical``), what the API natively measures, whether its decay is coupled
(in the gradient) or decoupled (applied to the weights directly), and its caveats. Adapters receive
native arguments computed here, the oracle and the comparison read coupling from here, and the
report and ``regcompare conventions`` print this table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Term = Literal["l1", "l2"]
Quantity = Literal["penalty", "gradient", "update", "trajectory"]
Coupling = Literal["penalty", "coupled", "decoupled"]
QUANTITIES: tuple[Quantity, ...] = ("penalty", "gradient", "update", "trajectory")


@dataclass(frozen=True)
class Regularizer:
    """Canonical coefficients."""

    l1: float = 0.0
    l2: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"l1": self.l1, "l2": self.l2}

    def coefficient(self, term: Term) -> float:
        return self.l1 if term == "l1" else self.l2


@dataclass(frozen=True)
class Param:
    """One native argument: ``native = factor * canonical[term]``."""

    name: str
    term: Term
    factor: float
    default: float


@dataclass(frozen=True)
class Convention:
    api: str
    framework: str
    measures: Quantity
    """What the API itself computes: a ``penalty`` value, a ``gradient`` term, or an ``update``."""
    quantities: tuple[Quantity, ...]
    """The quantities regcompare derives from it (a penalty's gradient through autograd, say)."""
    params: tuple[Param, ...]
    formula: str
    coupling: Coupling
    how: str
    """How regcompare calls it, in one line."""
    executed: bool = True
    """False for documented conventions that cannot be installed here (TF 1.x, Paddle 1.x)."""
    caveats: tuple[str, ...] = ()

    @property
    def terms(self) -> frozenset[str]:
        return frozenset(p.term for p in self.params)

    def applies_to(self, reg: Regularizer) -> bool:
        """Whether this API can express ``reg`` (every nonzero canonical term has a native slot)."""
        used = {t for t in ("l1", "l2") if reg.coefficient(t) != 0.0}  # type: ignore[arg-type]
        return used <= self.terms

    def to_native(self, reg: Regularizer) -> dict[str, float]:
        return {p.name: p.factor * reg.coefficient(p.term) for p in self.params}

    def to_canonical(self, native: dict[str, float]) -> Regularizer:
        """The canonical coefficients of a native call; missing arguments take the API's defaults."""
        unknown = set(native) - {p.name for p in self.params}
        if unknown:
            raise ValueError(f"{self.api} has no argument {sorted(unknown)[0]!r}; it takes {self.signature()}")
        coeff = {"l1": 0.0, "l2": 0.0}
        for p in self.params:
            coeff[p.term] += native.get(p.name, p.default) / p.factor
        return Regularizer(**coeff)

    def signature(self) -> str:
        return "(" + ", ".join(f"{p.name}={p.default:g}" for p in self.params) + ")"

    def mapping(self) -> str:
        """``native → canonical`` in words, e.g. ``l2 = 2·l2_native``."""
        parts = []
        for p in self.params:
            inverse = 1.0 / p.factor
            scale = "" if math.isclose(inverse, 1.0) else f"{inverse:g}·"
            parts.append(f"{p.term} = {scale}{p.name}")
        return ", ".join(parts)


def _p(name: str, term: Term, factor: float = 1.0, default: float = 0.0) -> Param:
    return Param(name, term, factor, default)


_STEP = "the gradient term of one real SGD step with zero loss gradient, (w - w')/lr"
_PENALTY_GRAD = ("penalty", "gradient")

CONVENTIONS: tuple[Convention, ...] = (
    # --- numpy: the hand-written idiom, in the case's own dtype -----------------------------------
    Convention(
        "numpy.handwritten", "numpy", "penalty", _PENALTY_GRAD,
        (_p("l1", "l1"), _p("l2", "l2")),
        "l1·Σ|w| + l2/2·Σw²; gradient l1·sign(w) + l2·w",
        "penalty", "numpy in the case's dtype: l1*np.sum(np.abs(w)) + l2/2*np.sum(w*w), written by hand",
    ),
    # --- torch -------------------------------------------------------------------------------------
    Convention(
        "torch.handwritten", "torch", "penalty", _PENALTY_GRAD,
        (_p("l1", "l1"), _p("lambd", "l2")),
        "l1·Σ|w| + lambd·Σw²/2 (the d2l idiom)",
        "penalty", "lambd * torch.sum(w.pow(2)) / 2 + l1 * torch.sum(torch.abs(w)); gradient by backward()",
    ),
    Convention(
        "torch.optim.SGD", "torch", "gradient", ("gradient",),
        (_p("weight_decay", "l2"),),
        "gradient += weight_decay·w (before momentum)",
        "coupled", f"torch.optim.SGD(weight_decay=…): {_STEP}",
        caveats=("No L1: torch has no built-in L1 decay; add l1·Σ|w| to the loss by hand.",),
    ),
    # --- tensorflow / keras ------------------------------------------------------------------------
    Convention(
        "tf.nn.l2_loss", "tensorflow", "penalty", _PENALTY_GRAD,
        (_p("scale", "l2", 1.0, 1.0),),
        "scale·½Σw² (the ½ is inside l2_loss)",
        "penalty", "scale * tf.nn.l2_loss(w), summed over tensors; gradient through tf.GradientTape",
        caveats=("Half the sum of squares: keras.regularizers.L2(c) equals tf.nn.l2_loss scaled by 2c.",),
    ),
    Convention(
        "keras.regularizers.L1", "tensorflow", "penalty", _PENALTY_GRAD,
        (_p("l1", "l1", 1.0, 0.01),),
        "l1·Σ|w|",
        "penalty", "keras.regularizers.L1(l1)(w); gradient through tf.GradientTape",
        caveats=("Default l1=0.01.",),
    ),
    Convention(
        "keras.regularizers.L2", "tensorflow", "penalty", _PENALTY_GRAD,
        (_p("l2", "l2", 0.5, 0.01),),
        "l2·Σw² (no ½)",
        "penalty", "keras.regularizers.L2(l2)(w); gradient through tf.GradientTape",
        caveats=(
            "No ½: L2(c) is canonical l2 = 2c, and its gradient is 2c·w.",
            "Default l2=0.01.",
        ),
    ),
    Convention(
        "keras.regularizers.L1L2", "tensorflow", "penalty", _PENALTY_GRAD,
        (_p("l1", "l1", 1.0, 0.0), _p("l2", "l2", 0.5, 0.0)),
        "l1·Σ|w| + l2·Σw² (no ½)",
        "penalty", "keras.regularizers.L1L2(l1, l2)(w); gradient through tf.GradientTape",
        caveats=("Defaults l1=0, l2=0 (unlike L1 and L2, whose default is 0.01).",),
    ),
    Convention(
        "tf.contrib.layers.l1_regularizer", "tensorflow", "penalty", ("penalty",),
        (_p("scale", "l1", 1.0, 1.0),),
        "scale·Σ|w|",
        "penalty", "TF 1.x only; not installable with Python 3.11", executed=False,
        caveats=("Documented convention only: tf.contrib was removed in TF 2.",),
    ),
    Convention(
        "tf.contrib.layers.l2_regularizer", "tensorflow", "penalty", ("penalty",),
        (_p("scale", "l2", 1.0, 1.0),),
        "scale·½Σw² (scale · tf.nn.l2_loss)",
        "penalty", "TF 1.x only; not installable with Python 3.11", executed=False,
        caveats=("Documented convention only: tf.contrib was removed in TF 2.",),
    ),
    # --- paddle ------------------------------------------------------------------------------------
    Convention(
        "paddle.handwritten", "paddle", "penalty", _PENALTY_GRAD,
        (_p("l1", "l1"), _p("l2", "l2")),
        "l1·Σ|w| + l2/2·Σw² (paddle has no penalty function)",
        "penalty", "l1 * paddle.sum(paddle.abs(w)) + l2 / 2 * paddle.sum(paddle.square(w)); gradient by backward()",
    ),
    Convention(
        "paddle.regularizer.L2Decay", "paddle", "gradient", ("gradient",),
        (_p("coeff", "l2"),),
        "gradient += coeff·w",
        "coupled", f"paddle.optimizer.SGD(weight_decay=paddle.regularizer.L2Decay(coeff)): {_STEP}",
    ),
    Convention(
        "paddle.regularizer.L1Decay", "paddle", "gradient", ("gradient",),
        (_p("coeff", "l1"),),
        "gradient += coeff·sign(w)",
        "coupled", f"paddle.optimizer.SGD(weight_decay=paddle.regularizer.L1Decay(coeff)): {_STEP}",
    ),
    Convention(
        "paddle.ParamAttr.L2Decay", "paddle", "gradient", ("gradient",),
        (_p("coeff", "l2"),),
        "gradient += coeff·w, on this parameter only",
        "coupled", f"paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(coeff)) on the parameter: {_STEP}",
        caveats=("A ParamAttr regularizer overrides the optimizer's weight_decay for that parameter.",),
    ),
    Convention(
        "paddle.ParamAttr.L1Decay", "paddle", "gradient", ("gradient",),
        (_p("coeff", "l1"),),
        "gradient += coeff·sign(w), on this parameter only",
        "coupled", f"paddle.ParamAttr(regularizer=paddle.regularizer.L1Decay(coeff)) on the parameter: {_STEP}",
        caveats=("A ParamAttr regularizer overrides the optimizer's weight_decay for that parameter.",),
    ),
    Convention(
        "paddle.optimizer.SGD", "paddle", "gradient", ("gradient",),
        (_p("weight_decay", "l2"),),
        "gradient += weight_decay·w (a float weight_decay becomes L2Decay)",
        "coupled", f"paddle.optimizer.SGD(weight_decay=<float>): {_STEP}",
    ),
    Convention(
        "paddle.fluid.regularizer.L2Decay", "paddle", "gradient", ("gradient",),
        (_p("regularization_coeff", "l2"),),
        "gradient += regularization_coeff·w",
        "coupled", "Paddle 1.x only; not installable with Python 3.11", executed=False,
        caveats=("Documented convention only: paddle.fluid was removed in Paddle 2.5.",),
    ),
    Convention(
        "paddle.fluid.regularizer.L1Decay", "paddle", "gradient", ("gradient",),
        (_p("regularization_coeff", "l1"),),
        "gradient += regularization_coeff·sign(w)",
        "coupled", "Paddle 1.x only; not installable with Python 3.11", executed=False,
        caveats=("Documented convention only: paddle.fluid was removed in Paddle 2.5.",),
    ),
)


def registry(extra: tuple[Convention, ...] = ()) -> dict[str, Convention]:
    """API id → record; ``extra`` holds third-party adapters' records."""
    table: dict[str, Convention] = {}
    for conv in (*CONVENTIONS, *extra):
        if conv.api in table:
            raise ValueError(f"two conventions for {conv.api}")
        table[conv.api] = conv
    return table
