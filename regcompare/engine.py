"""Cases → planned items → framework workers → judged rows. Shared by the CLI and the pytest plugin.

Planning (regcompare.plan) reads the registry only; values come from the workers; the oracle and the
comparison judge them (regcompare.judge); rows come out in plan order, whatever order the frameworks finish in.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from regcompare import adapters
from regcompare import judge as judging
from regcompare.adapters.base import Task
from regcompare.cases import Case
from regcompare.conventions.findings import FINDINGS, SUITE_MARKER, Finding
from regcompare.deadline import Expired, Watchdog
from regcompare.dtypes import cast
from regcompare.judge import STATUSES, judge_trajectory, references
from regcompare.plan import (
    Item,
    grads_of,
    label,
    placed_of,
    placement_text,
    plan_case,
    row_label,
    settings_of,
    shared,
    trajectory_options,
    update_options,
)
from regcompare.programs import ProgramItem
from regcompare.programs import judge_case as judge_programs
from regcompare.workers import FrameworkInfo, Job, Outcome, WorkerPool

__all__ = [
    "STATUSES", "Case", "Inputs", "Item", "Run", "apply_findings", "apply_known", "grads_of", "job_of", "judge",
    "judge_trajectory", "label", "placed_of", "placement_text", "plan_case", "references", "row_label", "run",
    "run_items", "settings_of", "shared", "stale_findings", "suite_of", "trajectory_options", "update_options",
]


@dataclass
class Run:
    rows: list[dict[str, Any]]
    frameworks: dict[str, FrameworkInfo]
    stale: list[str] = field(default_factory=list)
    """``known`` entries whose finding no longer happens, as ``file:line: known[i]: why``, and built-in findings
    that the shipped suite no longer shows (``built-in finding ID: why``)."""
    summary: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.summary = {s: 0 for s in STATUSES}
        for row in self.rows:
            self.summary[row["status"]] += 1

    @property
    def failures(self) -> int:
        """What makes the run fail: mismatches and errors that neither a ``known`` entry nor a built-in finding
        explains, and stale ``known`` entries or built-in findings."""
        return sum(r["status"] in ("mismatch", "error") and not r["known"] for r in self.rows) + len(self.stale)


def judge(item: Item, outcome: Outcome, inputs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The rows of one item (regcompare.judge), with the built-in findings that explain them marked."""
    rows = judging.judge(item, outcome, inputs)
    apply_findings(item.case, rows)
    return rows


def apply_findings(case: Case, rows: list[dict[str, Any]], findings: Iterable[Finding] = FINDINGS) -> None:
    """Mark each row a built-in defect finding explains: ``finding`` is its id, ``known`` its reason (the first
    finding in registry order wins). A precision finding's id is already on the rows whose band it widened
    (regcompare.judge) and excuses nothing; every other row gets ``finding: None``."""
    defects = tuple(f for f in findings if not f.precision)
    for row in rows:
        hit = next((f for f in defects if f.explains(row, case.weights)), None)
        row["finding"] = row.get("finding") if hit is None else hit.id
        if hit is not None:
            row["known"] = hit.reason


def suite_of(cases: list[Case]) -> Path | None:
    """The shipped suite this run covers whole: the folder holding ``SUITE_MARKER`` above the cases' files, when
    every case file under it is in the run (a single case of the suite does not show every finding)."""
    files = {Path(c.file).resolve() for c in cases}
    marked = {p for f in files for p in f.parents if (p / SUITE_MARKER).is_file()}
    for folder in sorted(marked, key=lambda p: len(p.parts)):
        if set(folder.rglob("*.yaml")) <= files:
            return folder
    return None


def stale_findings(
    rows: list[dict[str, Any]], weights_of: dict[str, dict[str, np.ndarray]], ran: set[str],
    findings: Iterable[Finding] = FINDINGS,
) -> list[str]:
    """Built-in findings of a framework that ran which explain no row of the suite any more."""
    stale = []
    for finding in findings:
        if finding.framework is not None and not set(finding.frameworks()) & set(ran):
            continue
        if not any(finding.explains(r, weights_of.get(r["case"])) for r in rows):
            seen = ", ".join(sorted({r["status"] for r in rows if finding.selects(r, weights_of.get(r["case"]))}))
            stale.append(f"built-in finding {finding.id}: expected {finding.expectation()}, but the rows "
                         f"it selects are: {seen or 'no row at all'}")
    return stale


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
        if not hits and not _unjudged(known, selected, rows):
            seen = ", ".join(sorted({r["status"] for r in selected})) or "no row at all"
            where = f"{case.file}:{case.line_of('known', i)}: known[{i}]"
            stale.append(f"{where}: expected {known.status} ({known.reason}), but the rows it selects are: {seen}")
    return stale


def _unjudged(known: Any, selected: list[dict[str, Any]], rows: list[dict[str, Any]]) -> bool:
    """Whether an entry could not be judged in this run: its framework did not run here (``--frameworks``, a
    test's subset) or every row it selects was skipped (the framework is not installed). Such an entry is not
    stale: nothing says the finding went away."""
    if selected:
        return all(r["status"] == "skipped" for r in selected)
    framework = known.framework
    if framework is None and known.api is not None:
        record = adapters.conventions().get(known.api)
        framework = None if record is None else record.framework
    return framework is not None and not any(r["framework"] == framework for r in rows)


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
    if isinstance(item, ProgramItem):
        options = item.options()
    else:
        options = trajectory_options(item) if item.quantity == "trajectory" else update_options(item)
    task = Task(item.api, item.quantity, item.dtype, item.native, inputs.rounded(item.case, item.dtype), options)
    # One restart budget per case: a case that keeps crashing its worker costs that case, not the run.
    return Job(key=key, wid=inputs.weight_set(item.case, item.dtype), task=task, group=id(item.case))


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


def _judge_programs(
    items: list[Item], outcomes: dict[int, Outcome], inputs: Inputs, rows_of_item: list[list[dict[str, Any]]]
) -> None:
    """The rows of every program case, pair by pair (regcompare.programs), into ``rows_of_item``."""
    by_case: dict[int, list[int]] = {}
    for i in sorted(outcomes):  # plan order (the case's), not the order the workers finished in
        by_case.setdefault(id(items[i].case), []).append(i)
    for indices in by_case.values():
        judged = judge_programs([items[i] for i in indices], [outcomes[i] for i in indices], inputs.exact)
        for i, rows in zip(indices, judged, strict=True):
            rows_of_item[i] = rows


def run(cases: list[Case], frameworks: tuple[str, ...], pool: WorkerPool, progress: ProgressFn | None = None) -> Run:
    items = [item for case in cases for item in plan_case(case, frameworks)]
    inputs = Inputs()
    rows_of_item: list[list[dict[str, Any]]] = [[] for _ in items]
    one_at_a_time = threading.Lock()  # judging is GIL-bound: in turn, only one float64 reference is alive
    # The parent's own work obeys --timeout too, and stops at once when the run is interrupted.
    watchdog = Watchdog(pool.task_timeout, stopped=lambda: pool.closed)

    def judged(i: int, outcome: Outcome) -> None:
        # Judged on arrival: the parent works while the workers do, and a large result is freed at once.
        if pool.closed:
            return  # interrupted: the run ends without rows, so judging the rest would only delay the exit
        item = items[i]
        if isinstance(item, ProgramItem):  # judged pairwise once every side of its case is in
            program_outcomes[i] = outcome
            return
        # The penalty and gradient oracles widen the dtype's values a chunk at a time; no float64 copy.
        widen = inputs.rounded if item.quantity in ("penalty", "gradient") else inputs.exact
        with one_at_a_time:
            try:
                rows_of_item[i] = watchdog.run(lambda: judge(item, outcome, widen(item.case, item.dtype)))
            except Expired:
                if pool.closed:
                    return  # stopped by the interrupt, not by the clock
                why = f"the reference took longer than the timeout ({pool.task_timeout:g} s); not judged"
                rows_of_item[i] = [unjudged_row(item.case, item.framework, item.api, item.quantity, item.dtype,
                                                item.regularizer.as_dict(), item.native, why)]

    program_outcomes: dict[int, Outcome] = {}
    try:
        run_items(items, pool, inputs, progress, consume=judged)
    finally:
        watchdog.close()
    if not pool.closed:
        _judge_programs(items, program_outcomes, inputs, rows_of_item)
    rows_of: dict[str, list[dict[str, Any]]] = {case.name: [] for case in cases}
    for item, rows in zip(items, rows_of_item, strict=True):
        rows_of[item.case.name] += rows
    for case in cases:
        rows_of[case.name] += broken_adapter_rows(case, frameworks)
    stale = [entry for case in cases for entry in apply_known(case, rows_of[case.name])]
    rows = [row for case in cases for row in rows_of[case.name]]
    stale += builtin_stale(cases, rows, pool, frameworks)
    return Run(rows, frameworks_of(pool, frameworks), stale)


def builtin_stale(
    cases: list[Case], rows: list[dict[str, Any]], pool: WorkerPool, frameworks: tuple[str, ...],
) -> list[str]:
    """The built-in findings that match nothing in a run of the shipped suite, among the frameworks that ran."""
    if suite_of(cases) is None:
        return []
    infos = frameworks_of(pool, frameworks)
    ran = {fw for fw, info in infos.items() if info.status == "ok"}
    return stale_findings(rows, {c.name: c.weights for c in cases}, ran)


def frameworks_of(pool: WorkerPool, frameworks: tuple[str, ...]) -> dict[str, FrameworkInfo]:
    """This run's view of each framework, read from the pool and never written back to it: a pool that lives on
    (pytest, a second run) must still start a framework this run did not need."""
    broken = adapters.broken()
    not_run = FrameworkInfo("not run", reason="no case uses it")
    return {fw: FrameworkInfo("error", reason=broken[fw]) if fw in broken else pool.info.get(fw, not_run)
            for fw in frameworks}


def unjudged_row(
    case: Case, framework: str, api: str, quantity: str, dtype: str, regularizer: dict[str, float],
    native: dict[str, float], detail: str,
) -> dict[str, Any]:
    """An ``error`` row with every key of a judged row and no values: for what could not be judged at all."""
    return {
        "case": case.name, "file": case.file, "line": case.line, "framework": framework, "api": api,
        "quantity": quantity, "dtype": dtype, "regularizer": regularizer, "native": dict(native), "tensor": None,
        "raw": None, "reconciled": None, "reference": None, "expected": None, "abs_err": None, "rel_err": None,
        "ulp": None, "tolerance": None, "summary": None, "status": "error", "detail": detail, "known": None,
    }


def broken_adapter_rows(case: Case, frameworks: tuple[str, ...]) -> list[dict[str, Any]]:
    """A framework whose third-party entry point cannot be used has no records to plan with: one ``error`` row
    per case and dtype says so, so that it can never pass by having no rows."""
    broken = adapters.broken()
    excluded = set(frameworks) - set(case.spec.frameworks or frameworks)
    return [unjudged_row(case, fw, f"{fw} (adapter)", case.spec.quantities[0], dtype, {}, {}, broken[fw])
            for fw in frameworks if fw in broken and fw not in excluded for dtype in case.spec.dtypes]
