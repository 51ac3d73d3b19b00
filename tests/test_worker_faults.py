"""Fault containment: a crash, a hang, a failed import, a raising API or a noisy framework each cost
only their own rows; the other frameworks' rows are complete. Uses the fakes of tests/fakes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from regcompare import adapters, engine
from regcompare.cases import load_cases
from regcompare.workers import WorkerPool
from tests.conftest import FAKE_ENV, run_cli
from tests.test_nothing_lost import _children

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


# --- a broken framework never passes ---------------------------------------------------------------------


@pytest.mark.usefixtures("fakes")
@pytest.mark.parametrize(
    ("framework", "reason"),
    [
        ("fake-corrupt", "ModuleNotFoundError: No module named 'fake_corepkg._core'"),
        ("fake-needs-dep", "ModuleNotFoundError: No module named 'no_such_dependency_of_the_framework'"),
    ],
)
def test_an_installed_framework_that_fails_to_import_is_error_not_skipped(write_case, framework, reason) -> None:
    result, _ = run(write_case, (framework, "numpy"))
    rows = [r for r in result.rows if r["framework"] == framework]
    assert [r["status"] for r in rows] == ["error"] * 3
    assert reason in rows[0]["detail"]
    assert result.frameworks[framework].status == "error" and result.failures == 3


def test_only_an_absent_top_level_package_is_missing() -> None:
    from regcompare import worker

    assert worker._load("no_such_top_level_package.adapter")[1] == (
        "missing", "No module named 'no_such_top_level_package'")
    status, text = worker._load("regcompare.no_such_adapter_module", "numpy")[1]
    assert status == "error" and "No module named 'regcompare.no_such_adapter_module'" in text


# --- one bad case costs that case only ---------------------------------------------------------------------


@pytest.mark.usefixtures("fakes")
def test_after_a_case_exhausts_its_restarts_later_cases_still_run() -> None:
    from regcompare.adapters.base import Task
    from regcompare.workers import MAX_RESTARTS, Job

    bad, good = {"w": np.array([666.0])}, {"w": np.array([1.0, -2.0])}
    jobs = [Job(("bad", i), "bad", Task("fake-crash-case.penalty", "penalty", "float64", {"l2": 1.0}, bad), "bad")
            for i in range(MAX_RESTARTS + 3)]
    jobs += [Job(("good", i), "good", Task("fake-crash-case.penalty", "penalty", "float64", {"l2": 1.0}, good),
                 "good") for i in range(2)]
    outcomes: dict = {}
    pool = WorkerPool(task_timeout=60)
    try:
        pool.run("fake-crash-case", jobs, lambda job, outcome: outcomes.__setitem__(job.key, outcome))
    finally:
        pool.close()
    bad_details = [outcomes[("bad", i)].detail for i in range(MAX_RESTARTS + 3)]
    assert all(d.startswith("worker exited with SIGSEGV") for d in bad_details[:MAX_RESTARTS + 1])
    assert all("giving up on the rest of it" in d for d in bad_details[MAX_RESTARTS + 1:])
    # l2/2·Σw² = 0.5·(1 + 4), by hand
    assert [(o.status, float(o.value)) for o in (outcomes[("good", 0)], outcomes[("good", 1)])] == [("ok", 2.5)] * 2


@pytest.mark.usefixtures("fakes")
def test_a_case_that_keeps_crashing_does_not_take_later_cases_down(write_case) -> None:
    bad = write_case("name: bad\nweights: {w: [666.0]}\ndtypes: [float32, float64, float16]\n"
                     "regularizers: [{l2: 1.0}, {l2: 2.0}]\nquantities: [penalty]\n", "bad.yaml")
    good = write_case("name: good\nweights: {w: [1.0, -2.0]}\nregularizers: [{l2: 1.0}]\nquantities: [penalty]\n",
                      "good.yaml")
    pool = WorkerPool(task_timeout=60)
    try:
        result = engine.run(load_cases([bad, good]), ("fake-crash-case",), pool)
    finally:
        pool.close()
    bad_rows = [r for r in result.rows if r["case"] == "bad"]
    assert len(bad_rows) == 6 and {r["status"] for r in bad_rows} == {"error"}
    assert "giving up on the rest of it" in bad_rows[-1]["detail"]
    assert [(r["status"], r["raw"]) for r in result.rows if r["case"] == "good"] == [("match", 2.5)]  # ½·(1 + 4)


# --- workers end with the parent; no folder left behind ----------------------------------------------------


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.usefixtures("fakes")
def test_a_hung_worker_ends_when_its_parent_is_killed(tmp_path) -> None:
    script = (
        "import sys, numpy as np\n"
        "from regcompare.workers import WorkerPool, Job\n"
        "from regcompare.adapters.base import Task\n"
        "pool = WorkerPool(task_timeout=3600)\n"
        "task = Task('fake-hang.penalty', 'penalty', 'float64', {'l2': 1.0}, {'w': np.ones(2)})\n"
        "pool.run('fake-hang', [Job(0, 0, task)], lambda job, outcome: None)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, **FAKE_ENV})
    try:
        deadline = time.monotonic() + 60
        while not (children := _children(parent.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert children, "the worker did not start"
        time.sleep(1.0)  # inside the hanging task now
        parent.kill()
        parent.wait()
        assert all(_wait_gone(pid, 10) for pid in children)
    finally:
        parent.kill()


def test_the_pool_removes_its_worker_folder(write_case) -> None:
    pool = WorkerPool()
    engine.run(load_cases([write_case(CASE)]), ("numpy",), pool)
    folder = pool._log_dir
    assert os.path.isdir(folder)
    pool.close()
    assert not os.path.exists(folder)


# --- tensor names a framework refuses are the harness's problem ---------------------------------------------


def test_tensor_names_frameworks_refuse_as_variable_names_run(write_case) -> None:
    text = (
        'weights: {"a/b:0": [[1, -2], [-3, 4]], "x y": [0.5], "w": [2.0]}\n'
        "regularizers: [{l2: 1.0}, {l1: 0.5}]\nquantities: [penalty, gradient, update]\n"
        'optimizer: {name: sgd, lr: 0.1}\ngrads: {"a/b:0": ones}\n'
    )
    pool = WorkerPool()
    try:
        result = engine.run(load_cases([write_case(text)]), ("torch", "tensorflow", "paddle"), pool)
    finally:
        pool.close()
    assert {r["status"] for r in result.rows} == {"match"}, [r["detail"] for r in result.rows if r["status"] != "match"]
    assert {r["tensor"] for r in result.rows if r["quantity"] == "update"} == {"a/b:0", "x y", "w"}


def test_safe_names_map_tensors_options_and_results_back() -> None:
    from regcompare.adapters.base import Task
    from regcompare.worker import SafeNames

    names = SafeNames(["a/b:0", "t0", "w"])
    assert names.safe == {"a/b:0": "t1", "t0": "t0", "w": "w"}
    task = Task("x", "update", "float32", {}, {"a/b:0": np.ones(1), "t0": np.ones(1), "w": np.ones(1)},
                {"grads": {"a/b:0": np.zeros(1)}, "scope": ["a/b:0"], "param": {"scope": ["w", "a/b:0"]}})
    safe = names.task(task)
    assert list(safe.weights) == ["t1", "t0", "w"] and list(safe.options["grads"]) == ["t1"]
    assert safe.options["scope"] == ["t1"] and safe.options["param"]["scope"] == ["w", "t1"]
    assert list(names.result({"t1.g": 1, "t1": 2, "t0.v": 3})) == ["a/b:0.g", "a/b:0", "t0.v"]


# --- third-party adapters cannot take the harness down ------------------------------------------------------

BROKEN_EPS = Path(__file__).parent / "fakes_broken"


@pytest.fixture
def broken_entry_points(fakes, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BROKEN_EPS))
    adapters.specs.cache_clear()
    adapters.conventions.cache_clear()
    yield
    adapters.specs.cache_clear()
    adapters.conventions.cache_clear()


@pytest.mark.usefixtures("broken_entry_points")
def test_unusable_entry_points_are_named_and_the_rest_still_works(write_case) -> None:
    broken = adapters.broken()
    assert set(broken) == {"fake-not-a-spec", "fake-no-module", "fake-clash"}
    assert "is a int, not a regcompare AdapterSpec" in broken["fake-not-a-spec"]
    assert "failed to load: ModuleNotFoundError" in broken["fake-no-module"]
    assert "its records clash: two conventions for fake-absent.penalty" in broken["fake-clash"]
    assert "fake-absent.penalty" in adapters.conventions()
    result, _ = run(write_case, ("fake-no-module", "numpy"))
    assert {r["status"] for r in result.rows if r["framework"] == "numpy"} == {"match"}
    assert result.frameworks["fake-no-module"].status == "error"
    rows = [r for r in result.rows if r["framework"] == "fake-no-module"]
    assert [(r["dtype"], r["status"]) for r in rows] == [("float32", "error"), ("float64", "error"), ("float16", "error")]
    assert rows[0]["detail"] == broken["fake-no-module"] and result.failures == 3


@pytest.mark.usefixtures("broken_entry_points")
def test_unusable_entry_points_are_named_by_validate_conventions_and_run(write_case, tmp_path) -> None:
    env = {**FAKE_ENV, "PYTHONPATH": os.pathsep.join([str(BROKEN_EPS), FAKE_ENV["PYTHONPATH"]])}
    case = write_case(CASE)
    for args in (("validate", case), ("conventions",)):
        done = run_cli(*args, env=env)
        assert done.returncode == 0 and "entry point 'fake-not-a-spec'" in done.stderr, done.stderr
    done = run_cli("run", case, "--frameworks", "fake-not-a-spec,numpy", "--out", str(tmp_path / "o"), env=env)
    assert done.returncode == 1 and "entry point 'fake-not-a-spec'" in done.stderr and "Traceback" not in done.stderr


def test_a_pool_starts_a_framework_its_earlier_run_did_not_need(write_case) -> None:
    """pytest keeps one pool for many items: a first run that excluded torch must not mark it "not run" for good."""
    from regcompare.cases import load_case
    from regcompare.workers import WorkerPool

    numpy_only = load_case(write_case("weights: {w: [1.0]}\nregularizers: [{l2: 0.5}]\nframeworks: [numpy]\n",
                                      "numpy_only.yaml"))
    both = load_case(write_case("weights: {w: [1.0]}\nregularizers: [{l2: 0.5}]\n", "both.yaml"))
    pool = WorkerPool()
    try:
        first = engine.run([numpy_only], ("numpy", "torch"), pool)
        assert first.frameworks["torch"].status == "not run"
        second = engine.run([both], ("numpy", "torch"), pool)
    finally:
        pool.close()
    assert second.frameworks["torch"].status == "ok"
    assert {r["status"] for r in second.rows if r["framework"] == "torch"} == {"match"}


def test_a_one_line_message_carries_no_object_address() -> None:
    # A framework's message that shows a Python object's repr (TensorFlow: "Attempt to convert a value (<function
    # f.<locals>.<lambda> at 0x7f53ad2ebf60>) ...") differs from run to run by the address alone.
    from regcompare.worker import _one_line

    def f() -> None:
        pass

    exc = ValueError(f"Attempt to convert a value ({f!r}) with an unsupported type (<class 'function'>)\nsecond")
    assert " at 0x" in str(exc)
    assert _one_line(exc) == ("ValueError: Attempt to convert a value (<function "
                              "test_a_one_line_message_carries_no_object_address.<locals>.f>) with an unsupported "
                              "type (<class 'function'>)")
    assert _one_line(TypeError("byte 0x7f at offset 3")) == "TypeError: byte 0x7f at offset 3"  # no address
    assert _one_line(RuntimeError("")) == "RuntimeError"
