"""The run's chunks: each framework goes through them at its own pace, with at most ``engine.AHEAD`` chunks in
flight, and the rows are those of a run in one chunk, in plan order."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

from regcompare import engine
from regcompare.cases import load_cases
from regcompare.workers import WorkerPool

CASE = "name: {n}\nweights: {{w: [[1, -2], [-3, 4]]}}\ndtypes: [float32]\nregularizers: [{{l2: 0.5}}]\n" \
       "quantities: [penalty]\nframeworks: [numpy, torch]\n"


def test_a_fast_framework_runs_ahead_of_a_slow_one_within_the_window(write_case, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = load_cases([write_case(CASE.format(n=f"p{i}"), f"p{i}.yaml") for i in range(6)])
    calls: dict[str, int] = {}  # each chunk holds one case, with one job of each framework: the n-th call is case n
    events: list[tuple[str, str, int]] = []  # (start or end, framework, case position), in the order they happen
    numpy_at_case_1 = threading.Event()
    thread_cpus: set[frozenset[int]] = set()  # the CPUs each feeding thread may run on
    torch_cpus: list[set[frozenset[int]]] = []  # the CPUs of torch's worker's threads, numpy a chunk on
    pool = WorkerPool()
    real_run = pool.run

    def run(framework: str, jobs: list[Any], on_outcome: Any) -> None:
        p = calls[framework] = calls.get(framework, -1) + 1
        assert len(jobs) == 1
        events.append(("start", framework, p))
        thread_cpus.add(frozenset(os.sched_getaffinity(0)))
        if framework == "numpy" and p == 1:
            numpy_at_case_1.set()
        if framework == "torch" and p == 0:
            # torch holds its first chunk until numpy has started its second: with a barrier at each chunk's
            # end, that never happens and this test fails here.
            assert numpy_at_case_1.wait(60), "numpy waited for torch's first chunk: the chunks ran in lock step"
            pid = pool.workers["torch"].process.pid
            torch_cpus.append({frozenset(os.sched_getaffinity(int(t))) for t in os.listdir(f"/proc/{pid}/task")})
        real_run(framework, jobs, on_outcome)
        events.append(("end", framework, p))

    try:
        whole = engine.run(cases, ("numpy", "torch"), pool)
        monkeypatch.setattr(engine, "CHUNK_ITEMS", 2)  # two items a case (numpy's and torch's penalty): a chunk each
        monkeypatch.setattr(pool, "run", run)
        chunked = engine.run(cases, ("numpy", "torch"), pool)
        # The workers were started by the feeding threads, which keep to one CPU; the workers take all of ours.
        worker_cpus = {fw: os.sched_getaffinity(w.process.pid) for fw, w in pool.workers.items()}
    finally:
        pool.close()
    ours = os.sched_getaffinity(0)
    assert thread_cpus == {frozenset({min(ours)})} if len(ours) > 1 else {frozenset(ours)}
    # Once numpy had finished the first chunk, torch's worker (the only one still on it) kept off the feeding
    # threads' CPU, every thread of it; after the run, both workers have all of ours again.
    assert torch_cpus == [{frozenset(ours - {min(ours)})} if len(ours) > 1 else {frozenset(ours)}]
    assert worker_cpus == {"numpy": ours, "torch": ours}
    assert list(chunked.rows) == list(whole.rows) and len(whole.rows) == 12
    assert [r["case"] for r in chunked.rows] == [f"p{i}" for i in range(6) for _ in range(2)]  # plan order
    assert chunked.summary["match"] == 12
    when = {event: i for i, event in enumerate(events)}
    for p in range(6 - engine.AHEAD):  # never more than AHEAD chunks in flight: k + AHEAD waits for k's end
        assert when[("start", "numpy", p + engine.AHEAD)] > when[("end", "torch", p)]
    assert when[("start", "numpy", 1)] < when[("end", "torch", 0)]


def test_a_framework_thread_that_fails_does_not_leave_the_others_waiting(
    write_case, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = load_cases([write_case(CASE.format(n=f"f{i}"), f"f{i}.yaml") for i in range(6)])
    pool = WorkerPool()

    class Broken(Exception):
        pass

    def run(framework: str, jobs: list[Any], on_outcome: Any) -> None:
        if framework == "torch":
            raise Broken
        time.sleep(0.05)
        for job in jobs:
            on_outcome(job, engine.Outcome("skipped", detail="not run in this test"))

    monkeypatch.setattr(engine, "CHUNK_ITEMS", 2)
    monkeypatch.setattr(pool, "run", run)
    started = time.monotonic()
    try:
        with pytest.raises(Broken):
            engine.run(cases, ("numpy", "torch"), pool)
    finally:
        pool.close()
    assert time.monotonic() - started < 30


def test_a_prestarted_worker_that_no_task_needs_is_stopped_and_its_framework_counts_as_not_run(write_case) -> None:
    cases = load_cases([write_case(CASE.replace("[numpy, torch]", "[numpy]").format(n="only-numpy"))])
    pool = WorkerPool()
    try:
        pool.prestart(("numpy", "torch"))  # both start importing at once; only numpy gets a task
        torch_worker = pool._early["torch"]
        result = engine.run(cases, ("numpy", "torch"), pool)
    finally:
        pool.close()
    assert result.frameworks["numpy"].status == "ok" and result.frameworks["torch"].status == "not run"
    assert result.summary["match"] == 1 and result.summary["skipped"] == 1  # torch's row: excluded by the case
    assert torch_worker.process.poll() is not None  # stopped by close, never waited for


def test_the_frameworks_the_cases_name_are_started_early(write_case) -> None:
    from regcompare.cli import named_frameworks

    numpy_only = load_cases([write_case(CASE.replace("[numpy, torch]", "[numpy]").format(n="a"), "a.yaml")])
    unlisted = load_cases([write_case(CASE.replace("frameworks: [numpy, torch]\n", "").format(n="b"), "b.yaml")])
    every = ("numpy", "torch", "tensorflow")
    assert named_frameworks(numpy_only, every) == ("numpy",)
    assert named_frameworks([*numpy_only, *unlisted], every) == every  # a case without a list may use any


def test_the_framework_left_alone_on_the_oldest_chunk_is_favoured_until_it_is_no_longer_behind() -> None:
    favours: list[str | None] = []

    class Pool:
        favoured: str | None = None

        def favour(self, framework: str | None) -> None:
            favours.append(framework)
            self.favoured = framework

    window = engine._Window(iter(()), ("numpy", "torch", "tensorflow"), lambda *a: None, Pool(), None)  # type: ignore[arg-type]

    def oldest(*running: str) -> None:
        """The oldest chunk in flight, with the participants still on it; then the window looks at it."""
        window.chunks[window.finished] = engine._Chunk(None, {}, [], set(running))  # type: ignore[arg-type]
        window._favour_slowest()

    oldest("numpy", "tensorflow", engine.SKIPPED)  # two frameworks behind: nobody yet
    oldest("tensorflow", engine.SKIPPED)  # the skipped items' judge is not a framework: tensorflow alone
    oldest("tensorflow", "torch")  # torch fell behind too: tensorflow keeps the favour
    oldest("tensorflow")
    oldest("torch")  # torch alone
    oldest("numpy", "tensorflow")  # torch moved on: nobody
    window.finished += 1
    window._favour_slowest()  # the oldest chunk is not planned yet: still nobody
    assert favours == ["tensorflow", "torch", None]
