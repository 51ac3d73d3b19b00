"""Cases → planned items → framework workers → judged rows. Shared by the CLI and the pytest plugin.

Planning (regcompare.plan) reads the registry only; values come from the workers; the oracle and the
comparison judge them (regcompare.judge); rows come out in plan order, whatever order the frameworks finish in.
"""

from __future__ import annotations

import itertools
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
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
from regcompare.store import Pending, RowStore
from regcompare.workers import FrameworkInfo, Job, Outcome, WorkerPool, share_one_cpu

__all__ = [
    "STATUSES", "Case", "Inputs", "Item", "Run", "apply_findings", "apply_known", "grads_of", "job_of", "judge",
    "judge_trajectory", "label", "placed_of", "placement_text", "plan_case", "references", "row_label", "run",
    "run_items", "settings_of", "shared", "stale_findings", "suite_of", "trajectory_options", "update_options",
]


@dataclass
class Run:
    """A finished run. ``rows`` is a read-only sequence of the judged rows in plan order, kept on disk
    (regcompare.store): iterate it once per use (each pass reads the file again), index it, take its
    ``len``; ``list(run.rows)`` gives plain dicts for a small run. A list given here is stored the same way."""

    rows: Sequence[dict[str, Any]]
    frameworks: dict[str, FrameworkInfo]
    stale: list[str] = field(default_factory=list)
    """``known`` entries whose finding no longer happens, as ``file:line: known[i]: why``, and built-in findings
    that the shipped suite no longer shows (``built-in finding ID: why``)."""
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
        """What makes the run fail: mismatches and errors that neither a ``known`` entry nor a built-in finding
        explains, and stale ``known`` entries or built-in findings."""
        return self.store.failing + len(self.stale)


def judge(item: Item, outcome: Outcome, inputs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The rows of one item (regcompare.judge), with the built-in findings that explain them marked."""
    rows = judging.judge(item, outcome, inputs)
    apply_findings(item.case, rows)
    return rows


def apply_findings(case: Case, rows: list[dict[str, Any]], findings: Iterable[Finding] = FINDINGS) -> None:
    """Mark each row a built-in defect finding explains: ``finding`` is its id, ``known`` its reason (the first
    finding in registry order wins). A precision finding's id is already on the rows whose band it widened
    (regcompare.judge) and excuses nothing; every other row gets ``finding: None``."""
    by_status = _defects_by_status(findings if isinstance(findings, tuple) else tuple(findings))
    for row in rows:
        # A defect explains only rows with its status: only those are asked, in registry order.
        hit = None
        for f in by_status.get(row.get("status"), ()):
            if f.selects(row, case.weights):
                hit = f
                break
        if hit is None:
            row["finding"] = row.get("finding")
        else:
            row["finding"], row["known"] = hit.id, hit.reason


def _defects_by_status(findings: tuple[Finding, ...]) -> dict[str | None, tuple[Finding, ...]]:
    """The defect findings (not the precision ones) by the status they explain, each in registry order; kept for
    the last registry asked (the same one for every judged item of a run; a frozen finding's hash is its fields,
    so the registry is recognised by identity). One slot, replaced whole: the judging threads share it."""
    kept_for, kept = _BY_STATUS[0]
    if kept_for is findings:
        return kept
    out: dict[str | None, list[Finding]] = {}
    for f in findings:
        if not f.precision:
            out.setdefault(f.status, []).append(f)
    by_status = {status: tuple(fs) for status, fs in out.items()}
    _BY_STATUS[0] = (findings, by_status)
    return by_status


_BY_STATUS: list[tuple[tuple[Finding, ...] | None, dict[str | None, tuple[Finding, ...]]]] = [(None, {})]


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
    rows: Iterable[dict[str, Any]], weights_of: dict[str, dict[str, np.ndarray]], ran: set[str],
    findings: Iterable[Finding] = FINDINGS,
) -> list[str]:
    """Built-in findings of a framework that ran which explain no row of the suite any more. One pass over the
    rows (a run's rows are on disk: each pass reads them again)."""
    wanted = [f for f in findings if f.framework is None or set(f.frameworks()) & set(ran)]
    explained: set[str] = set()
    seen: dict[str, set[str]] = {f.id: set() for f in wanted}
    for row in rows:
        weights = weights_of.get(row["case"])
        for finding in wanted:
            if finding.id in explained:
                continue
            if finding.explains(row, weights):
                explained.add(finding.id)
            elif finding.selects(row, weights):
                seen[finding.id].add(row["status"])
    return [f"built-in finding {f.id}: expected {f.expectation()}, but the rows it selects are: "
            f"{', '.join(sorted(seen[f.id])) or 'no row at all'}" for f in wanted if f.id not in explained]


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


#: Items planned at a time: the parent holds the items and jobs (~0.7 KB a task) of at most ``AHEAD`` chunks, not
#: the whole run's.
CHUNK_ITEMS = 8_000
#: Chunks in flight at once: a framework starts chunk k once every framework has finished chunk k - AHEAD, so it runs
#: up to AHEAD - 1 chunks ahead of the slowest one. Frameworks differ in speed several times over (tensorflow's eager
#: calls against numpy's); with no slack every chunk would end waiting for the slowest one while the other workers
#: idle. With one chunk of slack the slowest never waits and the others work alongside it.
AHEAD = 2


def run(
    cases: list[Case], frameworks: tuple[str, ...], pool: WorkerPool, progress: ProgressFn | None = None,
    folder: str | None = None, store: RowStore | None = None,
) -> Run:
    """Run and judge every case; each case's rows go to the run's store (``store``, or a new one in ``folder``,
    else the system's temporary folder) as soon as the case is complete, so the parent never holds the rows of
    the whole run.

    Cases are planned and run a chunk at a time (``CHUNK_ITEMS``), in order; each framework goes through the chunks
    at its own pace, with at most ``AHEAD`` chunks in flight (the parent holds at most that many)."""
    store, pending = RowStore(folder) if store is None else store, Pending(folder)
    stale_of: dict[int, list[str]] = {}
    tally = _Tally(progress, frameworks, cases, lambda: pool.closed) if progress else None
    # The parent's own work obeys --timeout too, and stops at once when the run is interrupted.
    watchdog = Watchdog(pool.task_timeout, stopped=lambda: pool.closed)
    lock = threading.Lock()  # judging is GIL-bound: in turn, only one float64 reference is alive

    def collector(first: int, chunk: list[Case], items: list[Item]) -> _Collector:
        return _Collector(chunk, first, items, frameworks, pool, watchdog, store, pending, stale_of, lock)

    window = _Window(_chunks(cases, frameworks), frameworks, collector, pool, tally)
    try:
        with ThreadPoolExecutor(max_workers=len(window.participants)) as executor:
            for future in [executor.submit(window.work, who) for who in window.participants]:
                future.result()
        if tally:
            tally.finish()
    finally:
        watchdog.close()
        pending.close()
        pool.favour(None)
    stale = [entry for p in sorted(stale_of) for entry in stale_of[p]]
    stale += builtin_stale(cases, store, pool, frameworks)
    return Run(store, frameworks_of(pool, frameworks), stale)


def _chunks(cases: list[Case], frameworks: tuple[str, ...]) -> Iterator[tuple[int, list[Case], list[Item]]]:
    """Consecutive cases with about ``CHUNK_ITEMS`` items between them, planned when needed: (position of the
    first case, the cases, their items)."""
    first, chunk, items = 0, [], []
    for p, case in enumerate(cases):
        chunk.append(case)
        items += plan_case(case, frameworks)
        if len(items) >= CHUNK_ITEMS:
            yield first, chunk, items
            first, chunk, items = p + 1, [], []
    if chunk:
        yield first, chunk, items


#: The participant of a run's window that judges the items planned as skipped (not a framework's name).
SKIPPED = "(skipped items)"


@dataclass
class _Chunk:
    """A planned chunk: its collector, each framework's jobs, its skipped items, and who is still running it."""

    collect: _Collector
    jobs: dict[str, list[Job]]
    skipped: list[int]
    running: set[str]


class _Window:
    """The run's chunks, planned in order by whichever participant reaches one first and shared by all: a thread
    per framework, and one that judges the skipped items (their rows need references too, which would otherwise
    hold the workers' start back). Chunk ``k`` is handed out once every participant has finished chunk
    ``k - AHEAD``. A chunk's cases that are not complete when its last participant is done (an interrupted run, an
    item given up, a case without items) get their per-case step then, and the chunk is forgotten."""

    def __init__(self, planned: Iterator[tuple[int, list[Case], list[Item]]], frameworks: tuple[str, ...],
                 collector: Callable[[int, list[Case], list[Item]], _Collector], pool: WorkerPool,
                 tally: _Tally | None) -> None:
        self.planned, self.frameworks, self.collector = planned, frameworks, collector
        self.participants = (*frameworks, SKIPPED)
        self.pool, self.tally = pool, tally
        self.chunks: dict[int, _Chunk] = {}
        self.count: int | None = None  # chunks in the run, once planning has reached the end
        self.finished = 0  # every chunk before this one is done by every framework
        self.failed: BaseException | None = None  # a framework's thread stopped on it: the others must not wait
        self.changed = threading.Condition()

    def _get(self, k: int, framework: str) -> _Chunk | None:
        """Chunk ``k`` (None past the last), planning it if no framework has yet; waits while it is too far ahead."""
        with self.changed:
            self.changed.wait_for(lambda: k < self.finished + AHEAD or self.failed is not None)
            if self.failed is not None:
                raise self.failed
            while k not in self.chunks and (self.count is None or k < self.count):
                self._plan()
            return self.chunks.get(k)

    def _plan(self) -> None:
        k = len(self.chunks) + self.finished
        try:
            first, cases, items = next(self.planned)
        except StopIteration:
            self.count = k
            return
        collect = self.collector(first, cases, items)
        jobs: dict[str, list[Job]] = {framework: [] for framework in self.frameworks}
        skipped = []
        for i, item in enumerate(items):
            if item.skip:
                skipped.append(i)
            else:
                jobs[item.framework].append(job_of(i, item, collect.inputs))
        if self.tally:
            self.tally.planned(items, first + len(cases))
        self.chunks[k] = _Chunk(collect, jobs, skipped, set(self.participants))

    def work(self, framework: str) -> None:
        """One participant's thread: a framework's jobs of every chunk in order, each outcome judged on arrival
        (or, for ``SKIPPED``, the skipped items judged)."""
        k = 0
        share_one_cpu()
        try:
            while (chunk := self._get(k, framework)) is not None:
                jobs = chunk.jobs.pop(framework, [])
                if framework == SKIPPED:
                    for i in chunk.skipped:
                        chunk.collect.judged(i, Outcome("skipped", detail=chunk.collect.items[i].skip))
                elif jobs and not self.pool.closed:  # interrupted: not run (each case still gets its step)
                    def record(job: Job, outcome: Outcome, collect: _Collector = chunk.collect) -> None:
                        collect.judged(job.key, outcome)
                        if self.tally:
                            self.tally.done(framework)

                    self.pool.run(framework, jobs, record)
                self._done(k, framework)
                k += 1
        except BaseException as exc:
            with self.changed:
                self.failed = self.failed or exc
                self.changed.notify_all()
            raise

    def _favour_slowest(self) -> None:
        """A framework still on the oldest chunk when every other one has moved past it is the slowest: its worker is
        the run's longest path, and on a machine with few cores it should not share one with the parent's threads
        (``WorkerPool.favour``). It stays favoured while it is among those on the oldest chunk, so that the favour
        does not come and go with every chunk."""
        chunk = self.chunks.get(self.finished)
        behind = [fw for fw in chunk.running if fw != SKIPPED] if chunk else []
        favoured = self.pool.favoured  # the pool's, not a copy: a worker started again is not favoured yet
        if len(behind) == 1:
            slowest = behind[0]
        elif favoured in behind:
            return
        else:
            slowest = None
        if slowest != favoured:
            self.pool.favour(slowest)

    def _done(self, k: int, framework: str) -> None:
        with self.changed:
            chunk = self.chunks[k]
            chunk.running.discard(framework)
            while self.finished in self.chunks and not self.chunks[self.finished].running:
                collect = self.chunks.pop(self.finished).collect
                with collect.lock:
                    collect.finish_rest()
                self.finished += 1
            self._favour_slowest()
            self.changed.notify_all()


class _Tally:
    """Progress over the whole run while it runs a chunk at a time: each framework's tasks done, of all.

    The totals take one more planning pass over the cases after the first chunk (none for a run of one chunk).
    That pass runs in a thread of its own while the workers start on the first chunk, instead of before them
    (10,000 small cases take seconds to plan); progress shows once it is done, and ``finish`` shows where each
    framework ended."""

    def __init__(self, progress: ProgressFn, frameworks: tuple[str, ...], cases: Sequence[Case],
                 stopped: Callable[[], bool]) -> None:
        self.progress, self.frameworks, self.cases, self.stopped = progress, frameworks, cases, stopped
        self.totals: Counter[str] | None = None
        self.tasks: Counter[str] = Counter()
        self.shown: dict[str, int] = {}
        self.counting: threading.Thread | None = None

    def planned(self, items: list[Item], following: int) -> None:
        """A chunk was planned (``following``: the position of the first case after it): the first one starts the
        count."""
        if self.totals is not None or self.counting is not None:
            return
        first = Counter(item.framework for item in items if not item.skip)
        rest = self.cases[following:]
        if not rest:
            self.totals = first
            return
        self.counting = threading.Thread(target=self._count, args=(first, rest), daemon=True, name="regcompare-tally")
        self.counting.start()

    def _count(self, totals: Counter[str], rest: Sequence[Case]) -> None:
        for case in rest:
            if self.stopped():
                return  # interrupted: no totals to show
            totals.update(item.framework for item in plan_case(case, self.frameworks) if not item.skip)
        self.totals = totals

    def done(self, framework: str) -> None:
        self.tasks[framework] += 1  # each framework's count is only ever changed by its own thread
        if self.totals is not None:
            self._show(framework, self.totals)

    def _show(self, framework: str, totals: Counter[str]) -> None:
        self.shown[framework] = self.tasks[framework]
        self.progress(framework, self.tasks[framework], totals[framework])

    def finish(self) -> None:
        """After the run: each framework's last count, if it was not shown yet."""
        if self.counting is not None:
            self.counting.join()
        if self.totals is not None:
            for framework, done in self.tasks.items():
                if self.shown.get(framework) != done:
                    self._show(framework, self.totals)


class _Collector:
    """One chunk's judged items → complete cases → the store, each case's rows in plan order.

    A case is complete when every one of its items has arrived; then its program items are judged (pairwise,
    all sides in), its broken-adapter rows added and its ``known`` entries applied — the per-case step — and
    its rows appended to the store. Rows of incomplete cases wait in ``Pending`` (memory, then disk).
    """

    def __init__(self, cases: list[Case], first: int, items: list[Item], frameworks: tuple[str, ...],
                 pool: WorkerPool, watchdog: Watchdog, store: RowStore, pending: Pending,
                 stale_of: dict[int, list[str]], lock: threading.Lock) -> None:
        self.cases, self.first, self.items, self.frameworks = cases, first, items, frameworks
        self.pool, self.watchdog, self.store, self.pending, self.stale_of = pool, watchdog, store, pending, stale_of
        self.inputs = Inputs()  # one chunk's weights: freed with the chunk
        self.lock = lock  # the run's: chunks run side by side, and they share the pending rows and the store
        position = {id(case): p for p, case in enumerate(cases)}
        self.case_of = array("l", (position[id(item.case)] for item in items))
        self.left = [0] * len(cases)
        for p in self.case_of:
            self.left[p] += 1
        self.programs: dict[int, dict[int, Outcome]] = {}

    def judged(self, i: int, outcome: Outcome) -> None:
        """An item's outcome, judged on arrival: the parent works while the workers do, and a large result is
        freed at once."""
        pool, item = self.pool, self.items[i]
        if pool.closed:
            return  # interrupted: the run ends without rows, so judging the rest would only delay the exit
        if isinstance(item, ProgramItem):  # judged pairwise once every side of its case is in
            with self.lock:
                self.programs.setdefault(self.case_of[i], {})[i] = outcome
                self._count_down(self.case_of[i])
            return
        # The penalty and gradient oracles widen the dtype's values a chunk at a time; no float64 copy.
        widen = self.inputs.rounded if item.quantity in ("penalty", "gradient") else self.inputs.exact
        with self.lock:
            try:
                rows = self.watchdog.run(lambda: judge(item, outcome, widen(item.case, item.dtype)))
            except Expired:
                if pool.closed:
                    return  # stopped by the interrupt, not by the clock
                why = f"the reference took longer than the timeout ({pool.task_timeout:g} s); not judged"
                rows = [unjudged_row(item.case, item.framework, item.api, item.quantity, item.dtype,
                                     item.regularizer.as_dict(), item.native, why)]
            self.pending.add(self.first + self.case_of[i], i, rows)
            self._count_down(self.case_of[i])

    def _count_down(self, p: int) -> None:
        self.left[p] -= 1
        if self.left[p] == 0:
            self._finish(p)

    def _finish(self, p: int) -> None:
        self.left[p] = -1  # finished: never again
        at = self.first + p  # the case's position in the run
        outcomes = self.programs.pop(p, {})
        if outcomes and not self.pool.closed:
            indices = sorted(outcomes)  # plan order (the case's), not the order the workers finished in
            judged = judge_programs([self.items[i] for i in indices], [outcomes[i] for i in indices],
                                    self.inputs.exact)
            for i, rows in zip(indices, judged, strict=True):
                self.pending.add(at, i, rows)
        case = self.cases[p]
        rows = [row for rows in self.pending.take(at) for row in rows] + broken_adapter_rows(case, self.frameworks)
        stale = apply_known(case, rows)
        if stale:  # kept per case only where there is something to say: the run's cases may be many
            self.stale_of[at] = stale
        self.store.append(at, rows)
        case.references.clear()  # its oracle values and inputs: every item of the case is judged

    def finish_rest(self) -> None:
        """Cases that are not complete (an interrupted run, an item that timed out) or have no items."""
        for p, left in enumerate(self.left):
            if left >= 0:
                self._finish(p)


def builtin_stale(
    cases: list[Case], rows: Iterable[dict[str, Any]], pool: WorkerPool, frameworks: tuple[str, ...],
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
