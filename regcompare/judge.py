"""Judging: an item's outcome against the float64 oracle → rows with a status and the reason.

``match`` within tolerance of the canonical reference; ``divergent`` outside it but matching the API's own
documented semantics (decoupled decay, a precedence rule, an own rule option such as paddle RMSProp's ε inside the
root); ``mismatch`` otherwise. docs/results.md lists the row keys.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from regcompare import conventions, errormodel, mixed_precision, oracle, schedules, sparse, trajectory
from regcompare.cases import Case
from regcompare.compare import Verdict, allowed_text, at_index, atol_words, compare
from regcompare.conventions import Decay, OptimizerCall, documented, weight_norm_tensors
from regcompare.dtypes import Tolerance, tolerance_for
from regcompare.plan import Item, grads_of, shared, trajectory_data
from regcompare.workers import Outcome

STATUSES = ("match", "mismatch", "divergent", "unsupported", "skipped", "error")
#: Tensors larger than this are summarized in rows (shape, worst element) instead of listed.
MAX_LISTED_ELEMENTS = 4096


def tolerance(case: Case, dtype: str, model: errormodel.Band) -> tuple[Tolerance, str, dict[str, Any]]:
    """A row's tolerance: the error model's band (regcompare.errormodel), or the case's ``tolerance`` over it;
    with the row's ``tolerance`` key (the figures and their source)."""
    override = case.spec.tolerance.get(dtype)  # type: ignore[call-overload]
    tol, source = tolerance_for(dtype, model.tol, override, model.source)
    # The model's own figures (its atol's range found once for every row that shares the band), or the case's.
    return tol, source, (model if tol is model.tol else errormodel.Band(tol, model.spread, source)).as_row(source)


def _allowed(tol: Tolerance, tol_source: str, tol_row: dict[str, Any]) -> str:
    """The tolerance in a verdict's words, from the row's ``tolerance`` figures (its band's atol range, found once
    for every row that shares the band) rather than from the atol array again."""
    return allowed_text(tol, tol_source, atol_words(tol_row["atol"], tol_row.get("atol_min")))


def _listed(value: np.ndarray | float | None) -> Any:
    """A value for JSON: a number or nested list; NaN and ±inf as the strings "NaN", "Infinity", "-Infinity"."""
    if value is None:
        return None
    if type(value) is float:  # a figure (abs_err, ulp): no array round trip for the commonest value of a row
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if np.size(value) > MAX_LISTED_ELEMENTS:  # before any copy: a 10⁷-element result is summarized
        return None
    array = np.asarray(value, np.float64)  # tolist makes new lists: no copy needed here
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
        if sum(w.size for w in inputs.values()) > MAX_LISTED_ELEMENTS:
            return dict(oracle.gradient(inputs, item.regularizer)), None  # a large one is made per item, not kept
        # Every framework's gradient item of a case shares one reference (read only: compare copies what it widens).
        key = ("gradient", item.dtype, item.regularizer)
        return dict(shared(item.case, key, lambda: oracle.gradient(inputs, item.regularizer))), None
    call = item.optimizer
    assert call is not None, "update items are planned with their optimizer"
    grads = grads_of(item.case, item.dtype)[1]
    if item.case.spec.weight_norm is not None:
        return weight_norm_references(item, inputs, grads, call), None
    if item.case.spec.mixed_precision is not None:
        refs, own, why = mixed_precision.references(item, inputs, grads, call)
        return dict(refs), None if own is None else Documented(own, why)
    if item.placed is not None:
        return _placed_references(item, inputs, grads, call)
    args = (item.regularizer, call.family, item.settings(), item.case.spec.steps)
    canonical = _oracle(item, oracle.update, inputs, grads, *args, "coupled", call.rule_options(own=False))
    l1 = bool(item.regularizer.l1)  # an L1 term has no decoupled form: only the coupled reference exists then
    scheduled, schedule_why = _schedule_semantics(item)
    unscaled = item.conv.coupling == "decoupled" and not item.conv.decay_follows_lr and not l1
    if call.options or scheduled or unscaled:
        # The class implements the rule (paddle RMSProp: ε inside the root), its schedule (Keras' piecewise
        # boundaries) or its decoupled decay (not following the lr schedule) its own documented way.
        decoupled = item.conv.coupling == "decoupled" and not l1
        semantics = ("decoupled_unscaled" if unscaled else "decoupled") if decoupled else "coupled"
        own = _oracle(item, oracle.update, inputs, grads, *args, semantics, call.rule_options(own=True) | scheduled)
        whys = [f"decoupled decay: {item.conv.formula}" if decoupled else "", call.why if call.options else "",
                schedule_why]
        return canonical, Documented(own, "; ".join(w for w in whys if w))
    decoupled_ref = None if l1 else Documented(
        _oracle(item, oracle.update, inputs, grads, *args, "decoupled", call.rule_options(own=False)), "")
    return canonical, decoupled_ref


def _oracle(
    item: Item, run: Callable[..., dict[str, np.ndarray]], inputs: dict[str, np.ndarray],
    grads: dict[str, np.ndarray], *args: Any,
) -> dict[str, np.ndarray]:
    """``run(inputs, grads, *args)`` (an update oracle), shared by every item of the case that asks for the same:
    the inputs and grads are the case's in ``item.dtype`` (the collector's, ``grads_of``), and every other
    argument is in the key, whole (JSON of the values, a dataclass by its repr: a new argument or field is in it
    without anyone listing it). Each framework's update item of a case, dtype, regularizer, optimizer family,
    settings and rule options computes the same float64 reference; the arrays are made read-only, as they are
    shared, and the mapping is the caller's own. A large tensor's is made per item instead, as its gradient's
    is: the case would hold every variant's float64 copy until its last item is judged."""
    if sum(w.size for w in inputs.values()) > MAX_LISTED_ELEMENTS:
        return dict(run(inputs, grads, *args))  # a large one is made per item, not kept (as a large gradient)
    key = ("oracle", run.__module__, run.__qualname__, item.dtype,
           json.dumps(args, sort_keys=True, default=repr, allow_nan=True))

    def make() -> dict[str, np.ndarray]:
        out = run(inputs, grads, *args)
        for array in out.values():
            array.flags.writeable = False
        return out

    return dict(shared(item.case, key, make))


def _schedule_semantics(item: Item) -> tuple[dict[str, bool], str]:
    """The options of the lr schedule as the item's framework's scheduler class implements it, where they differ
    from the canonical schedule (regcompare.schedules), and why."""
    assert item.optimizer is not None
    return schedules.semantics(item.framework, item.optimizer.family, item.settings())


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
        return _oracle(item, oracle.update_decays, inputs, grads, per_tensor, call.family, item.settings(),
                       item.case.spec.steps, call.rule_options(own=per_tensor is not canonical))

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
        parts = oracle.weight_norm_update(w0, grads[name], item.regularizer, call.family, item.settings(),
                                          item.case.spec.steps, spec.dim, call.rule_options(own=False))
        out |= dict(zip(weight_norm_tensors(name), (parts["g"], parts["v"], parts["w"]), strict=True))
    return out


def judge(item: Item, outcome: Outcome, inputs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The rows of one item: one for a penalty or a trajectory, one per tensor for a gradient or an update."""
    if item.quantity == "trajectory":
        return judge_trajectory(item, outcome)
    try:
        reference, documented_ = references(item, inputs)
    except ValueError as exc:  # a case whose grads do not fit its weights
        reference, documented_ = dict(oracle.gradient(inputs, item.regularizer)), None
        outcome = Outcome("error", detail=str(exc))
        bands = {t: errormodel.band(0.0, item.dtype, "not computed: the item failed") for t in reference}
    else:
        try:
            bands = errormodel.bands(item, inputs, reference, documented_ and documented_.reference)
        except Exception as exc:  # noqa: BLE001 - the error model must not abort a run: the row is an error, with why
            bands = {t: errormodel.band(0.0, item.dtype, "not computed: the error model failed") for t in reference}
            if outcome.status == "ok":  # a framework's own failure stays what it is
                outcome = Outcome("error", detail=f"the error model failed: {type(exc).__name__}: {exc}")
    expected = item.expected
    rows = []
    for tensor, ref in reference.items():
        tol, tol_source, tol_row = tolerance(item.case, item.dtype, bands[tensor])
        raw = None
        if outcome.status == "ok":
            raw = outcome.value if tensor is None else outcome.value.get(tensor)
            raw = None if raw is None else np.asarray(raw)  # in the API's dtype; compare widens per chunk
        exp = expected.get(tensor) if isinstance(expected, dict) and tensor is not None else expected
        alt = None if documented_ is None or tensor is None else documented_.reference[tensor]
        why = "" if documented_ is None else documented_.why
        status, detail, verdict = _status(item, outcome, raw, ref, exp, tol, tol_source, alt, why,
                                          allowed=_allowed(tol, tol_source, tol_row))
        if bands[tensor].finding is not None:
            tol_row |= _without(item, outcome, raw, ref, exp, alt, why, bands[tensor])
        row = {
            "case": item.case.name, "file": item.case.file, "line": item.case.line,
            "framework": item.framework, "api": item.api, "quantity": item.quantity, "dtype": item.dtype,
            "regularizer": item.regularizer.as_dict(), "native": dict(item.native), "tensor": tensor,
            # Reconciled is raw: coefficients were mapped to the API's own before the call.
            "raw": (listed := _listed(raw)), "reconciled": listed, "reference": _listed(ref),
            "expected": exp if exp is None else _listed(np.asarray(exp, np.float64)),
            "abs_err": _figure(verdict and verdict.abs_err), "rel_err": _figure(verdict and verdict.rel_err),
            "ulp": _figure(verdict and verdict.ulp),
            "tolerance": tol_row,
            "summary": _summary(raw, ref, verdict),
            "status": status, "detail": detail, "known": None, "finding": bands[tensor].finding,
        }
        if item.quantity == "update":
            row.update(_update_keys(item, alt))
        rows.append(row)
    if item.case.spec.sparse and item.quantity == "update" and not item.skip:
        sparse.annotate(item, rows, inputs)
    return rows


def _without(
    item: Item, outcome: Outcome, raw: np.ndarray | None, ref: np.ndarray, expected: Any, alt: np.ndarray | None,
    why: str, model: errormodel.Band,
) -> dict[str, Any]:
    """For a band a precision finding widened: the finding, and the status the row would have in its own dtype's
    band (a finding that never turns a ``mismatch`` into the row's verdict is stale, regcompare.engine)."""
    assert model.plain is not None
    tol, tol_source, tol_row = tolerance(item.case, item.dtype, model.plain)
    status = _status(item, outcome, raw, ref, expected, tol, tol_source, alt, why,
                     allowed=_allowed(tol, tol_source, tol_row))[0]
    return {"finding": model.finding, "without": status}


def _update_keys(item: Item, decoupled: np.ndarray | None) -> dict[str, Any]:
    """Extra keys of an ``update`` row: the optimizer as called, the API's coupling, the decoupled oracle."""
    call = item.optimizer
    assert call is not None
    keys = {
        "optimizer": call.call_text(item.call_args()),
        "variant": item.variant_name(),
        "steps": item.case.spec.steps,
        "coupling": item.conv.coupling,
        "decoupled_reference": _listed(decoupled) if item.placed is None else None,
    }
    if item.placed is not None:
        # The API's own semantics here is a precedence rule, not just decoupled decay.
        keys |= {"scope": item.scope(), "param": item.param(), "documented_reference": _listed(decoupled)}
    if item.case.spec.weight_norm is not None:
        keys["weight_norm"] = item.case.spec.weight_norm.model_dump()
    schedule = item.settings().get("schedule")
    if schedule is not None:
        keys["schedule"] = schedules.text(item.framework, schedule, float(item.settings()["lr"])) or None
    return keys


def _status(
    item: Item, outcome: Outcome, raw: np.ndarray | None, ref: np.ndarray, expected: Any,
    tol: Tolerance, tol_source: str, decoupled: np.ndarray | None = None, why: str = "",
    where: Callable[[tuple[int, ...]], str] = at_index, allowed: str | None = None,
) -> tuple[str, str, Verdict | None]:
    """A row's status, its detail and the verdict against the canonical reference. ``allowed``: the tolerance in
    words (regcompare.compare.allowed_text), where the caller has it."""
    if item.skip:
        return "skipped", item.skip, None
    if outcome.status != "ok":
        return ("unsupported" if outcome.status == "unsupported" else outcome.status), outcome.detail, None
    if raw is None:
        return "error", "the adapter returned no value for this tensor", None
    verdict = compare(raw, ref, item.dtype, tol, tol_source, where, allowed)
    status, detail = ("match", verdict.detail) if verdict.ok else _semantics(item, raw, verdict, decoupled, tol,
                                                                           tol_source, why, where, allowed)
    if status == "mismatch":
        return status, detail, verdict
    if decoupled is not None and status == "match" and item.conv.coupling == "decoupled" and not why:
        # A documented divergence that vanished is news (a strict xfail): either the two semantics
        # agree for this optimizer (plain SGD), or the registry's record of the API is wrong.
        if not compare(raw, decoupled, item.dtype, tol, tol_source, allowed=allowed).ok:
            return "mismatch", (f"documented decoupled ({item.conv.formula}), but matches the coupled update where "
                                f"the two differ: the registry's record or the framework changed"), verdict
        detail += "; decoupled and coupled decay agree here (plain SGD: w − lr·λ·w − lr·g either way)"
    if expected is not None:
        golden = compare(raw, np.asarray(expected, np.float64), item.dtype, tol, tol_source, allowed=allowed)
        if not golden.ok:
            return "mismatch", f"against the case's expected raw value: {golden.detail}", verdict
        return status, f"{detail}; matches the expected raw value", verdict
    return status, detail, verdict


def _semantics(
    item: Item, raw: np.ndarray, coupled: Verdict, decoupled: np.ndarray | None, tol: Tolerance, tol_source: str,
    why: str = "", where: Callable[[tuple[int, ...]], str] = at_index, allowed: str | None = None,
) -> tuple[str, str]:
    """Outside the canonical reference: ``divergent`` if the API is documented decoupled (or, for a placed
    regularizer, documented with another precedence: ``why``) and matches that."""
    if decoupled is None:
        return "mismatch", coupled.detail
    verdict = compare(raw, decoupled, item.dtype, tol, tol_source, where, allowed)
    own = "its documented precedence" if why else "the decoupled update"
    if not verdict.ok:
        return "mismatch", f"{coupled.detail}; nor {own}: {verdict.detail}"
    canonical = coupled.detail.split(";")[0]
    if why and item.placed is not None:
        return "divergent", (f"{why}; matches that ({verdict.detail}), not the canonical sum of both regularizers,"
                             f" coupled ({canonical})")
    if why:
        return "divergent", f"{why}; matches that ({verdict.detail}), not the canonical rule ({canonical})"
    if item.conv.coupling == "decoupled":
        return "divergent", (f"decoupled decay: {item.conv.formula}; matches the decoupled oracle ({verdict.detail}),"
                             f" not the canonical coupled L2 ({coupled.detail.split(';')[0]})")
    return "mismatch", f"documented {item.conv.coupling}, but matches the decoupled update w ← w − lr·λ·w instead"


# --- trajectory ---------------------------------------------------------------------------------------


def _trajectory_oracle(item: Item, semantics: trajectory.Semantics) -> trajectory.Curves:
    """The float64 run for this item's dtype and λ: one per case, shared by every framework's API."""
    lam = item.regularizer.l2
    key = ("trajectory oracle", item.dtype, lam, semantics)
    return shared(item.case, key, lambda: trajectory.oracle(trajectory_data(item), lam, semantics))


def _trajectory_widened(item: Item) -> tuple[str | None, tuple[Tolerance, str] | None]:
    """A precision finding that selects a trajectory row, and the trajectory tolerance of the precision it holds
    part of the run in (a float64 Keras run with float32 lr and coefficients gets float32's), unless the case
    sets the row dtype's tolerance itself."""
    findings = errormodel.selecting(item, None)
    if not findings or item.case.spec.tolerance.get(item.dtype) is not None:  # type: ignore[call-overload]
        return None, None
    held = findings[0].held
    precision = errormodel.floor_dtype(item.dtype, held)
    if precision == item.dtype:
        return None, None
    tol, source = trajectory.TOLERANCE[precision], f"trajectory default of {precision}"
    return findings[0].id, (tol, f"{source}, widened by finding {findings[0].id}")


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
    tol_row: dict[str, Any] = {"rtol": tol.rtol, "atol": tol.atol, "source": tol_source}
    finding, wide = _trajectory_widened(item)
    if wide is not None:  # a precision finding: judged with its precision's tolerance, the own dtype's kept aside
        without = status
        status, detail, verdict = _status(item, outcome, raw, trajectory.flatten(ref), None, wide[0], wide[1], alt,
                                          where=where)
        tol_row = {"rtol": wide[0].rtol, "atol": wide[0].atol, "source": wide[1], "finding": finding,
                   "without": without}
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
        "ulp": _figure(verdict and verdict.ulp),
        "tolerance": tol_row,
        "summary": None, "status": status, "detail": detail, "known": None, "finding": finding,
        # trajectory keys: the curves the report draws, and how the run was made
        "style": training and training.style, "training": training and training.how, "lambda": lam,
        "epochs": epochs, "coupling": item.conv.coupling, "deviation": deviation,
        "train_loss": None if curves is None else _listed(curves["train_loss"]),
        "test_loss": None if curves is None else _listed(curves["test_loss"]),
        "reference_train_loss": _listed(ref["train_loss"]), "reference_test_loss": _listed(ref["test_loss"]),
        "decoupled_reference": None if decoupled is None else _listed(decoupled["w_norm"]),
    }]
