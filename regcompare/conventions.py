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
Family = Literal["sgd", "adam"]
"""The update rule of an optimizer; a case's ``optimizer.name`` picks one (``adam`` and ``adamw`` both pick ``adam``:
AdamW is Adam plus decoupled decay, which belongs to the API, not to the case)."""
EpsOn = Literal["v_hat", "v"]
"""Where Adam's epsilon is added: to √v̂ = √(v/(1−β₂ᵗ)) (torch, paddle) or to the raw √v (Keras)."""
QUANTITIES: tuple[Quantity, ...] = ("penalty", "gradient", "update", "trajectory")
Precedence = Literal["both", "param", "optimizer"]
"""Which decay a tensor gets when a regularizer is placed on it (``param``) and the optimizer has one too:
``both`` add up (the canonical reading), ``param`` the parameter's replaces the optimizer's, ``optimizer``
the optimizer's (or its param group's) replaces the parameter's."""


@dataclass(frozen=True)
class Regularizer:
    """Canonical coefficients."""

    l1: float = 0.0
    l2: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"l1": self.l1, "l2": self.l2}

    def coefficient(self, term: Term) -> float:
        return self.l1 if term == "l1" else self.l2

    def __add__(self, other: Regularizer) -> Regularizer:
        return Regularizer(self.l1 + other.l1, self.l2 + other.l2)


@dataclass(frozen=True)
class Decay:
    """What one tensor gets at each step: a coupled regularizer (added to the gradient, so it goes through
    momentum and moments) and a decoupled ``l2`` (w ← w − lr·l2·w before the step)."""

    coupled: Regularizer = Regularizer()
    decoupled: float = 0.0


@dataclass(frozen=True)
class Placed:
    """A case's regularizer entry with its placement: ``reg`` is the optimizer's own decay, on the tensors of
    ``scope`` (None: all); ``param`` is a regularizer put on the parameters of ``param_scope`` themselves
    (paddle ParamAttr, Keras kernel_regularizer). Canonically placement does not matter: both apply."""

    reg: Regularizer
    scope: tuple[str, ...] | None = None
    param: Regularizer | None = None
    param_scope: tuple[str, ...] | None = None

    @property
    def plain(self) -> bool:
        return self.scope is None and self.param is None

    def on(self, tensor: str) -> tuple[Regularizer, Regularizer | None]:
        """The optimizer's and the parameter's regularizer on one tensor (zero / None where out of scope)."""
        own = self.reg if self.scope is None or tensor in self.scope else Regularizer()
        placed = self.param_scope is None or tensor in self.param_scope
        return own, self.param if self.param is not None and placed else None

    def canonical(self, tensor: str) -> Decay:
        """Both apply, coupled: the gradient of the sum of the two penalties."""
        own, param = self.on(tensor)
        return Decay(own + (param or Regularizer()))


@dataclass(frozen=True)
class Param:
    """One native argument: ``native = factor * canonical[term]``."""

    name: str
    term: Term
    factor: float
    default: float


@dataclass(frozen=True)
class Placement:
    """How an ``update`` API takes a regularizer on some tensors only, or one placed on the parameters
    themselves next to the optimizer's own, and the framework's documented precedence between the two."""

    scope: str
    """How the API limits its decay to the case's ``scope`` tensors, in words (``param groups``, ...)."""
    param_apis: tuple[str, ...] = ()
    """The records that put a regularizer on a parameter next to this optimizer (first that can express it
    wins); empty: the API cannot take a ``param`` regularizer."""
    over_list: Precedence = "both"
    """Precedence when the optimizer gets a plain parameter list (no ``scope`` on the optimizer's part)."""
    over_groups: Precedence = "both"
    """Precedence when ``scope`` makes the optimizer take param groups."""
    why: str = ""
    """The precedence over a plain list, with its source, for ``divergent`` rows."""
    why_groups: str = ""
    """The same for param groups."""

    def precedence(self, grouped: bool) -> tuple[Precedence, str]:
        return (self.over_groups, self.why_groups) if grouped else (self.over_list, self.why)


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
    optimizers: tuple[OptimizerCall, ...] = ()
    """For ``update``: the optimizer classes it runs with, first that can express the case's settings wins.
    An optimizer API lists itself; a regularizer object (a Keras layer regularizer, a paddle L2Decay) lists
    the optimizers it is handed to."""
    call_args: str = ""
    """Fixed arguments of the optimizer call that make this API what it is (``decoupled_weight_decay=True``)."""
    role: str = ""
    """Where the decay arguments go, for ``translate``: ``optimizer`` (the optimizer's own argument),
    ``layer`` (a layer's ``kernel_regularizer``), ``optimizer regularizer`` (the optimizer's
    ``weight_decay=`` object) or ``param`` (a ``ParamAttr`` on the parameter)."""
    placement: Placement | None = None
    """For ``update``: how the API expresses a regularizer's ``scope`` and ``param`` (None: it cannot)."""

    def optimizer_for(self, name: str, settings: dict[str, float | bool]) -> OptimizerCall | None:
        """The optimizer class this API uses for a case's optimizer, or None if it cannot express it."""
        family = "sgd" if name == "sgd" else "adam"
        return next((c for c in self.optimizers if c.family == family and c.expresses(settings)), None)

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


@dataclass(frozen=True)
class Hyper:
    """One optimizer hyper-parameter: the case's ``optimizer`` key and the API's own name and default."""

    key: str
    """``lr``, ``momentum``, ``dampening``, ``nesterov``, ``beta1``, ``beta2`` or ``eps`` (schema.OptimizerSpec)."""
    name: str
    """The API's argument; ``betas[0]`` is the first item of a tuple argument ``betas``."""
    default: float | bool


@dataclass(frozen=True)
class OptimizerCall:
    """A real optimizer class, as an ``update`` API runs it for ``steps`` steps."""

    api: str
    family: Family
    hypers: tuple[Hyper, ...]
    fixed: tuple[tuple[str, float | bool], ...] = ()
    """Case keys this class has no argument for, with the only value it implements (Keras SGD: dampening 0)."""
    eps_on: EpsOn = "v_hat"

    def expresses(self, settings: dict[str, float | bool]) -> bool:
        return all(settings.get(key, value) == value for key, value in self.fixed)

    def native(self, settings: dict[str, float | bool]) -> dict[str, float | bool]:
        """Every hyper-parameter passed explicitly: defaults differ between frameworks (Adam's eps)."""
        return {h.name: settings.get(h.key, h.default) for h in self.hypers}

    def settings(self, native: dict[str, float | bool]) -> dict[str, float | bool]:
        """The case's keys for native arguments; missing ones take this class's defaults."""
        return {h.key: native.get(h.name, h.default) for h in self.hypers}

    def call_text(self, native: dict[str, float | bool], extra: str = "") -> str:
        """``torch.optim.Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-08)``: tuple arguments regrouped."""
        parts: dict[str, list[str]] = {}
        for name, value in native.items():
            base = name.split("[")[0]
            parts.setdefault(base, []).append(_fmt(value))
        args = [f"{k}=({', '.join(v)})" if len(v) > 1 else f"{k}={v[0]}" for k, v in parts.items()]
        return f"{self.api}({', '.join(([extra] if extra else []) + args)})"


def _fmt(value: float | bool) -> str:
    return str(value) if isinstance(value, bool) else f"{value:g}"


def _p(name: str, term: Term, factor: float = 1.0, default: float = 0.0) -> Param:
    return Param(name, term, factor, default)


_STEP = "the gradient term of one real SGD step with zero loss gradient, (w - w')/lr"
_PENALTY_GRAD = ("penalty", "gradient")
_PENALTY_UPDATE = ("penalty", "gradient", "update")
_DECOUPLED = "w ← w − lr·{wd}·w before each step (decoupled: not through the gradient, momentum or moments)"
_NOT_L2 = ("Decoupled weight decay is not an L2 penalty: with momentum or Adam it gives other weights than the "
           "coupled weight_decay of torch/paddle (Loshchilov & Hutter, arXiv:1711.05101); with plain SGD they agree.")


def _h(key: str, name: str, default: float | bool) -> Hyper:
    return Hyper(key, name, default)


def _adam_hypers(lr: str, b1: str, b2: str, eps: str, eps_default: float) -> tuple[Hyper, ...]:
    return (_h("lr", lr, 1e-3), _h("beta1", b1, 0.9), _h("beta2", b2, 0.999), _h("eps", eps, eps_default))


# The optimizer classes, with their own argument names and defaults (checked against the pinned sources:
# torch/optim/sgd.py, adam.py, adamw.py; keras/src/optimizers/sgd.py, adam.py, adamw.py;
# paddle/optimizer/sgd.py, momentum.py, adam.py, adamw.py).
TORCH_SGD = OptimizerCall("torch.optim.SGD", "sgd", (
    _h("lr", "lr", 1e-3), _h("momentum", "momentum", 0.0), _h("dampening", "dampening", 0.0),
    _h("nesterov", "nesterov", False)))
TORCH_ADAM = OptimizerCall("torch.optim.Adam", "adam", _adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8))
TORCH_ADAMW = OptimizerCall("torch.optim.AdamW", "adam", _adam_hypers("lr", "betas[0]", "betas[1]", "eps", 1e-8))
# Keras SGD keeps m ← μm − lr·g, w ← w + m (nesterov: w ← w + μm − lr·g): torch's rule for a constant lr, no dampening.
KERAS_SGD = OptimizerCall("keras.optimizers.SGD", "sgd", (
    _h("lr", "learning_rate", 0.01), _h("momentum", "momentum", 0.0), _h("nesterov", "nesterov", False)),
    fixed=(("dampening", 0.0),))
KERAS_ADAM = OptimizerCall("keras.optimizers.Adam", "adam",
                           _adam_hypers("learning_rate", "beta_1", "beta_2", "epsilon", 1e-7), eps_on="v")
KERAS_ADAMW = OptimizerCall("keras.optimizers.AdamW", "adam",
                            _adam_hypers("learning_rate", "beta_1", "beta_2", "epsilon", 1e-7), eps_on="v")
PADDLE_SGD = OptimizerCall("paddle.optimizer.SGD", "sgd", (_h("lr", "learning_rate", 1e-3),),
                           fixed=(("momentum", 0.0), ("dampening", 0.0), ("nesterov", False)))
PADDLE_MOMENTUM = OptimizerCall("paddle.optimizer.Momentum", "sgd", (
    _h("lr", "learning_rate", 1e-3), _h("momentum", "momentum", 0.9), _h("nesterov", "use_nesterov", False)),
    fixed=(("dampening", 0.0),))
PADDLE_ADAM = OptimizerCall("paddle.optimizer.Adam", "adam",
                            _adam_hypers("learning_rate", "beta1", "beta2", "epsilon", 1e-8))
PADDLE_ADAMW = OptimizerCall("paddle.optimizer.AdamW", "adam",
                             _adam_hypers("learning_rate", "beta1", "beta2", "epsilon", 1e-8))
_KERAS_OPTIMIZERS = (KERAS_SGD, KERAS_ADAM)
_PADDLE_OPTIMIZERS = (PADDLE_SGD, PADDLE_MOMENTUM, PADDLE_ADAM)
_KERAS_F64 = ("In float64, Adam's bias corrections use float32-rounded betas (ops.cast of a Python float): "
              "about 7e-6 relative per step.")
_UPDATE_OF_STEPS = "the weights after `steps` real optimizer steps on the case's per-step loss gradients"

# --- scope and precedence (checked in torch/optim/optimizer.py add_param_group; keras/src/optimizers/
# base_optimizer.py exclude_from_weight_decay, _apply_weight_decay; paddle/optimizer/optimizer.py
# _create_regularization_of_grad, append_regularization_ops, _add_param_group; momentum.py; adamw.py) ----------
_GROUPS = "param groups: [{'params': <scope>, 'weight_decay': …}, {'params': <others>, 'weight_decay': 0.0}]"
_TORCH_PLACEMENT = Placement(_GROUPS)
_KERAS_LAYER_PLACEMENT = Placement("the regularizer on the scoped weights only (each layer's kernel_regularizer)")
_KERAS_PLACEMENT = Placement(
    "optimizer.exclude_from_weight_decay(var_list=<others>)",
    param_apis=("keras.regularizers.L1", "keras.regularizers.L2", "keras.regularizers.L1L2"),
    why="Keras: a kernel_regularizer adds its penalty to the loss and the optimizer's weight_decay decays the "
        "weights on top of it (BaseOptimizer._apply_weight_decay): both apply",
    why_groups="Keras: a kernel_regularizer and the optimizer's weight_decay both apply")
_PADDLE_PARAM_PLACEMENT = Placement("ParamAttr(regularizer=…) on the scoped parameters only")
_PADDLE_REGULARIZER_PLACEMENT = Placement(_GROUPS)
_PADDLE_OVERRIDE = (
    "paddle: a ParamAttr regularizer replaces the optimizer's weight_decay on that parameter, they do not add up "
    "(Optimizer._create_regularization_of_grad: `if param.regularizer is not None … elif regularization …`; "
    "Momentum's fused kernel takes the ParamAttr L2Decay's coeff); paddle says so only in a logging.info "
    "message of the static graph, and in dygraph not at all")
_PADDLE_ERASE = (
    "paddle: param groups erase a ParamAttr regularizer: Optimizer._add_param_group sets every grouped "
    "parameter's param.regularizer to its group's weight_decay (Momentum: None, the group's coeff fused), so "
    "only the group's decay applies")
_PADDLE_PLACEMENT = Placement(
    _GROUPS, param_apis=("paddle.ParamAttr.L2Decay", "paddle.ParamAttr.L1Decay"),
    over_list="param", over_groups="optimizer", why=_PADDLE_OVERRIDE, why_groups=_PADDLE_ERASE)
_PADDLE_ADAMW_PLACEMENT = Placement(
    _GROUPS, param_apis=("paddle.ParamAttr.L2Decay", "paddle.ParamAttr.L1Decay"),
    why="paddle AdamW: its own regularization is None, so a ParamAttr regularizer is added to the gradient "
        "(coupled) on top of the decoupled weight_decay (adamw.py)",
    why_groups="paddle AdamW: AdamW._add_param_group keeps param.regularizer, so a ParamAttr regularizer "
               "(coupled) and the group's decoupled weight_decay both apply")

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
        "torch.optim.SGD", "torch", "gradient", ("gradient", "update"),
        (_p("weight_decay", "l2"),),
        "gradient += weight_decay·w (before momentum)",
        "coupled", f"torch.optim.SGD(weight_decay=…): {_STEP}; update: {_UPDATE_OF_STEPS}",
        caveats=("No L1: torch has no built-in L1 decay; add l1·Σ|w| to the loss by hand.",
                 "The first momentum step stores the gradient itself (no dampening on step 1)."),
        optimizers=(TORCH_SGD,), role="optimizer",
        placement=_TORCH_PLACEMENT,
    ),
    Convention(
        "torch.optim.Adam", "torch", "update", ("update",),
        (_p("weight_decay", "l2"),),
        "gradient += weight_decay·w, then Adam's moments (L2 scaled by 1/√v̂)",
        "coupled", f"torch.optim.Adam(weight_decay=…): {_UPDATE_OF_STEPS}",
        caveats=("Coupled: the decay goes through m and v, so weights with large gradients are decayed less.",),
        optimizers=(TORCH_ADAM,), role="optimizer",
        placement=_TORCH_PLACEMENT,
    ),
    Convention(
        "torch.optim.Adam.decoupled", "torch", "update", ("update",),
        (_p("weight_decay", "l2"),),
        _DECOUPLED.format(wd="weight_decay") + " — torch.optim.Adam(decoupled_weight_decay=True), i.e. AdamW",
        "decoupled", f"torch.optim.Adam(weight_decay=…, decoupled_weight_decay=True): {_UPDATE_OF_STEPS}",
        caveats=(_NOT_L2,), optimizers=(TORCH_ADAM,), role="optimizer", call_args="decoupled_weight_decay=True",
        placement=_TORCH_PLACEMENT,
    ),
    Convention(
        "torch.optim.AdamW", "torch", "update", ("update",),
        (_p("weight_decay", "l2", 1.0, 0.01),),
        _DECOUPLED.format(wd="weight_decay") + " (param.mul_(1 − lr·weight_decay))",
        "decoupled", f"torch.optim.AdamW(weight_decay=…): {_UPDATE_OF_STEPS}",
        caveats=(_NOT_L2, "Default weight_decay=0.01 (torch.optim.Adam: 0)."),
        optimizers=(TORCH_ADAMW,), role="optimizer",
        placement=_TORCH_PLACEMENT,
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
        "keras.regularizers.L1", "tensorflow", "penalty", _PENALTY_UPDATE,
        (_p("l1", "l1", 1.0, 0.01),),
        "l1·Σ|w|",
        "penalty", "keras.regularizers.L1(l1)(w); gradient through tf.GradientTape",
        caveats=("Default l1=0.01.",),
        optimizers=_KERAS_OPTIMIZERS, role="layer",
        placement=_KERAS_LAYER_PLACEMENT,
    ),
    Convention(
        "keras.regularizers.L2", "tensorflow", "penalty", _PENALTY_UPDATE,
        (_p("l2", "l2", 0.5, 0.01),),
        "l2·Σw² (no ½)",
        "penalty", "keras.regularizers.L2(l2)(w); gradient through tf.GradientTape",
        caveats=(
            "No ½: L2(c) is canonical l2 = 2c, and its gradient is 2c·w.",
            "Default l2=0.01.",
        ),
        optimizers=_KERAS_OPTIMIZERS, role="layer",
        placement=_KERAS_LAYER_PLACEMENT,
    ),
    Convention(
        "keras.regularizers.L1L2", "tensorflow", "penalty", _PENALTY_UPDATE,
        (_p("l1", "l1", 1.0, 0.0), _p("l2", "l2", 0.5, 0.0)),
        "l1·Σ|w| + l2·Σw² (no ½)",
        "penalty", "keras.regularizers.L1L2(l1, l2)(w); gradient through tf.GradientTape",
        caveats=("Defaults l1=0, l2=0 (unlike L1 and L2, whose default is 0.01).",),
        optimizers=_KERAS_OPTIMIZERS, role="layer",
        placement=_KERAS_LAYER_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.SGD", "tensorflow", "update", ("update",),
        (_p("weight_decay", "l2"),),
        _DECOUPLED.format(wd="weight_decay") + " (BaseOptimizer._apply_weight_decay)",
        "decoupled", f"keras.optimizers.SGD(weight_decay=…).apply_gradients: {_UPDATE_OF_STEPS}",
        caveats=(_NOT_L2, "Every Keras optimizer's weight_decay is decoupled; for an L2 penalty use a layer's "
                 "kernel_regularizer=keras.regularizers.L2(l2/2)."),
        optimizers=(KERAS_SGD,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.Adam", "tensorflow", "update", ("update",),
        (_p("weight_decay", "l2"),),
        _DECOUPLED.format(wd="weight_decay") + "; ε added to √v, not √v̂",
        "decoupled", f"keras.optimizers.Adam(weight_decay=…).apply_gradients: {_UPDATE_OF_STEPS}",
        caveats=(_NOT_L2, "Default epsilon=1e-7 (torch, paddle: 1e-8), and added to √v rather than √v̂.", _KERAS_F64),
        optimizers=(KERAS_ADAM,), role="optimizer",
        placement=_KERAS_PLACEMENT,
    ),
    Convention(
        "keras.optimizers.AdamW", "tensorflow", "update", ("update",),
        (_p("weight_decay", "l2", 1.0, 0.004),),
        _DECOUPLED.format(wd="weight_decay") + "; ε added to √v, not √v̂",
        "decoupled", f"keras.optimizers.AdamW(weight_decay=…).apply_gradients: {_UPDATE_OF_STEPS}",
        caveats=(_NOT_L2, "Default weight_decay=0.004 (torch, paddle AdamW: 0.01); default epsilon=1e-7.", _KERAS_F64),
        optimizers=(KERAS_ADAMW,), role="optimizer",
        placement=_KERAS_PLACEMENT,
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
        "paddle.regularizer.L2Decay", "paddle", "gradient", ("gradient", "update"),
        (_p("coeff", "l2"),),
        "gradient += coeff·w",
        "coupled", f"paddle.optimizer.SGD(weight_decay=paddle.regularizer.L2Decay(coeff)): {_STEP}",
        optimizers=_PADDLE_OPTIMIZERS, role="optimizer regularizer",
        placement=_PADDLE_REGULARIZER_PLACEMENT,
    ),
    Convention(
        "paddle.regularizer.L1Decay", "paddle", "gradient", ("gradient", "update"),
        (_p("coeff", "l1"),),
        "gradient += coeff·sign(w)",
        "coupled", f"paddle.optimizer.SGD(weight_decay=paddle.regularizer.L1Decay(coeff)): {_STEP}",
        optimizers=_PADDLE_OPTIMIZERS, role="optimizer regularizer",
        placement=_PADDLE_REGULARIZER_PLACEMENT,
    ),
    Convention(
        "paddle.ParamAttr.L2Decay", "paddle", "gradient", ("gradient", "update"),
        (_p("coeff", "l2"),),
        "gradient += coeff·w, on this parameter only",
        "coupled", f"paddle.ParamAttr(regularizer=paddle.regularizer.L2Decay(coeff)) on the parameter: {_STEP}",
        caveats=("A ParamAttr regularizer overrides the optimizer's weight_decay for that parameter.",),
        optimizers=_PADDLE_OPTIMIZERS, role="param",
        placement=_PADDLE_PARAM_PLACEMENT,
    ),
    Convention(
        "paddle.ParamAttr.L1Decay", "paddle", "gradient", ("gradient", "update"),
        (_p("coeff", "l1"),),
        "gradient += coeff·sign(w), on this parameter only",
        "coupled", f"paddle.ParamAttr(regularizer=paddle.regularizer.L1Decay(coeff)) on the parameter: {_STEP}",
        caveats=("A ParamAttr regularizer overrides the optimizer's weight_decay for that parameter.",),
        optimizers=_PADDLE_OPTIMIZERS, role="param",
        placement=_PADDLE_PARAM_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.SGD", "paddle", "gradient", ("gradient", "update"),
        (_p("weight_decay", "l2"),),
        "gradient += weight_decay·w (a float weight_decay becomes L2Decay)",
        "coupled", f"paddle.optimizer.SGD(weight_decay=<float>): {_STEP}",
        optimizers=(PADDLE_SGD,), role="optimizer",
        placement=_PADDLE_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.Momentum", "paddle", "update", ("update",),
        (_p("weight_decay", "l2"),),
        "fused: the momentum kernel adds weight_decay·w to the gradient (regularization_method='l2_decay')",
        "coupled", f"paddle.optimizer.Momentum(weight_decay=<float>): {_UPDATE_OF_STEPS}",
        caveats=("A float or L2Decay weight_decay is fused into the momentum kernel; L1Decay (and a ParamAttr "
                 "L1Decay) goes through the generic gradient path instead.", "Default momentum=0.9."),
        optimizers=(PADDLE_MOMENTUM,), role="optimizer",
        placement=_PADDLE_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.Adam", "paddle", "update", ("update",),
        (_p("weight_decay", "l2"),),
        "gradient += weight_decay·w (a float becomes L2Decay), then Adam's moments",
        "coupled", f"paddle.optimizer.Adam(weight_decay=<float>): {_UPDATE_OF_STEPS}",
        caveats=("Coupled, unlike paddle.optimizer.AdamW: the same float means a different thing in the two.",),
        optimizers=(PADDLE_ADAM,), role="optimizer",
        placement=_PADDLE_PLACEMENT,
    ),
    Convention(
        "paddle.optimizer.AdamW", "paddle", "update", ("update",),
        (_p("weight_decay", "l2", 1.0, 0.01),),
        _DECOUPLED.format(wd="weight_decay") + " (adamw kernel: p − lr·lr_ratio·coeff·p, lr not bias-corrected)",
        "decoupled", f"paddle.optimizer.AdamW(weight_decay=<float>): {_UPDATE_OF_STEPS}",
        caveats=(_NOT_L2, "lr_ratio (default None = 1) scales the decay per parameter; apply_decay_param_fun can "
                 "exempt parameters. Default weight_decay=0.01.",
                 "A ParamAttr regularizer is applied to the gradient on top of the decoupled decay."),
        optimizers=(PADDLE_ADAMW,), role="optimizer",
        placement=_PADDLE_ADAMW_PLACEMENT,
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


def documented(conv: Convention, placed: Placed, tensor: str) -> tuple[Decay, str]:
    """What ``conv`` does to one tensor by its documented semantics, and the precedence text when the
    parameter's regularizer and the optimizer's do not simply add up there."""
    own, param = placed.on(tensor)
    mine = Decay(decoupled=own.l2) if conv.coupling == "decoupled" else Decay(own)
    if param is None:
        return mine, ""
    assert conv.placement is not None, "a param regularizer is planned only for APIs with a placement"
    precedence, why = conv.placement.precedence(placed.scope is not None)
    if precedence == "param":
        return Decay(param), why
    if precedence == "optimizer":
        return mine, why
    return Decay(mine.coupled + param, mine.decoupled), why


def registry(extra: tuple[Convention, ...] = ()) -> dict[str, Convention]:
    """API id → record; ``extra`` holds third-party adapters' records."""
    table: dict[str, Convention] = {}
    for conv in (*CONVENTIONS, *extra):
        if conv.api in table:
            raise ValueError(f"two conventions for {conv.api}")
        table[conv.api] = conv
    return table
