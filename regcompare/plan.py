"""Planning: a case → items, one per (framework, API, native arguments, quantity, dtype, variant).

Planning reads the registry only (regcompare.conventions); what each item needs besides its weights (the
per-step gradients, the training data) is made here too, once per case and dtype.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from regcompare import adapters, schedules, trajectory
from regcompare.cases import DEFAULT_MAX_ELEMENTS, Case, materialize
from regcompare.conventions import Convention, OptimizerCall, Placed, Regularizer, Variant
from regcompare.dtypes import cast


@dataclass
class Item:
    case: Case
    conv: Convention
    quantity: str
    dtype: str
    regularizer: Regularizer
    native: dict[str, float]
    expected: Any = None
    skip: str = ""
    optimizer: OptimizerCall | None = None
    """For ``update``: the optimizer class the API runs with (chosen from the case's ``optimizer``)."""
    placed: Placed | None = None
    """For an entry with ``scope`` or ``param``: where its regularizers are placed."""
    param_api: Convention | None = None
    """The record that puts ``placed.param`` on the parameters (a paddle ParamAttr, a Keras kernel_regularizer)."""
    variant: Variant | None = None
    """For ``update``: how the optimizer class is run besides the plain call (torch ``fused``, ``maximize``, ...)."""

    @property
    def framework(self) -> str:
        return self.conv.framework

    @property
    def api(self) -> str:
        return self.conv.api

    def label(self) -> str:
        return label(self.framework, self.api, self.native, self.quantity, self.dtype,
                     placement=placement_text(self.scope(), self.param()) + variant_text(self.variant_name()))

    def variant_name(self) -> str | None:
        return None if self.variant is None else self.variant.name

    def settings(self) -> dict[str, float | bool]:
        """The rule's canonical settings for the oracle: the case's, with what the variant changes."""
        return settings_of(self.case) | dict(self.variant.settings if self.variant else ())

    def call_args(self) -> dict[str, Any]:
        """The optimizer class's arguments: every hyper-parameter explicitly, then the variant's keywords."""
        assert self.optimizer is not None
        return self.optimizer.native(settings_of(self.case)) | dict(self.variant.native if self.variant else ())

    def scope(self) -> list[str] | None:
        return None if self.placed is None or self.placed.scope is None else list(self.placed.scope)

    def param(self) -> dict[str, Any] | None:
        """The regularizer placed on the parameters, as rows show it: its API, native arguments and scope."""
        if self.placed is None or self.placed.param is None or self.param_api is None:
            return None
        scope = self.placed.param_scope
        return {"api": self.param_api.api, "native": self.param_api.to_native(self.placed.param),
                "scope": None if scope is None else list(scope)}


def placement_text(scope: list[str] | None, param: dict[str, Any] | None) -> str:
    """``[w]+paddle.ParamAttr.L2Decay(coeff=0.5)[w]``: the optimizer's scope, then the parameter's regularizer."""
    text = "" if scope is None else f"[{','.join(scope)}]"
    if param is not None:
        args = ",".join(f"{k}={v:g}" for k, v in param["native"].items())
        where = "" if param["scope"] is None else f"[{','.join(param['scope'])}]"
        text += f"+{param['api']}({args}){where}"
    return text


def label(
    framework: str, api: str, native: dict[str, float], quantity: str, dtype: str, tensor: str | None = None,
    placement: str = "",
) -> str:
    """Readable and unique within a case, e.g. ``tensorflow-keras.regularizers.L2(l2=0.5)-penalty-float32``."""
    args = ",".join(f"{k}={v:g}" for k, v in native.items())
    return f"{framework}-{api}({args}){placement}-{quantity}-{dtype}" + (f"-{tensor}" if tensor else "")


def variant_text(name: str | None) -> str:
    return "" if name is None else f"<{name}>"


def row_label(row: dict[str, Any]) -> str:
    placement = placement_text(row.get("scope"), row.get("param")) + variant_text(row.get("variant"))
    return label(row["framework"], row["api"], row["native"], row["quantity"], row["dtype"], row.get("tensor"),
                 placement)


# --- planning -----------------------------------------------------------------------------------------


def _native_key(conv: Convention, native: dict[str, float]) -> str:
    filled = {p.name: native.get(p.name, p.default) for p in conv.params}
    return json.dumps(filled, sort_keys=True)


def settings_of(case: Case) -> dict[str, float | bool]:
    """The case's optimizer hyper-parameters by their canonical keys (``lr``, ``momentum``, ...)."""
    opt = case.spec.optimizer
    return {} if opt is None else opt.model_dump(exclude={"name", "variants"})


def variants_for(case: Case, call: OptimizerCall | None, dtype: str) -> list[Variant | None]:
    """The plain call (None) and every variant of ``call`` that runs in ``dtype``, narrowed by the case's
    ``optimizer.variants`` (``default`` names the plain call)."""
    if call is None:
        return [None]
    chosen = getattr(case.spec.optimizer, "variants", None)
    settings = settings_of(case)
    every: list[Variant | None] = [None, *(v for v in call.variants
                                           if (v.dtypes is None or dtype in v.dtypes) and v.runs_with(settings))]
    if chosen is None:
        return every
    return [v for v in every if (v.name if v else "default") in chosen]


def _optimizer_for(case: Case, conv: Convention, quantity: str) -> tuple[bool, OptimizerCall | None]:
    """Whether ``conv`` can give ``quantity`` for this case, and for ``update`` the optimizer it runs with."""
    if quantity != "update":
        return True, None
    opt = case.spec.optimizer
    chooser = conv.weight_norm or conv.special or conv
    call = None if opt is None else chooser.optimizer_for(opt.name, settings_of(case))
    return call is not None, call


def _runs_here(conv: Convention, case: Case, case_special: str) -> bool:
    """A weight-normalization API runs for ``weight_norm`` cases only, and such cases run nothing else: its
    decay is on g and v, a different model from the same decay on w. ``case_special``: ``special_key(case)``."""
    special = "" if conv.special is None else conv.special.key
    return (conv.weight_norm is None) == (case.spec.weight_norm is None) and special == case_special


def special_key(case: Case) -> str:
    """The case key whose APIs alone run for it (``Convention.special``): ``mixed_precision``, ``sparse`` or ''."""
    return next((key for key in ("mixed_precision", "sparse") if getattr(case.spec, key, None)), "")


def plan_case(case: Case, frameworks: tuple[str, ...]) -> list[Item]:
    """Every item of a case: each regularizer through each API that can express it, then ``expect``."""
    if case.spec.programs is not None:  # the user's own code per framework (regcompare.programs)
        from regcompare import programs

        return programs.plan_case(case, frameworks)  # type: ignore[return-value]
    spec = case.spec
    registry = adapters.conventions()
    case_special = special_key(case)
    runnable = [c for c in registry.values()
                if c.executed and c.framework in frameworks and _runs_here(c, case, case_special)]
    excluded = set(frameworks) - set(spec.frameworks or frameworks)
    items: dict[tuple[str, str, str, str], Item] = {}
    for dtype in spec.dtypes:
        for reg_spec in spec.regularizers:
            reg = Regularizer(reg_spec.l1, reg_spec.l2)
            placed = placed_of(reg_spec)
            if not placed.plain:
                for item in _plan_placed(case, runnable, placed, dtype):
                    items.setdefault((item.api, "update", dtype, item.label()), item)
                continue
            for conv in runnable:
                if not conv.applies_to(reg):
                    continue
                native = conv.to_native(reg)
                for quantity in (q for q in spec.quantities if q in conv.quantities):
                    able, call = _optimizer_for(case, conv, quantity)
                    if not able:
                        refused = _refused(case, conv, quantity, dtype, reg, native)
                        if refused is not None:
                            items.setdefault((conv.api, quantity, dtype, "refused"), refused)
                        continue
                    for variant in variants_for(case, call, dtype):
                        key = (conv.api, quantity, dtype, _native_key(conv, native) + variant_text(
                            variant and variant.name))
                        items.setdefault(key, Item(case, conv, quantity, dtype, reg, native, optimizer=call,
                                                   variant=variant))
        for exp in spec.expect:
            conv = registry[exp.api]
            if exp.dtype not in (None, dtype) or conv.framework not in frameworks:
                continue
            quantity = exp.quantity or conv.measures
            able, call = _optimizer_for(case, conv, quantity)
            if not able:
                continue
            key = (conv.api, quantity, dtype, _native_key(conv, exp.native))
            golden = Item(case, conv, quantity, dtype, conv.to_canonical(exp.native), dict(exp.native), optimizer=call)
            item = items.setdefault(key, golden)
            item.expected = exp.raw
    for item in items.values():
        if item.framework in excluded:
            item.skip = "excluded by the case's `frameworks`"
        elif not item.skip:
            item.skip = _schedule_skip(item)
    return list(items.values())


def _schedule_skip(item: Item) -> str:
    """Why an ``update`` item cannot run the case's schedule ('' if it can): no scheduler class in its framework,
    or a weight-decay schedule (``schedule.weight_decay``) that the API has no place for."""
    schedule = settings_of(item.case).get("schedule")
    if item.quantity != "update" or schedule is None:
        return ""
    if schedules.scheduler(item.framework, schedule) is None:
        return f"not run: {item.framework} has no scheduler class for a {schedule['name']} schedule"
    if schedule.get("weight_decay"):
        why = schedules.weight_decay_schedule_refusal(item.framework, item.conv.role, item.conv.coupling)
        return f"not run: {why}" if why else ""
    return ""


def _refused(
    case: Case, conv: Convention, quantity: str, dtype: str, reg: Regularizer, native: dict[str, float]
) -> Item | None:
    """A ``skipped`` item saying why an API whose rule the case runs cannot express the case's settings
    (Keras SGD has no ``dampening``); None if the API has no class for the rule at all."""
    opt = case.spec.optimizer
    if quantity != "update" or opt is None or conv.weight_norm is not None:
        return None
    refused = conv.refused(opt.name, settings_of(case))
    if refused is None:
        return None
    call, why = refused
    return Item(case, conv, quantity, dtype, reg, native, skip=f"not run: {why}", optimizer=call)


def placed_of(spec: Any) -> Placed:
    """A schema ``RegularizerSpec`` as the registry's ``Placed``."""
    param = spec.param
    return Placed(
        Regularizer(spec.l1, spec.l2),
        None if spec.scope is None else tuple(spec.scope),
        None if param is None else Regularizer(param.l1, param.l2),
        None if param is None or param.scope is None else tuple(param.scope),
    )


def _param_api(conv: Convention, placed: Placed) -> tuple[bool, Convention | None]:
    """Whether ``conv`` can place ``placed.param`` on parameters, and the record it does it with."""
    if placed.param is None:
        return True, None
    registry = adapters.conventions()
    apis = conv.placement.param_apis if conv.placement else ()
    found = next((registry[a] for a in apis if a in registry and registry[a].applies_to(placed.param)), None)
    return found is not None, found


def _plan_placed(case: Case, runnable: list[Convention], placed: Placed, dtype: str) -> list[Item]:
    """An entry with ``scope`` or ``param``: ``update`` only, through every API that can place it."""
    if "update" not in case.spec.quantities:
        return []
    out = []
    for conv in runnable:
        if conv.placement is None or "update" not in conv.quantities or not conv.applies_to(placed.reg):
            continue
        able, call = _optimizer_for(case, conv, "update")
        placeable, param_api = _param_api(conv, placed)
        if able and placeable:
            # With a scope, every other mechanism the API has for it runs too (Keras var_names, ...).
            ways = (None, *conv.placement.variants) if placed.scope is not None else (None,)
            chosen = getattr(case.spec.optimizer, "variants", None)
            out += [Item(case, conv, "update", dtype, placed.reg, conv.to_native(placed.reg), optimizer=call,
                         placed=placed, param_api=param_api, variant=way)
                    for way in ways if chosen is None or (way.name if way else "default") in chosen]
    return out


def grads_of(case: Case, dtype: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The per-step loss gradients for ``update``, rounded to the dtype and widened back; absent tensors get 0."""
    rounded = {}
    for name, w in case.weights.items():
        spec = (case.spec.grads or {}).get(name, "zeros")
        if spec in ("ones", "zeros"):
            array = np.full(w.shape, 1.0 if spec == "ones" else 0.0)
        else:
            array, problems = materialize(spec, ("grads", name), DEFAULT_MAX_ELEMENTS)
            if array is None or problems:
                raise ValueError(f"grads.{name}: {problems[0][1] if problems else 'cannot build'}")
        if array.shape != w.shape:
            raise ValueError(f"grads.{name} has shape {list(array.shape)}, the weight {list(w.shape)}")
        rounded[name] = cast(array, dtype)
    return rounded, {n: g.astype(np.float64) for n, g in rounded.items()}


# --- what items of a case share ------------------------------------------------------------------------


def shared(case: Case, key: Any, make: Callable[[], Any]) -> Any:
    """A value every item of a case with the same ``key`` needs (an oracle run, a training set): made once."""
    if key not in case.references:
        case.references[key] = make()
    return case.references[key]


def trajectory_data(item: Item) -> trajectory.Data:
    return shared(item.case, ("trajectory data", item.dtype), lambda: trajectory.data_of(item.case, item.dtype))


def trajectory_options(item: Item) -> dict[str, Any]:
    """A trajectory task's data, minibatch order, batch and lr in the item's dtype (``w``, ``b`` are its weights)."""
    return trajectory_data(item).options()


def update_options(item: Item) -> dict[str, Any]:
    """What an ``update`` task needs besides the decay arguments: the optimizer, its arguments, grads, steps."""
    if item.quantity != "update" or item.optimizer is None:
        return {}
    try:
        grads = grads_of(item.case, item.dtype)[0]
    except ValueError:
        grads = {}  # judged as an error row; the adapter then fails on the missing gradient too
    call = item.optimizer
    options = {"optimizer": call.api, "args": item.call_args(), "grads": grads,
               "steps": item.case.spec.steps}
    # Placement, for adapters: ``scope`` limits the API's own decay; ``param`` is put on the parameters.
    if item.scope() is not None:
        options["scope"] = item.scope()
    if item.param() is not None:
        options["param"] = item.param()
    if item.case.spec.mixed_precision is not None:
        options["mixed_precision"] = item.case.spec.mixed_precision.model_dump()
    if item.case.spec.sparse:
        options["sparse"] = list(item.case.spec.sparse)
    schedule = settings_of(item.case).get("schedule")
    if schedule is not None:
        # Adapters build their framework's scheduler class from it (regcompare.schedules) and step it.
        options["schedule"] = schedule
    if item.case.spec.weight_norm is not None:
        # Adapters reparameterize every weight as w = g·v/‖v‖ along ``dim`` and return g, v and w.
        options["weight_norm"] = item.case.spec.weight_norm.model_dump()
    return options
