"""Fault containment: a crash, a hang, a failed import, a raising API or a noisy framework each cost
only their own rows; the other frameworks' rows are complete. Uses the fakes of tests/fakes."""

from __future__ import annotations

import os

import pytest

from regcompare import engine
from regcompare.cases import load_cases
from regcompare.workers import WorkerPool

CASE = """\
name: faults
weights: {w: [[1, -2], [-3, 4]]}
dtypes: [float32, float64, float16]
regularizers: [{l2: 1.0}]
quantities: [penalty]
"""


def run(write_case, frameworks: tuple[str, ...], timeout: float = 60.0) -> tuple[engine.Run, WorkerPool]:
    pool = WorkerPool(task_timeout=timeout)
    try:
        return engine.run(load_cases([write_case(CASE)]), frameworks, pool), pool
    finally:
        pool.close()


def by_dtype(result: engine.Run, framework: str) -> dict[str, dict]:
    return {r["dtype"]: r for r in result.rows if r["framework"] == framework}


@pytest.mark.usefixtures("fakes")
def test_segfault_costs_one_row_and_the_worker_restarts(write_case) -> None:
    result, _ = run(write_case, ("fake-segv", "numpy"))
    rows = by_dtype(result, "fake-segv")
    assert rows["float64"]["status"] == "error"
    assert rows["float64"]["detail"].startswith("worker exited with SIGSEGV")
    assert rows["float32"]["status"] == rows["float16"]["status"] == "match"
    assert {r["status"] for r in result.rows if r["framework"] == "numpy"} == {"match"}


@pytest.mark.usefixtures("fakes")
def test_hang_is_killed_after_the_task_timeout(write_case) -> None:
    result, _ = run(write_case, ("fake-hang", "numpy"), timeout=3.0)
    rows = by_dtype(result, "fake-hang")
    assert rows["float64"]["status"] == "error" and rows["float64"]["detail"] == "timed out after 3 s (worker killed)"
    assert rows["float32"]["status"] == rows["float16"]["status"] == "match"


@pytest.mark.usefixtures("fakes")
def test_an_api_raising_errors_only_its_row(write_case) -> None:
    rows = by_dtype(run(write_case, ("fake-raises",))[0], "fake-raises")
    assert rows["float64"]["status"] == "error"
    assert rows["float64"]["detail"].startswith("KeyError: 'a bug inside the adapter' (at fake_adapters.py:")
    assert rows["float32"]["status"] == "match"


@pytest.mark.usefixtures("fakes")
def test_framework_output_on_stdout_and_stderr_cannot_corrupt_the_protocol(write_case) -> None:
    result, _ = run(write_case, ("fake-noisy",))
    assert [r["status"] for r in result.rows] == ["match"] * 3


@pytest.mark.usefixtures("fakes")
def test_missing_framework_gives_skipped_rows_with_the_install_hint(write_case) -> None:
    result, _ = run(write_case, ("fake-absent", "numpy"))
    rows = by_dtype(result, "fake-absent")
    assert {r["status"] for r in rows.values()} == {"skipped"}
    assert "No module named 'no_such_framework_module'" in rows["float32"]["detail"]
    assert result.frameworks["fake-absent"].status == "missing"
    assert "install with: pip install nothing" in result.frameworks["fake-absent"].reason
    assert result.frameworks["numpy"].status == "ok"


@pytest.mark.usefixtures("fakes")
def test_failing_import_gives_error_rows_with_the_reason(write_case) -> None:
    result, _ = run(write_case, ("fake-broken",))
    assert {r["status"] for r in result.rows} == {"error"}
    assert "ImportError: libfakeframework.so: cannot open shared object file" in result.rows[0]["detail"]
    assert result.frameworks["fake-broken"].status == "error"


@pytest.mark.usefixtures("fakes")
def test_refusal_is_unsupported_and_a_wrong_value_is_a_mismatch(write_case) -> None:
    rows = by_dtype(run(write_case, ("fake-wrong",))[0], "fake-wrong")
    assert rows["float64"]["status"] == "unsupported"
    assert rows["float64"]["detail"] == "NotImplementedError: fake-wrong has no float64 kernel"
    assert rows["float32"]["status"] == "mismatch" and rows["float32"]["raw"] == 30.0 and rows["float32"]["reference"] == 15.0


@pytest.mark.usefixtures("fakes")
def test_all_faults_at_once_and_no_worker_outlives_the_pool(write_case) -> None:
    frameworks = ("fake-segv", "fake-hang", "fake-broken", "fake-absent", "numpy")
    pool = WorkerPool(task_timeout=3.0)
    try:
        result = engine.run(load_cases([write_case(CASE)]), frameworks, pool)
        pids = [w.process.pid for w in pool.workers.values()]
    finally:
        pool.close()
    assert len(result.rows) == 3 * len(frameworks)
    assert {r["status"] for r in result.rows if r["framework"] == "numpy"} == {"match"}
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_one_worker_per_framework_serves_the_whole_run(write_case) -> None:
    pool = WorkerPool()
    try:
        cases = load_cases([write_case(CASE)])
        engine.run(cases, ("numpy",), pool)
        first = pool.workers["numpy"].process.pid
        engine.run(cases, ("numpy",), pool)
        assert pool.workers["numpy"].process.pid == first
    finally:
        pool.close()
