"""The case file schema (docs/case-format.md) as strict pydantic models: unknown keys are errors."""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model, model_validator

from regcompare import rules
from regcompare.conventions import Quantity
from regcompare.dtypes import DtypeName

Coefficient = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
Size = Annotated[int, Field(ge=0)]
#: numpy's ``default_rng`` takes any non-negative integer; 64 bits is plenty and keeps results.json portable.
Seed = Annotated[int, Field(ge=0, le=2**64 - 1)]


class Strict(BaseModel):
    # strict: a quoted "0.5" is a string, not a coefficient; ints still pass as floats.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ParamRegularizerSpec(Strict):
    """A regularizer placed on the parameters themselves (paddle ``ParamAttr``, a Keras ``kernel_regularizer``)."""

    l1: Coefficient = 0.0
    l2: Coefficient = 0.0
    scope: list[str] | None = None
    """The tensors it is placed on; default every tensor."""


class RegularizerSpec(Strict):
    """Canonical coefficients. With ``scope`` or ``param`` the entry is about placement and runs for ``update``
    only: ``l1``/``l2`` are then the optimizer's own decay on the tensors of ``scope`` (default all), and
    ``param`` a regularizer on some parameters next to it. Canonically both apply, added up."""

    l1: Coefficient = 0.0
    l2: Coefficient = 0.0
    scope: list[str] | None = None
    param: ParamRegularizerSpec | None = None


class ConstantSpec(Strict):
    shape: list[Size]
    fill: float


class GeneratedSpec(Strict):
    """``numpy.random.default_rng(seed).normal(0, scale, shape)`` or ``.uniform(-scale, scale, shape)``."""

    shape: list[Size]
    init: Literal["normal", "uniform"]
    seed: Seed = 0
    scale: Positive = 1.0


class FileSpec(Strict):
    """A tensor saved with numpy: ``{file: w.npy}`` or ``{file: model.npz, key: w}``, relative to the case's folder.

    An ``.npz`` archive without ``key`` gives the array named like the weight, or its only array."""

    file: str
    key: str | None = None


def _weight_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "numpy file" if "file" in value else "generated" if "init" in value else "constant"
    return "inline"


#: Inline values are checked (rectangular, numeric) by ``tensors.inline``, which knows their lines.
WeightSpec = Annotated[
    Annotated[list[Any], Tag("inline")] | Annotated[ConstantSpec, Tag("constant")]
    | Annotated[GeneratedSpec, Tag("generated")] | Annotated[FileSpec, Tag("numpy file")],
    Discriminator(_weight_kind),
]
GradSpec = Literal["ones", "zeros"] | WeightSpec


class ToleranceSpec(Strict):
    rtol: Coefficient | None = None
    atol: Coefficient | None = None


Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Real = Annotated[float, Field(allow_inf_nan=False)]
_KINDS: dict[str, Any] = {"positive": Positive, "nonnegative": Coefficient, "fraction": Fraction, "unit": Unit,
                          "bool": bool, "count": Size, "real": Real}


def _setting_type(setting: rules.Setting) -> Any:
    return Literal[setting.choices] if setting.kind == "choice" else _KINDS[setting.kind]


Steps = Annotated[int, Field(ge=1)]


class _Schedule(Strict):
    weight_decay: bool = False
    """The decay coefficient follows the schedule too (wd·lr(k)/lr₀, as TF add-ons advise for decoupled decay):
    run where an API takes a weight-decay schedule (Keras: a callable ``weight_decay``)."""


class StepSchedule(_Schedule):
    """lr·γ^⌊k/step_size⌋ (torch StepLR, paddle StepDecay, Keras ExponentialDecay(staircase=True))."""

    name: Literal["step"]
    step_size: Steps
    gamma: Positive


class ExponentialSchedule(_Schedule):
    """lr·γ^k (torch ExponentialLR, paddle ExponentialDecay, Keras ExponentialDecay(decay_steps=1))."""

    name: Literal["exponential"]
    gamma: Positive


class CosineSchedule(_Schedule):
    """η_min + (lr − η_min)(1 + cos(πk/t_max))/2 (torch CosineAnnealingLR, paddle CosineAnnealingDecay, Keras
    CosineDecay); steps past t_max differ between frameworks, so a case keeps ``steps`` ≤ t_max + 1."""

    name: Literal["cosine"]
    t_max: Steps
    eta_min: Coefficient = 0.0


class PiecewiseSchedule(_Schedule):
    """values[i] after the i-th boundary (the optimizer's ``lr`` is not used): paddle PiecewiseDecay, Keras
    PiecewiseConstantDecay, torch LambdaLR."""

    name: Literal["piecewise"]
    boundaries: Annotated[list[Steps], Field(min_length=1)]
    values: Annotated[list[Positive], Field(min_length=2)]

    @model_validator(mode="after")
    def _one_more_value(self) -> PiecewiseSchedule:
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(f"values needs one more entry than boundaries ({len(self.boundaries) + 1}), "
                             f"has {len(self.values)}")
        if any(a >= b for a, b in itertools.pairwise(self.boundaries)):
            raise ValueError("boundaries must increase")
        return self


class WarmupSchedule(_Schedule):
    """Linear warm-up from start_factor·lr to lr over warmup_steps, then lr (torch LinearLR, paddle LinearWarmup,
    Keras PolynomialDecay(power=1) rising)."""

    name: Literal["warmup"]
    warmup_steps: Steps
    start_factor: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.1


ScheduleSpec = Annotated[
    StepSchedule | ExponentialSchedule | CosineSchedule | PiecewiseSchedule | WarmupSchedule,
    Field(discriminator="name"),
]
"""``optimizer.schedule``: the learning rate of each step (regcompare.rules.schedule_lr)."""
SCHEDULE_MODELS = (StepSchedule, ExponentialSchedule, CosineSchedule, PiecewiseSchedule, WarmupSchedule)


def _optimizer_model(name: str) -> type[Strict]:
    """The ``optimizer`` mapping of one rule: ``name``, the rule's canonical hyper-parameters (regcompare.rules),
    and ``variants`` (default: every variant of every API; ``default`` names the plain call)."""
    fields: dict[str, Any] = {"name": (Literal[name], ...)}
    fields |= {s.key: (_setting_type(s), s.default) for s in rules.settings_of(name)}
    fields["variants"] = (list[str] | None, None)
    fields["schedule"] = (ScheduleSpec | None, None)
    return create_model(f"Optimizer_{name}", __base__=Strict, **fields)


OPTIMIZER_MODELS: dict[str, type[Strict]] = {name: _optimizer_model(name) for name in rules.NAMES}
OptimizerSpec = Annotated[
    Union[tuple(Annotated[model, Tag(name)] for name, model in OPTIMIZER_MODELS.items())],  # noqa: UP007
    Field(discriminator="name"),
]
"""``optimizer``: one of ``rules.NAMES`` with that rule's keys."""


class WeightNormSpec(Strict):
    """Weight normalization: every weight is reparameterized as w = g·v/‖v‖ and the regularizers act on g and v.

    ``dim`` keeps one norm per slice along that axis (0: one per row); ``null`` is one norm of the whole tensor.
    Required, because the frameworks' defaults differ (torch and ``paddle.nn.utils.weight_norm``: 0;
    ``paddle.static.WeightNormParamAttr``: None)."""

    dim: Annotated[int, Field(ge=0)] | None


class MixedPrecisionSpec(Strict):
    """Mixed precision: the case's ``dtypes`` are the model's low precision; parameters keep float32 master weights,
    the loss is multiplied by ``loss_scale`` before backward and the gradients divided by it before the step
    (torch.amp.GradScaler, Keras LossScaleOptimizer, paddle.amp.GradScaler)."""

    loss_scale: Positive


class ExpectSpec(Strict):
    """A golden raw value, in the API's own terms (``native: {}`` calls it with its defaults)."""

    api: str
    native: dict[str, Coefficient] = {}
    raw: float | list[Any]
    quantity: Quantity | None = None
    """Default: what the API natively measures."""
    dtype: DtypeName | None = None
    """Default: every dtype of the case."""


class TrajectorySpec(Strict):
    """The ``trajectory`` run (d2l's weight-decay experiment); the defaults are d2l's. Data and minibatch order come
    from ``numpy.random.default_rng(seed)``: train set, test set, then one permutation per epoch
    (regcompare.trajectory)."""

    train: Annotated[int, Field(ge=1, le=100_000)] = 20
    test: Annotated[int, Field(ge=1, le=100_000)] = 100
    true_w: Annotated[float, Field(allow_inf_nan=False)] = 0.01
    """Every element of the true weight."""
    true_b: Annotated[float, Field(allow_inf_nan=False)] = 0.05
    noise: Coefficient = 0.01
    """Standard deviation of the label noise."""
    seed: Seed = 0
    batch: Annotated[int, Field(ge=1)] = 5
    epochs: Annotated[int, Field(ge=1, le=10_000)] = 100
    lr: Positive = 0.003
    shuffle: bool = True
    """A new (seeded) order of the train examples every epoch, as d2l's DataLoader; false: always in order."""


class KnownSpec(Strict):
    """A finding the case expects: the rows it selects have ``status``, for ``reason``.

    Known rows keep their status but do not fail the run; an entry whose rows no longer have that
    status (the finding went away) does fail it, so the list never silently goes stale.
    """

    status: Literal["mismatch", "unsupported", "error"]
    reason: str
    framework: str | None = None
    api: str | None = None
    quantity: Quantity | None = None
    dtype: DtypeName | None = None
    tensor: str | None = None
    variant: str | None = None
    """For ``update``: the optimizer variant (``fused``, ...); ``default`` is the plain call."""
    against: str | None = None
    """For a program case: the other side of a pair row (``torch``, ``oracle``; regcompare.programs)."""

    def selects(self, row: dict[str, Any]) -> bool:
        variant = None if self.variant is None else (row.get("variant") or "default")
        return variant == self.variant and all(
            want is None or row.get(key) == want
            for key, want in (("framework", self.framework), ("api", self.api), ("quantity", self.quantity),
                              ("dtype", self.dtype), ("tensor", self.tensor), ("against", self.against))
        )


class CaseSpec(Strict):
    name: str | None = None
    description: str = ""
    tags: list[str] = []
    weights: dict[str, WeightSpec]
    dtypes: list[DtypeName] = ["float32"]
    regularizers: list[RegularizerSpec] = []
    quantities: list[Quantity] = ["penalty", "gradient"]
    frameworks: list[str] | None = None
    optimizer: OptimizerSpec | None = None
    grads: dict[str, GradSpec] | None = None
    steps: Annotated[int, Field(ge=1, le=10_000)] = 1
    weight_norm: WeightNormSpec | None = None
    """For ``update``: run the weight-normalization APIs (and only them) on g and v instead of w."""
    tolerance: dict[DtypeName, ToleranceSpec] = {}
    expect: list[ExpectSpec] = []
    known: list[KnownSpec] = []
    trajectory: TrajectorySpec | None = None
    """For ``trajectory``: the data, minibatches and SGD settings of the run (``weights`` are w and b at the start)."""
    sparse: list[str] | None = None
    """For ``update``: these weights (2-D) are embedding tables looked up at the rows their ``grads`` touch; rows whose
    gradient is all zero are absent from the (sparse) gradient. Runs the sparse-gradient APIs, and only them."""
    mixed_precision: MixedPrecisionSpec | None = None
    """For ``update``: run the mixed-precision APIs (and only them): low-precision model, float32 master weights,
    loss scaling, the regularizer inside and outside the scaled loss."""
    programs: dict[str, str] | None = None
    """Per framework, the user's own code building ``opt`` from ``params`` (docs/programs.md); such a case runs its
    programs and compares them pairwise (and with the oracle when ``optimizer`` and ``regularizers`` are given)."""
    translate: list[Literal["paconvert", "regcompare"]] = []
    """Translators whose version of ``programs.torch`` is run too, each compared with the torch program."""


#: Which models a mapping under each top-level key holds.
_NESTED: dict[str, tuple[type[BaseModel], ...]] = {
    "regularizers": (RegularizerSpec, ParamRegularizerSpec),
    "weights": (ConstantSpec, GeneratedSpec, FileSpec),
    "grads": (ConstantSpec, GeneratedSpec, FileSpec),
    "tolerance": (ToleranceSpec,),
    "trajectory": (TrajectorySpec,),
    "optimizer": (*OPTIMIZER_MODELS.values(), *SCHEDULE_MODELS),
    "expect": (ExpectSpec,),
    "known": (KnownSpec,),
    "weight_norm": (WeightNormSpec,),
    "mixed_precision": (MixedPrecisionSpec,),
}


def keys_allowed_at(path: tuple[str | int, ...]) -> set[str]:
    """The keys a mapping at ``path`` may have, for "did you mean" hints."""
    models = _NESTED.get(str(path[0]), (CaseSpec,)) if path else (CaseSpec,)
    return {name for model in models for name in model.model_fields}
