"""The record types of the conventions registry: what an API is, how its arguments map onto the canonical
coefficients, and which optimizer classes it runs with. The records themselves live one module per framework."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

Term = Literal["l1", "l2"]
Quantity = Literal["penalty", "gradient", "update", "trajectory"]
Coupling = Literal["penalty", "coupled", "decoupled"]
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
    unscaled: bool = False
    """Decoupled decay that does not follow a learning-rate schedule: w ← w − lr₀·l2·w with the optimizer's own lr
    number lr₀, where torch/Keras/paddle AdamW use the step's scheduled lr (the decoupled-decay wrappers of TF
    add-ons apply ``var − wd·var`` with a fixed ``wd``). With a constant lr the two are the same update."""


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
    default: float | None
    """The API's own default; None where the framework's default is None, i.e. no decay op at all (Keras and paddle
    optimizers' ``weight_decay``), which differs from 0.0: Keras and paddle run the decay op with a 0.0
    coefficient (an infinite weight then becomes NaN), torch skips it (``if weight_decay != 0``)."""

    def default_text(self) -> str:
        return "None (no decay)" if self.default is None else f"{self.default:g}"


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
    variants: tuple[Variant, ...] = ()
    """Other ways the API limits its decay to a ``scope`` (Keras ``exclude_from_weight_decay(var_names=…)``, paddle
    AdamW's ``apply_decay_param_fun``): each runs as a variant of every entry with a scope; its ``native`` is
    ``(("scope_by", <mechanism>),)``, which the adapter takes out of the optimizer's arguments."""

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
    ``weight_decay=`` object), ``param`` (a ``ParamAttr`` on the parameter), ``chain`` (optax: a transform
    chained with the optimizer, where ``call_args`` says) or ``flax`` (an optax optimizer inside nnx.Optimizer)."""
    placement: Placement | None = None
    """For ``update``: how the API expresses a regularizer's ``scope`` and ``param`` (None: it cannot)."""
    weight_norm: WeightNorm | None = None
    """For a weight-normalization API: what it trains instead of w. Such an API runs for cases with a
    ``weight_norm`` key only, and those cases run nothing else."""
    special: Special | None = None
    """For an API that runs for one case key only (``mixed_precision``, ``sparse``), and the only APIs such cases
    run: the key and its optimizer classes."""
    decay_follows_lr: bool = True
    """For decoupled decay: whether the step's scheduled lr multiplies it (torch/Keras/paddle AdamW) or the
    optimizer's own lr number does (``Decay.unscaled``: TF add-ons' wrappers, ONNX's post-step decay)."""

    def optimizer_for(self, name: str, settings: dict[str, float | bool]) -> OptimizerCall | None:
        """The optimizer class this API uses for a case's optimizer, or None if it cannot express it."""
        return _first_call(self.optimizers, name, settings)

    def refused(self, name: str, settings: dict[str, float | bool]) -> tuple[OptimizerCall, str] | None:
        """The class of the case's rule that cannot express ``settings`` and why, if no class of it can."""
        chooser = self.special or self
        if chooser.optimizer_for(name, settings) is not None:
            return None
        return next(((c, c.refusal(settings)) for c in chooser.optimizers if c.family == rule_of(name)), None)

    @functools.cached_property
    def terms(self) -> frozenset[str]:
        return frozenset(p.term for p in self.params)

    def applies_to(self, reg: Regularizer) -> bool:
        """Whether this API can express ``reg`` (every nonzero canonical term has a native slot)."""
        # Asked for every API of every regularizer of every case while planning: no set is built here.
        terms = self.terms
        return (reg.l1 == 0.0 or "l1" in terms) and (reg.l2 == 0.0 or "l2" in terms)

    def to_native(self, reg: Regularizer) -> dict[str, float]:
        return {p.name: p.factor * reg.coefficient(p.term) for p in self.params}

    def to_canonical(self, native: dict[str, float]) -> Regularizer:
        """The canonical coefficients of a native call; missing arguments take the API's defaults."""
        unknown = set(native) - {p.name for p in self.params}
        if unknown:
            raise ValueError(f"{self.api} has no argument {sorted(unknown)[0]!r}; it takes {self.signature()}")
        coeff = {"l1": 0.0, "l2": 0.0}
        for p in self.params:
            coeff[p.term] += (native.get(p.name, p.default) or 0.0) / p.factor
        return Regularizer(**coeff)

    def signature(self) -> str:
        return "(" + ", ".join(f"{p.name}={p.default_text()}" for p in self.params) + ")"

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
    """The canonical key (``lr``, ``momentum``, ``beta1``, ...: the rule's settings in regcompare.rules)."""
    name: str
    """The API's argument; ``betas[0]`` is the first item of a tuple argument ``betas``."""
    default: float | bool


@dataclass(frozen=True)
class Variant:
    """One more way to run an optimizer class on the same case (torch's ``foreach``/``fused`` implementations,
    ``maximize``, ``amsgrad``, ...), each judged against the float64 reference on its own.

    ``native`` are the extra keyword arguments of the call; ``settings`` what the variant changes in the rule's
    canonical settings (``{"maximize": True}``: the oracle ascends); ``dtypes`` limits the dtypes it runs in
    (None: all), with ``why`` saying why where it is limited."""

    name: str
    native: tuple[tuple[str, float | bool | str], ...] = ()
    settings: tuple[tuple[str, float | bool], ...] = ()
    dtypes: tuple[str, ...] | None = None
    why: str = ""
    needs: tuple[tuple[str, bool], ...] = ()
    """Case settings the class needs for this variant, as (key, whether it is set): torch's ``nesterov`` needs a
    momentum and no dampening, ``(("momentum", True), ("dampening", False))``."""

    def runs_with(self, settings: dict[str, float | bool]) -> bool:
        """Whether the variant runs on a case with these settings: what it needs holds, and it changes something
        (``centered`` on a case that is centered already is the plain call again)."""
        needed = all(bool(settings.get(key)) == want for key, want in self.needs)
        return needed and (not self.settings or any(settings.get(k) != v for k, v in self.settings))


@dataclass(frozen=True)
class OptimizerCall:
    """A real optimizer class, as an ``update`` API runs it for ``steps`` steps."""

    api: str
    family: str
    """The update rule it implements (a module of ``regcompare.rules``: ``sgd``, ``adam``, ``rmsprop``, ...)."""
    hypers: tuple[Hyper, ...]
    fixed: tuple[tuple[str, float | bool], ...] = ()
    """Case keys this class has no argument for, with the only value it implements (Keras SGD: dampening 0)."""
    eps_on: EpsOn = "v_hat"
    options: tuple[tuple[str, float | bool | str], ...] = ()
    """The rule's options as this class implements them where they differ from the canonical rule (paddle RMSProp:
    ``(("eps_inside_sqrt", True),)``). The oracle runs the canonical rule for the reference and this class's own
    rule for its documented semantics: matching only the latter is ``divergent``, with ``why``."""
    why: str = ""
    """The documented difference of ``options``, with its source (file and function of the pinned framework)."""
    variants: tuple[Variant, ...] = ()
    """Ways to run the class besides the plain call; every ``update`` case runs them all unless it narrows them."""
    not_run: str = ""
    """Why regcompare never calls this class ('' if it does): a call whose outcome is undefined (it reads
    uninitialized memory) gives a different verdict each run, so it becomes a ``skipped`` row with this reason."""
    nearest: tuple[tuple[str, str], ...] = ()
    """For ``translate``, where ``options`` make an exact translation impossible: canonical keys carried over
    transformed for the nearest setting, ``(("eps", "square"),)`` (regcompare.translate.NEAREST names them)."""

    def rule_options(self, own: bool) -> dict[str, float | bool | str]:
        """The rule's options for the oracle: Adam's ε placement always (the case's ε is each API's own ε, a
        mapping rather than a divergence: they differ by ε·(1−√(1−β₂ᵗ)) at most), this class's documented
        ``options`` only for its own semantics (``own``)."""
        base: dict[str, float | bool | str] = {"eps_on": self.eps_on} if self.family == "adam" else {}
        return base | (dict(self.options) if own else {})

    def refusal(self, settings: dict[str, float | bool]) -> str:
        """Why this class cannot express ``settings`` ('' if it can)."""
        if self.not_run:
            return self.not_run
        for key, value in self.fixed:
            if settings.get(key, value) != value:
                return f"{self.api} has no argument for {key}; it implements {key}={_fmt(value)} only"
        return ""

    def expresses(self, settings: dict[str, float | bool]) -> bool:
        return not self.not_run and all(settings.get(key, value) == value for key, value in self.fixed)

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
            if name == "scope_by":
                continue  # a placement variant's mechanism (Placement.variants), not an argument of the class
            base = name.split("[")[0]
            parts.setdefault(base, []).append(_code(value))
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
        return _first_call(self.optimizers, name, settings)


@dataclass(frozen=True)
class Special:
    """An ``update`` API that runs for cases with one key only (``mixed_precision``: loss scaling and master
    weights; ``sparse``: embedding tables), and such cases run nothing else: its model of training differs.

    Its optimizers are kept here, not in ``Convention.optimizers``, so that ``translate`` never offers it for a plain
    setting (as ``WeightNorm``)."""

    key: str
    optimizers: tuple[OptimizerCall, ...]

    def optimizer_for(self, name: str, settings: dict[str, float | bool]) -> OptimizerCall | None:
        return _first_call(self.optimizers, name, settings)


def _first_call(
    calls: tuple[OptimizerCall, ...], name: str, settings: dict[str, float | bool]
) -> OptimizerCall | None:
    rule = rule_of(name)
    return next((c for c in calls if c.family == rule and c.expresses(settings)), None)


def rule_of(name: str) -> str:
    """The update rule of a case's ``optimizer.name``: ``adamw`` is Adam plus decoupled decay, which belongs to
    the API (torch.optim.AdamW), not to the case; every other name is its own rule (regcompare.rules)."""
    return "adam" if name == "adamw" else name


def weight_norm_tensors(weight: str) -> tuple[str, str, str]:
    """The row tensors of one weight-normalized weight, as adapters name their values: g, v and the resulting w."""
    return f"{weight}.g", f"{weight}.v", weight


def weight_norm_g_shape(shape: tuple[int, ...], dim: int | None) -> tuple[int, ...]:
    """g as rows show it, with kept dims: one norm per slice along ``dim`` (all 1s but ``dim``), or one in all
    (dim=None). Frameworks store it otherwise (torch: 0-d for None; paddle dygraph: squeezed), same values."""
    return tuple(size if dim is not None and axis == dim else 1 for axis, size in enumerate(shape))


def _fmt(value: float | bool | str) -> str:
    return str(value) if isinstance(value, bool | str) else f"{value:g}"


def _code(value: float | bool) -> str:
    """As Python source: a float stays a float (``0.0``, not ``0``: keras.optimizers.SGD refuses ``momentum=0``,
    found by running ``regcompare translate``'s own output as a program case)."""
    text = _fmt(value)
    return text if isinstance(value, bool) or any(c in text for c in ".einf") else f"{text}.0"


def arg(name: str, term: Term, factor: float = 1.0, default: float | None = 0.0) -> Param:
    return Param(name, term, factor, default)


def hyper(key: str, name: str, default: float | bool) -> Hyper:
    return Hyper(key, name, default)


def adam_hypers(lr: str, b1: str, b2: str, eps: str, eps_default: float) -> tuple[Hyper, ...]:
    return (hyper("lr", lr, 1e-3), hyper("beta1", b1, 0.9), hyper("beta2", b2, 0.999), hyper("eps", eps, eps_default))


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


PENALTY_OUTSIDE = Variant(
    "penalty_outside", native=(("penalty_outside", True),), settings=(("penalty_outside", True),),
    why="the penalty added after the loss was scaled")
"""A mixed-precision API's other placement of the penalty (regcompare.mixed_precision)."""


def amp_calls(*calls: OptimizerCall) -> tuple[OptimizerCall, ...]:
    """Optimizer classes as a mixed-precision API runs them: the penalty inside the scaled loss, and outside it."""
    return tuple(OptimizerCall(c.api, c.family, c.hypers, c.fixed, c.eps_on, c.options, c.why, (PENALTY_OUTSIDE,))
                 for c in calls)
