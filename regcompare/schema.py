"""The case file schema (DESIGN.md §3) as strict pydantic models: unknown keys are errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from regcompare.conventions import Quantity
from regcompare.dtypes import DtypeName

Coefficient = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)]
Size = Annotated[int, Field(ge=0)]


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
    seed: int = 0
    scale: Positive = 1.0


def _weight_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "generated" if "init" in value else "constant"
    return "inline"


#: Inline values are checked (rectangular, numeric) by ``tensors.inline``, which knows their lines.
WeightSpec = Annotated[
    Annotated[list[Any], Tag("inline")] | Annotated[ConstantSpec, Tag("constant")]
    | Annotated[GeneratedSpec, Tag("generated")],
    Discriminator(_weight_kind),
]
GradSpec = Literal["ones", "zeros"] | WeightSpec


class ToleranceSpec(Strict):
    rtol: Coefficient | None = None
    atol: Coefficient | None = None


class OptimizerSpec(Strict):
    name: Literal["sgd", "adam", "adamw"]
    lr: Positive = 0.1
    momentum: Fraction = 0.0
    dampening: Fraction = 0.0
    nesterov: bool = False
    beta1: Fraction = 0.9
    beta2: Fraction = 0.999
    eps: Positive = 1e-8


class ExpectSpec(Strict):
    """A golden raw value, in the API's own terms (``native: {}`` calls it with its defaults)."""

    api: str
    native: dict[str, Coefficient] = {}
    raw: float | list[Any]
    quantity: Quantity | None = None
    """Default: what the API natively measures."""
    dtype: DtypeName | None = None
    """Default: every dtype of the case."""


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

    def selects(self, row: dict[str, Any]) -> bool:
        return all(
            want is None or row.get(key) == want
            for key, want in (("framework", self.framework), ("api", self.api), ("quantity", self.quantity),
                              ("dtype", self.dtype), ("tensor", self.tensor))
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
    tolerance: dict[DtypeName, ToleranceSpec] = {}
    expect: list[ExpectSpec] = []
    known: list[KnownSpec] = []


#: Which models a mapping under each top-level key holds.
_NESTED: dict[str, tuple[type[BaseModel], ...]] = {
    "regularizers": (RegularizerSpec, ParamRegularizerSpec),
    "weights": (ConstantSpec, GeneratedSpec),
    "grads": (ConstantSpec, GeneratedSpec),
    "tolerance": (ToleranceSpec,),
    "optimizer": (OptimizerSpec,),
    "expect": (ExpectSpec,),
    "known": (KnownSpec,),
}


def keys_allowed_at(path: tuple[str | int, ...]) -> set[str]:
    """The keys a mapping at ``path`` may have, for "did you mean" hints."""
    models = _NESTED.get(str(path[0]), (CaseSpec,)) if path else (CaseSpec,)
    return {name for model in models for name in model.model_fields}
