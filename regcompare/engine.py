"""Cases → planned items → framework workers → judged rows. Shared by the CLI and the pytest plugin.

Planning (regcompare.plan) reads the registry only; values come from the workers; the oracle and the
comparison judge them (regcompare.judge); rows come out in plan order, whatever order the frameworks finish in.
"""

from __future__ import annotations

import itertools
import threading
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regcompare import adapters
from regcompare.adapters.base import Task
from regcompare.cases import Case
from regcompare.deadline import Expired, Watchdog
from regcompare.dtypes import cast
from regcompare.judge import STATUSES, judge, judge_trajectory, references
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
from regcompare.store import Pending, RowStore
from regcompare.workers import FrameworkInfo, Job, Outcome, WorkerPool

__all__ = [
    "STATUSES", "Case", "Inputs", "Item", "Run", "apply_known", "grads_of", "job_of", "judge", "judge_trajectory",
    "label", "placed_of", "placement_text", "plan_case", "references", "row_label", "run", "run_items", "settings_of",
    "shared", "trajectory_options", "update_options",
]


@dataclass
class Run:
    """A finished run. ``rows`` is a read-only sequence of the judged rows in plan order, kept on disk
    (regcompare.store): iterate it once per use (each pass reads the file again), index it, take its
    ``len``; ``list(run.rows)`` gives plain dicts for a small run. A list given here is stored the same way."""

    rows: Sequence[dict[str, Any]]
    frameworks: dict[str, FrameworkInfo]
    stale: list[str] = field(default_factory=list)
    """``known`` entries whose finding no longer happens, as ``file:line: known[i]: why``."""
    summary: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.rows, RowStore):
            self.rows = RowStore.of(self.rows)
        counted = self.rows.summary
        self.summary = {s: counted[s] for s in STATUSES}

    @property
    def store(self) -> RowStore:
        assert isinstance(self.rows, RowStore)
        return self.rows

    @property
    def failures(self) -> int:
        """What makes the run fail: unknown mismatches and errors, and stale ``known`` entries."""
        return self.store.failing + len(self.stale)


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


def run(
    cases: list[Case], frameworks: tuple[str, ...], pool: WorkerPool, progress: ProgressFn | None = None,
    folder: str | None = None,
) -> Run:
    """Run and judge every case; each case's rows go to the run's store (in ``folder``, else the system's
    temporary folder) as soon as the case is complete, so the parent never holds the rows of the whole run."""
    items = [item for case in cases for item in plan_case(case, frameworks)]
    inputs = Inputs()
    collect = _Collector(cases, items, frameworks, inputs, pool, folder)
    one_at_a_time = threading.Lock()  # judging is GIL-bound: in turn, only one float64 reference is alive
    # The parent's own work obeys --timeout too, and stops at once when the run is interrupted.
    watchdog = Watchdog(pool.task_timeout, stopped=lambda: pool.closed)

    def judged(i: int, outcome: Outcome) -> None:
        # Judged on arrival: the parent works while the workers do, and a large result is freed at once.
        if pool.closed:
            return  # interrupted: the run ends without rows, so judging the rest would only delay the exit
        item = items[i]
        if isinstance(item, ProgramItem):  # judged pairwise once every side of its case is in
            with one_at_a_time:
                collect.program(i, outcome)
            return
        # The penalty and gradient oracles widen the dtype's values a chunk at a time; no float64 copy.
        widen = inputs.rounded if item.quantity in ("penalty", "gradient") else inputs.exact
        with one_at_a_time:
            try:
                rows = watchdog.run(lambda: judge(item, outcome, widen(item.case, item.dtype)))
            except Expired:
                if pool.closed:
                    return  # stopped by the interrupt, not by the clock
                why = f"the reference took longer than the timeout ({pool.task_timeout:g} s); not judged"
                rows = [unjudged_row(item.case, item.framework, item.api, item.quantity, item.dtype,
                                     item.regularizer.as_dict(), item.native, why)]
            collect.arrived(i, rows)

    try:
        run_items(items, pool, inputs, progress, consume=judged)
    finally:
        watchdog.close()
    collect.finish_rest()
    return Run(collect.store, frameworks_of(pool, frameworks), collect.stale)


class _Collector:
    """Rows from judged items → complete cases → the store, in the case's plan order.

    A case is complete when every one of its items has arrived; then its program items are judged (pairwise,
    all sides in), its broken-adapter rows added and its ``known`` entries applied — the per-case step — and
    its rows appended to the store. Rows of incomplete cases wait in ``Pending`` (memory, then disk).
    """

    def __init__(self, cases: list[Case], items: list[Item], frameworks: tuple[str, ...], inputs: Inputs,
                 pool: WorkerPool, folder: str | None) -> None:
        self.cases, self.items, self.frameworks, self.inputs, self.pool = cases, items, frameworks, inputs, pool
        self.store, self.pending = RowStore(folder), Pending(folder)
        position = {id(case): p for p, case in enumerate(cases)}
        self.case_of = array("l", (position[id(item.case)] for item in items))
        self.left = [0] * len(cases)
        for p in self.case_of:
            self.left[p] += 1
        self.programs: dict[int, dict[int, Outcome]] = {}
        self.stale_of: dict[int, list[str]] = {}

    def arrived(self, i: int, rows: list[dict[str, Any]]) -> None:
        p = self.case_of[i]
        self.pending.add(p, i, rows)
        self._count_down(p)

    def program(self, i: int, outcome: Outcome) -> None:
        p = self.case_of[i]
        self.programs.setdefault(p, {})[i] = outcome
        self._count_down(p)

    def _count_down(self, p: int) -> None:
        self.left[p] -= 1
        if self.left[p] == 0:
            self._finish(p)

    def _finish(self, p: int) -> None:
        self.left[p] = -1  # finished: never again
        outcomes = self.programs.pop(p, {})
        if outcomes and not self.pool.closed:
            indices = sorted(outcomes)  # plan order (the case's), not the order the workers finished in
            judged = judge_programs([self.items[i] for i in indices], [outcomes[i] for i in indices],
                                    self.inputs.exact)
            for i, rows in zip(indices, judged, strict=True):
                self.pending.add(p, i, rows)
        case = self.cases[p]
        rows = [row for rows in self.pending.take(p) for row in rows] + broken_adapter_rows(case, self.frameworks)
        self.stale_of[p] = apply_known(case, rows)
        self.store.append(p, rows)

    def finish_rest(self) -> None:
        """Cases that are not complete (an interrupted run, an item that timed out) or have no items."""
        for p, left in enumerate(self.left):
            if left >= 0:
                self._finish(p)
        self.pending.close()

    @property
    def stale(self) -> list[str]:
        return [entry for p in sorted(self.stale_of) for entry in self.stale_of[p]]

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
