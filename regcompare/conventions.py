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
    weight_norm: WeightNorm | None = None
    """For a weight-normalization API: what it trains instead of w. Such an API runs for cases with a
    ``weight_norm`` key only, and those cases run nothing else."""

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


@dataclass(frozen=True)
class WeightNorm:
    """A weight-normalization API: each weight is trained as w = g·v/‖v‖, and the decay acts on g and v.

    Its optimizers are kept here, not in ``Convention.optimizers``, so that ``translate`` (which maps an
    optimizer's decay on w onto other APIs' decay on w) never offers it: its decay is on other parameters."""

    g: str
    """The framework's own name of the magnitude parameter (torch ``parametrizations.weight.original0``)."""
    v: str
    """The framework's own name of the direction parameter."""
    optimizers: tuple[OptimizerCall, ...]

    def optimizer_for(self, name: str, settings: dict[str, float | bool]) -> OptimizerCall | None:
        family = "sgd" if name == "sgd" else "adam"
        return next((c for c in self.optimizers if c.family == family and c.expresses(settings)), None)


def weight_norm_tensors(weight: str) -> tuple[str, str, str]:
    """The row tensors of one weight-normalized weight, as adapters name their values: g, v and the resulting w."""
    return f"{weight}.g", f"{weight}.v", weight


def weight_norm_g_shape(shape: tuple[int, ...], dim: int | None) -> tuple[int, ...]:
    """g as rows show it, with kept dims: one norm per slice along ``dim`` (all 1s but ``dim``), or one in all
    (dim=None). Frameworks store it otherwise (torch: 0-d for None; paddle dygraph: squeezed), same values."""
    return tuple(size if dim is not None and axis == dim else 1 for axis, size in enumerate(shape))


def _fmt(value: float | bool) -> str:
    return str(value) if isinstance(value, bool) else f"{value:g}"


def _p(name: str, term: Term, factor: float = 1.0, default: float = 0.0) -> Param:
    return Param(name, term, factor, default)


_STEP = "the gradient term of one real SGD step with zero loss gradient, (w - w')/lr"
_PENALTY_GRAD = ("penalty", "gradient")
_PENALTY_UPDATE = ("penalty", "gradient", "update")
_PENALTY_GRAD_TRAJECTORY = ("penalty", "gradient", "trajectory")
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

# --- weight normalization (torch/nn/utils/parametrizations.py _WeightNorm; paddle/nn/utils/weight_norm_hook.py;
# paddle/base/layer_helper_base.py _create_weight_normalize; checked against the installed torch 2.13, paddle 3.3.1) --
_WN_FORMULA = ("w = g·v/‖v‖ (one norm per slice along dim; dim=None: of the whole tensor); gradient += {c}·g and "
               "{c}·v: coupled, on g and v, never on w")
_WN_HOW = ("g, v and w = g·v/‖v‖ after `steps` real steps on the loss Σ grads⊙w, the gradient reaching g and v "
           "through the framework's own autograd")
_WN_NOT_W = ("Not an L2 penalty on w: (l2/2)‖w‖² = (l2/2)Σg², whose gradient is l2·g on g and 0 on v. The decay on v "
             "leaves w unchanged at that step (w does not depend on ‖v‖) but shrinks ‖v‖, which scales every later "
             "direction update by g/‖v‖.")
_WN_MINUS_ONE = "dim=None is turned into dim=-1, and -1 means the whole tensor here, not the last axis."
_WN_KEEPDIMS = "Rows show g with kept dims ([rows, 1] for dim=0, [1, 1] for dim=None on a matrix)."
_WN_STATIC_ATTR = ("The ParamAttr is copied to both parameters <name>_g and <name>_v, regularizer included: "
                   "L2Decay(coeff) decays g and v, never w; it replaces the optimizer's weight_decay there, as any "
                   "ParamAttr regularizer does.")
_WN_STATIC_HOW = ("paddle.static.create_parameter(attr=paddle.static.WeightNormParamAttr(dim=…, initializer=Assign(w), "
                  "regularizer=paddle.regularizer.L2Decay(coeff))) in a fresh static Program, {ir}; "
                  "paddle.optimizer.SGD/Momentum(...).minimize(loss), one Executor.run per step: " + _WN_HOW)
_WN_STATIC = WeightNorm("<name>_g", "<name>_v", (PADDLE_SGD, PADDLE_MOMENTUM))
_WEIGHT_NORM_APIS: tuple[Convention, ...] = (
    Convention(
        "torch.nn.utils.parametrizations.weight_norm", "torch", "update", ("update",),
        (_p("weight_decay", "l2"),),
        _WN_FORMULA.format(c="weight_decay"), "coupled",
        "torch.nn.utils.parametrizations.weight_norm(module, 'weight', dim) on a module holding the weight, "
        "torch.optim.SGD(module.parameters(), weight_decay=…): " + _WN_HOW,
        caveats=("g and v are module.parametrizations.weight.original0 and original1; weight_decay on "
                 "module.parameters() decays them, never w.",
                 "g keeps the normed dims ([rows, 1] for dim=0) and is 0-d for dim=None. " + _WN_KEEPDIMS,
                 _WN_MINUS_ONE, _WN_NOT_W),
        role="optimizer",
        weight_norm=WeightNorm("parametrizations.weight.original0", "parametrizations.weight.original1", (TORCH_SGD,)),
    ),
    Convention(
        "paddle.nn.utils.weight_norm", "paddle", "update", ("update",),
        (_p("coeff", "l2"),),
        _WN_FORMULA.format(c="coeff"), "coupled",
        "paddle.nn.utils.weight_norm(layer, 'weight', dim) on a Layer holding the weight, paddle.optimizer.SGD/"
        "Momentum(parameters=layer.parameters(), weight_decay=paddle.regularizer.L2Decay(coeff)): " + _WN_HOW,
        caveats=("g and v are layer.weight_g and layer.weight_v; the optimizer's L2Decay decays both, never w.",
                 "weight_g is squeezed: shape [size of dim], 0-d for dim=None. " + _WN_KEEPDIMS,
                 "layer.weight is recomputed by a forward pre-hook only: after a step it is stale until the layer "
                 "is called.",
                 "The whole-tensor norm is √(Σv²)+1e-12 in w (√(Σv²+1e-12) in g's initial value); per-slice norms "
                 "are clamped at 1e-12 (F.normalize).",
                 _WN_MINUS_ONE, _WN_NOT_W),
        role="optimizer regularizer",
        weight_norm=WeightNorm("weight_g", "weight_v", (PADDLE_SGD, PADDLE_MOMENTUM)),
    ),
    Convention(
        "paddle.static.WeightNormParamAttr", "paddle", "update", ("update",),
        (_p("coeff", "l2"),),
        _WN_FORMULA.format(c="coeff"), "coupled",
        _WN_STATIC_HOW.format(ir="under paddle 3's default static IR (PIR)"),
        caveats=(_WN_STATIC_ATTR,
                 "Fails under PIR, paddle 3's default static IR: LayerHelper builds old-IR Parameters that PIR ops "
                 "reject (`divide(): argument (position 1) must be Value, but got Parameter` with an Assign "
                 "initializer; the documented example's Constant(1.0) fails earlier, in `full`). See "
                 "paddle.static.WeightNormParamAttr.old_ir.",
                 "Default dim=None (torch and paddle.nn.utils.weight_norm: 0).", _WN_NOT_W),
        role="param", weight_norm=_WN_STATIC,
    ),
    Convention(
        "paddle.static.WeightNormParamAttr.old_ir", "paddle", "update", ("update",),
        (_p("coeff", "l2"),),
        _WN_FORMULA.format(c="coeff"), "coupled",
        _WN_STATIC_HOW.format(ir="under paddle.pir_utils.OldIrGuard() (the loss an old-IR reduce_sum op: "
                                 "paddle.sum rejects old-IR Variables)"),
        caveats=(_WN_STATIC_ATTR,
                 "With dim=0 or 1 the program's backward fails at run time, with or without a regularizer: a sum op "
                 "(AddNOp) gets a [rows, cols] and a [size of dim] input (`The input tensor X of AddNOp must have "
                 "same shape`). dim=None works.",
                 "Default dim=None (torch and paddle.nn.utils.weight_norm: 0).", _WN_NOT_W),
        role="param", weight_norm=_WN_STATIC,
    ),
)

CONVENTIONS: tuple[Convention, ...] = (
    # --- numpy: the hand-written idiom, in the case's own dtype -----------------------------------
    Convention(
        "numpy.handwritten", "numpy", "penalty", _PENALTY_GRAD_TRAJECTORY,
        (_p("l1", "l1"), _p("l2", "l2")),
        "l1·Σ|w| + l2/2·Σw²; gradient l1·sign(w) + l2·w",
        "penalty", "numpy in the case's dtype: l1*np.sum(np.abs(w)) + l2/2*np.sum(w*w), written by hand",
    ),
    # --- torch -------------------------------------------------------------------------------------
    Convention(
        "torch.handwritten", "torch", "penalty", _PENALTY_GRAD_TRAJECTORY,
        (_p("l1", "l1"), _p("lambd", "l2")),
        "l1·Σ|w| + lambd·Σw²/2 (the d2l idiom)",
        "penalty", "lambd * torch.sum(w.pow(2)) / 2 + l1 * torch.sum(torch.abs(w)); gradient by backward()",
    ),
    Convention(
        "torch.optim.SGD", "torch", "gradient", ("gradient", "update", "trajectory"),
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
        "tf.nn.l2_loss", "tensorflow", "penalty", _PENALTY_GRAD_TRAJECTORY,
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
        "keras.regularizers.L2", "tensorflow", "penalty", (*_PENALTY_UPDATE, "trajectory"),
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
        "keras.optimizers.SGD", "tensorflow", "update", ("update", "trajectory"),
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
        "paddle.handwritten", "paddle", "penalty", _PENALTY_GRAD_TRAJECTORY,
        (_p("l1", "l1"), _p("l2", "l2")),
        "l1·Σ|w| + l2/2·Σw² (paddle has no penalty function)",
        "penalty", "l1 * paddle.sum(paddle.abs(w)) + l2 / 2 * paddle.sum(paddle.square(w)); gradient by backward()",
    ),
    Convention(
        "paddle.regularizer.L2Decay", "paddle", "gradient", ("gradient", "update", "trajectory"),
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
        "paddle.ParamAttr.L2Decay", "paddle", "gradient", ("gradient", "update", "trajectory"),
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
    *_WEIGHT_NORM_APIS,  # g and v regularized, not w: cases with `weight_norm` only
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


# --- trajectory: d2l's weight-decay experiment (regcompare.trajectory) ------------------------------------------
# d2l (chapter "Weight Decay"): from scratch, squared_loss = (ŷ − y)²/2 plus lambd·l2_penalty(w) per example,
# l.sum().backward(), then sgd divides by batch_size; concise (torch), nn.MSELoss(reduction='none') -- no ½ --
# and l.mean().backward(). The two d2l styles thus differ by 2 in the data term; regcompare runs one objective,
# the from-scratch one, and halves the concise MSE to get it.

TRAJECTORY_OBJECTIVE = (
    "J(w, b) = mean over the minibatch of ½(x·w + b − y)² + λ/2·‖w‖² (λ = canonical l2, on w only, never on b); "
    "plain SGD w ← w − lr·∂J/∂w, b ← b − lr·∂J/∂b; reported loss: mean of ½(ŷ − y)² over the whole set, no penalty")

Style = Literal["scratch", "concise"]


@dataclass(frozen=True)
class Training:
    """How an API trains the trajectory model: ``scratch`` (the penalty added to the loss, SGD written by hand
    with the framework's own tensor ops) or ``concise`` (the framework's layer, loss and optimizer)."""

    style: Style
    how: str


_HALF_MSE = "the MSE loss halved to the objective's ½(ŷ − y)²"
TRAJECTORIES: dict[str, Training] = {
    "numpy.handwritten": Training("scratch", "numpy in the dtype: r = X@w + b − y; w -= lr·(X.T@r/n + l2·w); "
                                             "b -= lr·mean(r) (the gradient by hand)"),
    "torch.handwritten": Training("scratch", "d2l: l = (X@w + b − y)²/2 + lambd·torch.sum(w.pow(2))/2; "
                                             "l.sum().backward(); p -= lr·p.grad/batch_size under no_grad"),
    "torch.optim.SGD": Training("concise", "d2l: nn.Linear; SGD([{'params': weight, 'weight_decay': λ}, "
                                           "{'params': bias}], lr); (MSELoss(reduction='none')/2).mean().backward(); "
                                + _HALF_MSE),
    "tf.nn.l2_loss": Training("scratch", "d2l (TF): l = (X@w + b − y)²/2 + scale·tf.nn.l2_loss(w); "
                                         "tape.gradient(l, [w, b]); w.assign_sub(lr·grad/batch_size)"),
    "keras.regularizers.L2": Training("concise", "d2l (TF): Dense(1, kernel_regularizer=L2(λ/2)); loss = "
                                                 "MeanSquaredError()/2 + Σ model.losses; keras.optimizers.SGD(lr)"
                                                 ".apply_gradients; " + _HALF_MSE),
    "keras.optimizers.SGD": Training("concise", "Dense(1); keras.optimizers.SGD(lr, weight_decay=λ) with "
                                                "exclude_from_weight_decay(bias); loss = MeanSquaredError()/2 "
                                                "(decoupled: agrees with coupled L2 for plain SGD)"),
    "paddle.handwritten": Training("scratch", "d2l (paddle): l = (X@w + b − y)²/2 + l2·paddle.sum(w.pow(2))/2; "
                                              "l.sum().backward(); p.set_value(p − lr·p.grad/batch_size)"),
    "paddle.regularizer.L2Decay": Training("concise", "nn.Linear; paddle.optimizer.SGD(parameters=[{'params': "
                                                      "[weight], 'weight_decay': L2Decay(λ)}, {'params': [bias]}]); "
                                                      "nn.MSELoss()/2"),
    "paddle.ParamAttr.L2Decay": Training("concise", "nn.Linear(weight_attr=ParamAttr(regularizer=L2Decay(λ))); "
                                                    "paddle.optimizer.SGD; nn.MSELoss()/2"),
}
"""The APIs that run ``trajectory`` (those with it in ``quantities``), and how."""


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
