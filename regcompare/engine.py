"""Cases → planned items → framework workers → judged rows. Shared by the CLI and the pytest plugin.

An *item* is one (case, framework, API, quantity, dtype, native arguments). Planning reads the
registry only; values come from the workers; the oracle and the comparison judge them; rows come
out in plan order, whatever order the frameworks finish in.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regcompare import adapters, conventions, oracle, trajectory
from regcompare.adapters.base import Task
from regcompare.cases import DEFAULT_MAX_ELEMENTS, Case, materialize
from regcompare.compare import Verdict, at_index, compare
from regcompare.conventions import (
    Convention,
    Decay,
    OptimizerCall,
    Placed,
    Regularizer,
    documented,
    weight_norm_tensors,
)
from regcompare.dtypes import DEFAULT_TOLERANCE, Tolerance, cast, tolerance_for
from regcompare.workers import FrameworkInfo, Job, Outcome, WorkerPool

STATUSES = ("match", "mismatch", "divergent", "unsupported", "skipped", "error")
#: Tensors larger than this are summarized in rows (shape, worst element) instead of listed.
MAX_LISTED_ELEMENTS = 4096


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

    @property
    def framework(self) -> str:
        return self.conv.framework

    @property
    def api(self) -> str:
        return self.conv.api

    def label(self) -> str:
        return label(self.framework, self.api, self.native, self.quantity, self.dtype,
                     placement=placement_text(self.scope(), self.param()))

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


def row_label(row: dict[str, Any]) -> str:
    placement = placement_text(row.get("scope"), row.get("param"))
    return label(row["framework"], row["api"], row["native"], row["quantity"], row["dtype"], row.get("tensor"),
                 placement)


# --- planning -----------------------------------------------------------------------------------------


def _native_key(conv: Convention, native: dict[str, float]) -> str:
    filled = {p.name: native.get(p.name, p.default) for p in conv.params}
    return json.dumps(filled, sort_keys=True)


def settings_of(case: Case) -> dict[str, float | bool]:
    """The case's optimizer hyper-parameters by their canonical keys (``lr``, ``momentum``, ...)."""
    opt = case.spec.optimizer
    return {} if opt is None else opt.model_dump(exclude={"name"})


def _optimizer_for(case: Case, conv: Convention, quantity: str) -> tuple[bool, OptimizerCall | None]:
    """Whether ``conv`` can give ``quantity`` for this case, and for ``update`` the optimizer it runs with."""
    if quantity != "update":
        return True, None
    opt = case.spec.optimizer
    chooser = conv if conv.weight_norm is None else conv.weight_norm
    call = None if opt is None else chooser.optimizer_for(opt.name, settings_of(case))
    return call is not None, call


def _runs_here(conv: Convention, case: Case) -> bool:
    """A weight-normalization API runs for ``weight_norm`` cases only, and such cases run nothing else: its
    decay is on g and v, a different model from the same decay on w."""
    return (conv.weight_norm is None) == (case.spec.weight_norm is None)


def plan_case(case: Case, frameworks: tuple[str, ...]) -> list[Item]:
    """Every item of a case: each regularizer through each API that can express it, then ``expect``."""
    spec = case.spec
    registry = adapters.conventions()
    runnable = [c for c in registry.values() if c.executed and c.framework in frameworks and _runs_here(c, case)]
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
                        continue
                    key = (conv.api, quantity, dtype, _native_key(conv, native))
                    items.setdefault(key, Item(case, conv, quantity, dtype, reg, native, optimizer=call))
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
    return list(items.values())


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
            out.append(Item(case, conv, "update", dtype, placed.reg, conv.to_native(placed.reg), optimizer=call,
                            placed=placed, param_api=param_api))
    return out


# --- judging --------------------------------------------------------------------------------------------


def tolerance(case: Case, dtype: str) -> tuple[Tolerance, str]:
    override = case.spec.tolerance.get(dtype)  # type: ignore[call-overload]
    return tolerance_for(dtype, DEFAULT_TOLERANCE[dtype], override, "default")


def _listed(value: np.ndarray | float | None) -> Any:
    """A value for JSON: a number or nested list; NaN and ±inf as the strings "NaN", "Infinity", "-Infinity"."""
    if value is None:
        return None
    if np.size(value) > MAX_LISTED_ELEMENTS:  # before any copy: a 10⁷-element result is summarized
        return None
    array = np.asarray(value).astype(np.float64)
    if np.isfinite(array).all():
        return array.tolist()

    def clean(x: Any) -> Any:
        if isinstance(x, list):
            return [clean(v) for v in x]
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        return x

    return clean(array.tolist())


def _summary(raw: np.ndarray | None, ref: np.ndarray, verdict: Verdict | None) -> dict[str, Any] | None:
    """For tensors too large to list: shape, and the worst element on each side."""
    if ref.size <= MAX_LISTED_ELEMENTS:
        return None
    out: dict[str, Any] = {"shape": list(ref.shape)}
    if verdict is not None and verdict.worst is not None:
        out["worst_index"] = list(verdict.worst)
        out["reference_at_worst"] = _listed(ref[verdict.worst])
        if raw is not None:
            out["raw_at_worst"] = _listed(raw[verdict.worst])
    return out


def _figure(x: float | None) -> Any:
    return None if x is None else _listed(x)


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


References = dict[str | None, np.ndarray]


@dataclass(frozen=True)
class Documented:
    """The update by the API's own documented semantics, where it differs from the canonical one."""

    reference: dict[str, np.ndarray]
    why: str
    """Why it differs (the precedence rule, decoupled decay); empty for the plain decoupled oracle."""


def references(item: Item, inputs: dict[str, np.ndarray]) -> tuple[References, Documented | None]:
    """The canonical reference per tensor (``None`` for a penalty), and for ``update`` the API's own semantics."""
    if item.quantity == "penalty":
        # Every framework's penalty item of a case shares one exact sum (10⁷ elements take a second).
        key = ("penalty", item.dtype, item.regularizer)
        value = shared(item.case, key, lambda: oracle.penalty(inputs, item.regularizer))
        return {None: np.asarray(value)}, None
    if item.quantity != "update":
        return dict(oracle.gradient(inputs, item.regularizer)), None
    call = item.optimizer
    assert call is not None, "update items are planned with their optimizer"
    grads = grads_of(item.case, item.dtype)[1]
    if item.case.spec.weight_norm is not None:
        return weight_norm_references(item, inputs, grads, call), None
    if item.placed is not None:
        return _placed_references(item, inputs, grads, call)
    args = (inputs, grads, item.regularizer, call.family, settings_of(item.case), item.case.spec.steps)
    coupled = oracle.update(*args, "coupled", call.eps_on)
    # An L1 term has no decoupled form: only the canonical (coupled) reference exists then.
    decoupled = None if item.regularizer.l1 else Documented(oracle.update(*args, "decoupled", call.eps_on), "")
    return dict(coupled), decoupled


def _placed_references(
    item: Item, inputs: dict[str, np.ndarray], grads: dict[str, np.ndarray], call: OptimizerCall
) -> tuple[References, Documented | None]:
    """Canonical: both regularizers apply, coupled, each on its scope. Documented: the registry's precedence."""
    placed = item.placed
    assert placed is not None
    canonical = {t: placed.canonical(t) for t in inputs}
    own = {t: documented(item.conv, placed, t) for t in inputs}
    decays = {t: decay for t, (decay, _) in own.items()}

    def run(per_tensor: dict[str, Decay]) -> dict[str, np.ndarray]:
        return oracle.update_decays(inputs, grads, per_tensor, call.family, settings_of(item.case),
                                    item.case.spec.steps, call.eps_on)

    reference: References = dict(run(canonical))
    if decays == canonical:
        return reference, None
    whys = [why for t, (decay, why) in own.items() if why and decay.coupled != canonical[t].coupled]
    if any(d.decoupled for d in decays.values()):
        whys.append(f"decoupled decay: {item.conv.formula}")
    return reference, Documented(run(decays), "; ".join(dict.fromkeys(whys)))


def weight_norm_references(
    item: Item, inputs: dict[str, np.ndarray], grads: dict[str, np.ndarray], call: OptimizerCall
) -> References:
    """g, v and w of each weight after the steps, the case's regularizer on g and v (coupled, canonical)."""
    spec = item.case.spec.weight_norm
    assert spec is not None
    out: References = {}
    for name, w0 in inputs.items():
        parts = oracle.weight_norm_update(w0, grads[name], item.regularizer, call.family, settings_of(item.case),
                                          item.case.spec.steps, spec.dim, call.eps_on)
        out |= dict(zip(weight_norm_tensors(name), (parts["g"], parts["v"], parts["w"]), strict=True))
    return out


def judge(item: Item, outcome: Outcome, inputs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The rows of one item: one for a penalty or a trajectory, one per tensor for a gradient or an update."""
    if item.quantity == "trajectory":
        return judge_trajectory(item, outcome)
    tol, tol_source = tolerance(item.case, item.dtype)
    try:
        reference, documented_ = references(item, inputs)
    except ValueError as exc:  # a case whose grads do not fit its weights
        reference, documented_ = dict(oracle.gradient(inputs, item.regularizer)), None
        outcome = Outcome("error", detail=str(exc))
    expected = item.expected
    rows = []
    for tensor, ref in reference.items():
        raw = None
        if outcome.status == "ok":
            raw = outcome.value if tensor is None else outcome.value.get(tensor)
            raw = None if raw is None else np.asarray(raw)  # in the API's dtype; compare widens per chunk
        exp = expected.get(tensor) if isinstance(expected, dict) and tensor is not None else expected
        alt = None if documented_ is None or tensor is None else documented_.reference[tensor]
        why = "" if documented_ is None else documented_.why
        status, detail, verdict = _status(item, outcome, raw, ref, exp, tol, tol_source, alt, why)
        row = {
            "case": item.case.name, "file": item.case.file, "line": item.case.line,
            "framework": item.framework, "api": item.api, "quantity": item.quantity, "dtype": item.dtype,
            "regularizer": item.regularizer.as_dict(), "native": dict(item.native), "tensor": tensor,
            # Reconciled is raw: coefficients were mapped to the API's own before the call.
            "raw": (listed := _listed(raw)), "reconciled": listed, "reference": _listed(ref),
            "expected": exp if exp is None else _listed(np.asarray(exp, np.float64)),
            "abs_err": _figure(verdict and verdict.abs_err), "rel_err": _figure(verdict and verdict.rel_err),
            "ulp": _figure(verdict and verdict.ulp),
            "tolerance": {"rtol": tol.rtol, "atol": tol.atol},
            "summary": _summary(raw, ref, verdict),
            "status": status, "detail": detail, "known": None,
        }
        if item.quantity == "update":
            row.update(_update_keys(item, alt))
        rows.append(row)
    return rows


def _update_keys(item: Item, decoupled: np.ndarray | None) -> dict[str, Any]:
    """Extra keys of an ``update`` row: the optimizer as called, the API's coupling, the decoupled oracle."""
    call = item.optimizer
    assert call is not None
    keys = {
        "optimizer": call.call_text(call.native(settings_of(item.case))),
        "steps": item.case.spec.steps,
        "coupling": item.conv.coupling,
        "decoupled_reference": _listed(decoupled) if item.placed is None else None,
    }
    if item.placed is not None:
        # The API's own semantics here is a precedence rule, not just decoupled decay.
        keys |= {"scope": item.scope(), "param": item.param(), "documented_reference": _listed(decoupled)}
    if item.case.spec.weight_norm is not None:
        keys["weight_norm"] = item.case.spec.weight_norm.model_dump()
    return keys


def _status(
    item: Item, outcome: Outcome, raw: np.ndarray | None, ref: np.ndarray, expected: Any,
    tol: Tolerance, tol_source: str, decoupled: np.ndarray | None = None, why: str = "",
    where: Callable[[tuple[int, ...]], str] = at_index,
) -> tuple[str, str, Verdict | None]:
    if item.skip:
        return "skipped", item.skip, None
    if outcome.status != "ok":
        return ("unsupported" if outcome.status == "unsupported" else outcome.status), outcome.detail, None
    if raw is None:
        return "error", "the adapter returned no value for this tensor", None
    verdict = compare(raw, ref, item.dtype, tol, tol_source, where)
    status, detail = ("match", verdict.detail) if verdict.ok else _semantics(item, raw, verdict, decoupled, tol,
                                                                           tol_source, why, where)
    if status == "mismatch":
        return status, detail, verdict
    if decoupled is not None and status == "match" and item.conv.coupling == "decoupled" and not why:
        # A documented divergence that vanished is news (a strict xfail): either the two semantics
        # agree for this optimizer (plain SGD), or the registry's record of the API is wrong.
        if not compare(raw, decoupled, item.dtype, tol, tol_source).ok:
            return "mismatch", (f"documented decoupled ({item.conv.formula}), but matches the coupled update where "
                                f"the two differ: the registry's record or the framework changed"), verdict
        detail += "; decoupled and coupled decay agree here (plain SGD: w − lr·λ·w − lr·g either way)"
    if expected is not None:
        golden = compare(raw, np.asarray(expected, np.float64), item.dtype, tol, tol_source)
        if not golden.ok:
            return "mismatch", f"against the case's expected raw value: {golden.detail}", verdict
        return status, f"{detail}; matches the expected raw value", verdict
    return status, detail, verdict


def _semantics(
    item: Item, raw: np.ndarray, coupled: Verdict, decoupled: np.ndarray | None, tol: Tolerance, tol_source: str,
    why: str = "", where: Callable[[tuple[int, ...]], str] = at_index,
) -> tuple[str, str]:
    """Outside the canonical reference: ``divergent`` if the API is documented decoupled (or, for a placed
    regularizer, documented with another precedence: ``why``) and matches that."""
    if decoupled is None:
        return "mismatch", coupled.detail
    verdict = compare(raw, decoupled, item.dtype, tol, tol_source, where)
    own = "its documented precedence" if why else "the decoupled update"
    if not verdict.ok:
        return "mismatch", f"{coupled.detail}; nor {own}: {verdict.detail}"
    canonical = coupled.detail.split(";")[0]
    if why:
        return "divergent", (f"{why}; matches that ({verdict.detail}), not the canonical sum of both regularizers,"
                             f" coupled ({canonical})")
    if item.conv.coupling == "decoupled":
        return "divergent", (f"decoupled decay: {item.conv.formula}; matches the decoupled oracle ({verdict.detail}),"
                             f" not the canonical coupled L2 ({coupled.detail.split(';')[0]})")
    return "mismatch", f"documented {item.conv.coupling}, but matches the decoupled update w ← w − lr·λ·w instead"


# --- trajectory ---------------------------------------------------------------------------------------


def shared(case: Case, key: Any, make: Callable[[], Any]) -> Any:
    """A value every item of a case with the same ``key`` needs (an oracle run, a training set): made once."""
    if key not in case.references:
        case.references[key] = make()
    return case.references[key]


def _trajectory_data(item: Item) -> trajectory.Data:
    return shared(item.case, ("trajectory data", item.dtype), lambda: trajectory.data_of(item.case, item.dtype))


def _trajectory_oracle(item: Item, semantics: trajectory.Semantics) -> trajectory.Curves:
    """The float64 run for this item's dtype and λ: one per case, shared by every framework's API."""
    lam = item.regularizer.l2
    key = ("trajectory oracle", item.dtype, lam, semantics)
    return shared(item.case, key, lambda: trajectory.oracle(_trajectory_data(item), lam, semantics))


def trajectory_options(item: Item) -> dict[str, Any]:
    """A trajectory task's data, minibatch order, batch and lr in the item's dtype (``w``, ``b`` are its weights)."""
    return _trajectory_data(item).options()


def judge_trajectory(item: Item, outcome: Outcome) -> list[dict[str, Any]]:
    """One row per run. ``raw``/``reference`` are the final ‖w‖; ``abs_err``/``rel_err``/``ulp`` and the status are
    the worst over the per-epoch train and test losses and the final ‖w‖, against the float64 oracle run on the
    same rounded inputs. A decoupled API that matches only the decoupled oracle run is ``divergent``."""
    tol, tol_source = trajectory.tolerance(item.case, item.dtype)
    lam = item.regularizer.l2
    ref = _trajectory_oracle(item, "coupled")
    decoupled = _trajectory_oracle(item, "decoupled") if item.conv.coupling == "decoupled" else None
    curves = outcome.value if outcome.status == "ok" else None
    if curves is not None and not set(trajectory.PARTS) <= set(curves):
        missing = f"the adapter returned {sorted(curves)}, not {list(trajectory.PARTS)}"
        outcome, curves = Outcome("error", detail=missing), None
    raw = None if curves is None else trajectory.flatten(curves)
    alt = None if decoupled is None else trajectory.flatten(decoupled)
    epochs = len(ref["train_loss"])

    def where(index: tuple[int, ...]) -> str:  # the flattened curves' index, as "train loss, epoch 7"
        return f" at {trajectory.part_at(index[0], epochs)}"

    status, detail, verdict = _status(item, outcome, raw, trajectory.flatten(ref), None, tol, tol_source, alt,
                                      where=where)
    deviation = None if curves is None else trajectory.deviations(curves, ref)
    if deviation is not None:
        worst = ", ".join(f"{p.replace('_', ' ').replace('w norm', '‖w‖')} {d:.2g}" for p, d in deviation.items())
        detail = f"worst relative deviation: {worst}; {detail}"
    training = conventions.TRAJECTORIES.get(item.api)
    return [{
        "case": item.case.name, "file": item.case.file, "line": item.case.line,
        "framework": item.framework, "api": item.api, "quantity": item.quantity, "dtype": item.dtype,
        "regularizer": item.regularizer.as_dict(), "native": dict(item.native), "tensor": None,
        "raw": None if curves is None else _listed(curves["w_norm"]),
        "reconciled": None if curves is None else _listed(curves["w_norm"]),
        "reference": _listed(ref["w_norm"]), "expected": None,
        "abs_err": _figure(verdict and verdict.abs_err), "rel_err": _figure(verdict and verdict.rel_err),
        "ulp": _figure(verdict and verdict.ulp), "tolerance": {"rtol": tol.rtol, "atol": tol.atol},
        "summary": None, "status": status, "detail": detail, "known": None,
        # trajectory keys: the curves the report draws, and how the run was made
        "style": training and training.style, "training": training and training.how, "lambda": lam,
        "epochs": epochs, "coupling": item.conv.coupling, "deviation": deviation,
        "train_loss": None if curves is None else _listed(curves["train_loss"]),
        "test_loss": None if curves is None else _listed(curves["test_loss"]),
        "reference_train_loss": _listed(ref["train_loss"]), "reference_test_loss": _listed(ref["test_loss"]),
        "decoupled_reference": None if decoupled is None else _listed(decoupled["w_norm"]),
    }]


# --- running ------------------------------------------------------------------------------------------


@dataclass
class Run:
    rows: list[dict[str, Any]]
    frameworks: dict[str, FrameworkInfo]
    stale: list[str] = field(default_factory=list)
    """``known`` entries whose finding no longer happens, as ``file:line: known[i]: why``."""
    summary: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.summary = {s: 0 for s in STATUSES}
        for row in self.rows:
            self.summary[row["status"]] += 1

    @property
    def failures(self) -> int:
        """What makes the run fail: unknown mismatches and errors, and stale ``known`` entries."""
        return sum(r["status"] in ("mismatch", "error") and not r["known"] for r in self.rows) + len(self.stale)


def apply_known(case: Case, rows: list[dict[str, Any]], entries: Iterable[int] | None = None) -> list[str]:
    """Mark the rows each ``known`` entry explains; return the entries that explain nothing now.

    ``entries`` limits this to some entries (by index): pytest judges only those an item's rows touch.
    """
    stale = []
    chosen = range(len(case.spec.known)) if entries is None else entries
    for i in chosen:
        known = case.spec.known[i]
        selected = [r for r in rows if known.selects(r)]
        hits = [r for r in selected if r["status"] == known.status]
        for row in hits:
            row["known"] = known.reason
        if not hits:
            seen = ", ".join(sorted({r["status"] for r in selected})) or "no row at all"
            where = f"{case.file}:{case.line_of('known', i)}: known[{i}]"
            stale.append(f"{where}: expected {known.status} ({known.reason}), but the rows it selects are: {seen}")
    return stale


#: Weight-set ids, unique in this process: a worker that outlives one run (pytest reuses workers
#: across items) must never mistake a new case's weights for an old one's of the same name.
_WEIGHT_SET_IDS = itertools.count()


class Inputs:
    """Each case's weights rounded to each dtype, made once and shared by every item and worker."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], tuple[int, dict[str, np.ndarray]]] = {}
        self._lock = threading.Lock()

    def _rounded(self, case: Case, dtype: str) -> tuple[int, dict[str, np.ndarray]]:
        key = (id(case), dtype)  # the Case object, not its name: two loads of a file are two cases
        with self._lock:
            if key not in self._cache:
                self._cache[key] = next(_WEIGHT_SET_IDS), {n: cast(w, dtype) for n, w in case.weights.items()}
            return self._cache[key]

    def weight_set(self, case: Case, dtype: str) -> int:
        """The id under which workers keep these weights."""
        return self._rounded(case, dtype)[0]

    def rounded(self, case: Case, dtype: str) -> dict[str, np.ndarray]:
        """In the dtype itself: what the frameworks receive."""
        return self._rounded(case, dtype)[1]

    def exact(self, case: Case, dtype: str) -> dict[str, np.ndarray]:
        """The same values in float64, for the oracle: made per call and not kept (a 10⁷-element
        tensor's float64 copy lives only while its items are judged)."""
        return {n: w.astype(np.float64) for n, w in self.rounded(case, dtype).items()}


def job_of(key: int, item: Item, inputs: Inputs) -> Job:
    options = trajectory_options(item) if item.quantity == "trajectory" else update_options(item)
    task = Task(item.api, item.quantity, item.dtype, item.native, inputs.rounded(item.case, item.dtype), options)
    return Job(key=key, wid=inputs.weight_set(item.case, item.dtype), task=task)


def update_options(item: Item) -> dict[str, Any]:
    """What an ``update`` task needs besides the decay arguments: the optimizer, its arguments, grads, steps."""
    if item.quantity != "update" or item.optimizer is None:
        return {}
    try:
        grads = grads_of(item.case, item.dtype)[0]
    except ValueError:
        grads = {}  # judged as an error row; the adapter then fails on the missing gradient too
    call = item.optimizer
    options = {"optimizer": call.api, "args": call.native(settings_of(item.case)), "grads": grads,
               "steps": item.case.spec.steps}
    # Placement, for adapters: ``scope`` limits the API's own decay; ``param`` is put on the parameters.
    if item.scope() is not None:
        options["scope"] = item.scope()
    if item.param() is not None:
        options["param"] = item.param()
    if item.case.spec.weight_norm is not None:
        # Adapters reparameterize every weight as w = g·v/‖v‖ along ``dim`` and return g, v and w.
        options["weight_norm"] = item.case.spec.weight_norm.model_dump()
    return options


ProgressFn = Callable[[str, int, int], None]


def run_items(
    items: list[Item], pool: WorkerPool, inputs: Inputs, progress: ProgressFn | None = None,
    consume: Callable[[int, Outcome], None] | None = None,
) -> list[Outcome]:
    """Outcomes for items, in their order; frameworks run concurrently, one worker each.

    With ``consume``, each outcome is handed over (item index, outcome) the moment it arrives — the
    caller judges while the workers go on — and is not kept: the returned list is then empty.
    """
    outcomes: list[Outcome | None] = [None] * len(items)

    def keep(i: int, outcome: Outcome) -> None:
        if consume is None:
            outcomes[i] = outcome
        else:
            consume(i, outcome)

    by_framework: dict[str, list[Job]] = {}
    for i, item in enumerate(items):
        if item.skip:
            keep(i, Outcome("skipped", detail=item.skip))
            continue
        by_framework.setdefault(item.framework, []).append(job_of(i, item, inputs))

    def work(framework: str, jobs: list[Job]) -> None:
        done = 0

        def record(job: Job, outcome: Outcome) -> None:
            nonlocal done
            keep(job.key, outcome)
            done += 1
            if progress:
                progress(framework, done, len(jobs))

        pool.run(framework, jobs, record)

    if by_framework:
        with ThreadPoolExecutor(max_workers=len(by_framework)) as executor:
            for future in [executor.submit(work, fw, jobs) for fw, jobs in by_framework.items()]:
                future.result()
    if consume is not None:
        return []
    return [outcome or Outcome("error", detail="the run ended before this item") for outcome in outcomes]


def run(cases: list[Case], frameworks: tuple[str, ...], pool: WorkerPool, progress: ProgressFn | None = None) -> Run:
    items = [item for case in cases for item in plan_case(case, frameworks)]
    inputs = Inputs()
    rows_of_item: list[list[dict[str, Any]]] = [[] for _ in items]
    one_at_a_time = threading.Lock()  # judging is GIL-bound: in turn, only one float64 reference is alive

    def judged(i: int, outcome: Outcome) -> None:
        # Judged on arrival: the parent works while the workers do, and a large result is freed at once.
        item = items[i]
        # The penalty and gradient oracles widen the dtype's values a chunk at a time; no float64 copy.
        widen = inputs.rounded if item.quantity in ("penalty", "gradient") else inputs.exact
        with one_at_a_time:
            rows_of_item[i] = judge(item, outcome, widen(item.case, item.dtype))

    run_items(items, pool, inputs, progress, consume=judged)
    rows_of: dict[str, list[dict[str, Any]]] = {case.name: [] for case in cases}
    for item, rows in zip(items, rows_of_item, strict=True):
        rows_of[item.case.name] += rows
    stale = [entry for case in cases for entry in apply_known(case, rows_of[case.name])]
    for fw in frameworks:
        if fw not in pool.info:
            pool.info[fw] = FrameworkInfo("not run", reason="no case uses it")
    rows = [row for case in cases for row in rows_of[case.name]]
    return Run(rows, {fw: pool.info[fw] for fw in frameworks}, stale)
