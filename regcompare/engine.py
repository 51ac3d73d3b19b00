"""Cases → planned items → framework workers → judged rows. Shared by the CLI and the pytest plugin.

An *item* is one (case, framework, API, quantity, dtype, native arguments). Planning reads the
registry only; values come from the workers; the oracle and the comparison judge them; rows come
out in plan order, whatever order the frameworks finish in.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regcompare import adapters, oracle
from regcompare.adapters.base import Task
from regcompare.cases import Case
from regcompare.compare import Verdict, compare
from regcompare.conventions import Convention, Regularizer
from regcompare.dtypes import DEFAULT_TOLERANCE, Tolerance, cast
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

    @property
    def framework(self) -> str:
        return self.conv.framework

    @property
    def api(self) -> str:
        return self.conv.api

    def label(self) -> str:
        return label(self.framework, self.api, self.native, self.quantity, self.dtype)


def label(
    framework: str, api: str, native: dict[str, float], quantity: str, dtype: str, tensor: str | None = None
) -> str:
    """Readable and unique within a case, e.g. ``tensorflow-keras.regularizers.L2(l2=0.5)-penalty-float32``."""
    args = ",".join(f"{k}={v:g}" for k, v in native.items())
    return f"{framework}-{api}({args})-{quantity}-{dtype}" + (f"-{tensor}" if tensor else "")


def row_label(row: dict[str, Any]) -> str:
    return label(row["framework"], row["api"], row["native"], row["quantity"], row["dtype"], row.get("tensor"))


# --- planning -----------------------------------------------------------------------------------------


def _native_key(conv: Convention, native: dict[str, float]) -> str:
    filled = {p.name: native.get(p.name, p.default) for p in conv.params}
    return json.dumps(filled, sort_keys=True)


def plan_case(case: Case, frameworks: tuple[str, ...]) -> list[Item]:
    """Every item of a case: each regularizer through each API that can express it, then ``expect``."""
    spec = case.spec
    registry = adapters.conventions()
    runnable = [c for c in registry.values() if c.executed and c.framework in frameworks]
    excluded = set(frameworks) - set(spec.frameworks or frameworks)
    items: dict[tuple[str, str, str, str], Item] = {}
    for dtype in spec.dtypes:
        for reg_spec in spec.regularizers:
            reg = Regularizer(reg_spec.l1, reg_spec.l2)
            for conv in runnable:
                if not conv.applies_to(reg):
                    continue
                native = conv.to_native(reg)
                for quantity in (q for q in spec.quantities if q in conv.quantities):
                    key = (conv.api, quantity, dtype, _native_key(conv, native))
                    items.setdefault(key, Item(case, conv, quantity, dtype, reg, native))
        for exp in spec.expect:
            conv = registry[exp.api]
            if exp.dtype not in (None, dtype) or conv.framework not in frameworks:
                continue
            quantity = exp.quantity or conv.measures
            key = (conv.api, quantity, dtype, _native_key(conv, exp.native))
            golden = Item(case, conv, quantity, dtype, conv.to_canonical(exp.native), dict(exp.native))
            item = items.setdefault(key, golden)
            item.expected = exp.raw
    for item in items.values():
        if item.framework in excluded:
            item.skip = "excluded by the case's `frameworks`"
    return list(items.values())


# --- judging --------------------------------------------------------------------------------------------


def tolerance(case: Case, dtype: str) -> tuple[Tolerance, str]:
    default = DEFAULT_TOLERANCE[dtype]
    override = case.spec.tolerance.get(dtype)  # type: ignore[call-overload]
    if override is None:
        return default, f"{dtype} default"
    rtol = default.rtol if override.rtol is None else override.rtol
    atol = default.atol if override.atol is None else override.atol
    return Tolerance(rtol, atol), f"{dtype}, set by the case"


def _listed(value: np.ndarray | float | None) -> Any:
    """A value for JSON: a number or nested list; NaN and ±inf as the strings "NaN", "Infinity", "-Infinity"."""
    if value is None:
        return None
    array = np.asarray(value, np.float64)
    if array.size > MAX_LISTED_ELEMENTS:
        return None

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


def judge(item: Item, outcome: Outcome, inputs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The rows of one item: one for a penalty, one per tensor for a gradient."""
    tol, tol_source = tolerance(item.case, item.dtype)
    if item.quantity == "penalty":
        reference: dict[str | None, np.ndarray] = {None: np.asarray(oracle.penalty(inputs, item.regularizer))}
    else:
        reference = dict(oracle.gradient(inputs, item.regularizer))
    expected = item.expected
    rows = []
    for tensor, ref in reference.items():
        raw = None
        if outcome.status == "ok":
            raw = outcome.value if tensor is None else outcome.value.get(tensor)
            raw = None if raw is None else np.asarray(raw, np.float64)
        exp = expected.get(tensor) if isinstance(expected, dict) and tensor is not None else expected
        status, detail, verdict = _status(item, outcome, raw, ref, exp, tol, tol_source)
        rows.append({
            "case": item.case.name, "file": item.case.file, "line": item.case.line,
            "framework": item.framework, "api": item.api, "quantity": item.quantity, "dtype": item.dtype,
            "regularizer": item.regularizer.as_dict(), "native": dict(item.native), "tensor": tensor,
            "raw": _listed(raw), "reconciled": _listed(raw), "reference": _listed(ref),
            "expected": exp if exp is None else _listed(np.asarray(exp, np.float64)),
            "abs_err": _figure(verdict and verdict.abs_err), "rel_err": _figure(verdict and verdict.rel_err),
            "ulp": _figure(verdict and verdict.ulp),
            "tolerance": {"rtol": tol.rtol, "atol": tol.atol},
            "summary": _summary(raw, ref, verdict),
            "status": status, "detail": detail, "known": None,
        })
    return rows


def _status(
    item: Item, outcome: Outcome, raw: np.ndarray | None, ref: np.ndarray, expected: Any,
    tol: Tolerance, tol_source: str,
) -> tuple[str, str, Verdict | None]:
    if item.skip:
        return "skipped", item.skip, None
    if outcome.status != "ok":
        return ("unsupported" if outcome.status == "unsupported" else outcome.status), outcome.detail, None
    if raw is None:
        return "error", "the adapter returned no value for this tensor", None
    verdict = compare(raw, ref, item.dtype, tol, tol_source)
    if not verdict.ok:
        return "mismatch", verdict.detail, verdict
    if expected is not None:
        golden = compare(raw, np.asarray(expected, np.float64), item.dtype, tol, tol_source)
        if not golden.ok:
            return "mismatch", f"against the case's expected raw value: {golden.detail}", verdict
        return "match", f"{verdict.detail}; matches the expected raw value", verdict
    return "match", verdict.detail, verdict


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


def apply_known(case: Case, rows: list[dict[str, Any]]) -> list[str]:
    """Mark the rows each ``known`` entry explains; return the entries that explain nothing now."""
    stale = []
    for i, known in enumerate(case.spec.known):
        selected = [r for r in rows if known.selects(r)]
        hits = [r for r in selected if r["status"] == known.status]
        for row in hits:
            row["known"] = known.reason
        if not hits:
            seen = ", ".join(sorted({r["status"] for r in selected})) or "no row at all"
            where = f"{case.file}:{case.line_of('known', i)}: known[{i}]"
            stale.append(f"{where}: expected {known.status} ({known.reason}), but the rows it selects are: {seen}")
    return stale


class Inputs:
    """Each case's weights rounded to each dtype (and widened back, for the oracle), made once."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}
        self._lock = threading.Lock()

    def _both(self, case: Case, dtype: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        key = (case.name, dtype)
        with self._lock:
            if key not in self._cache:
                rounded = {n: cast(w, dtype) for n, w in case.weights.items()}
                self._cache[key] = rounded, {n: w.astype(np.float64) for n, w in rounded.items()}
            return self._cache[key]

    def rounded(self, case: Case, dtype: str) -> dict[str, np.ndarray]:
        """In the dtype itself: what the frameworks receive."""
        return self._both(case, dtype)[0]

    def exact(self, case: Case, dtype: str) -> dict[str, np.ndarray]:
        """The same values in float64: what the oracle computes from."""
        return self._both(case, dtype)[1]


def job_of(key: int, item: Item, inputs: Inputs) -> Job:
    task = Task(item.api, item.quantity, item.dtype, item.native, inputs.rounded(item.case, item.dtype))
    return Job(key=key, wid=(item.case.name, item.dtype), task=task)


ProgressFn = Callable[[str, int, int], None]


def run_items(
    items: list[Item], pool: WorkerPool, inputs: Inputs, progress: ProgressFn | None = None
) -> list[Outcome]:
    """Outcomes for items, in their order; frameworks run concurrently, one worker each."""
    outcomes: list[Outcome | None] = [None] * len(items)
    by_framework: dict[str, list[Job]] = {}
    for i, item in enumerate(items):
        if item.skip:
            outcomes[i] = Outcome("skipped", detail=item.skip)
            continue
        by_framework.setdefault(item.framework, []).append(job_of(i, item, inputs))

    def work(framework: str, jobs: list[Job]) -> None:
        done = 0

        def record(job: Job, outcome: Outcome) -> None:
            nonlocal done
            outcomes[job.key] = outcome
            done += 1
            if progress:
                progress(framework, done, len(jobs))

        pool.run(framework, jobs, record)

    if by_framework:
        with ThreadPoolExecutor(max_workers=len(by_framework)) as executor:
            for future in [executor.submit(work, fw, jobs) for fw, jobs in by_framework.items()]:
                future.result()
    return [outcome or Outcome("error", detail="the run ended before this item") for outcome in outcomes]


def run(cases: list[Case], frameworks: tuple[str, ...], pool: WorkerPool, progress: ProgressFn | None = None) -> Run:
    items = [item for case in cases for item in plan_case(case, frameworks)]
    inputs = Inputs()
    rows_of: dict[str, list[dict[str, Any]]] = {case.name: [] for case in cases}
    for item, outcome in zip(items, run_items(items, pool, inputs, progress), strict=True):
        rows_of[item.case.name] += judge(item, outcome, inputs.exact(item.case, item.dtype))
    stale = [entry for case in cases for entry in apply_known(case, rows_of[case.name])]
    for fw in frameworks:
        if fw not in pool.info:
            pool.info[fw] = FrameworkInfo("not run", reason="no case uses it")
    rows = [row for case in cases for row in rows_of[case.name]]
    return Run(rows, {fw: pool.info[fw] for fw in frameworks}, stale)
