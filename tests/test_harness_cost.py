"""The harness's shortcuts for many small tasks judge exactly as the plain path does: the batched worker protocol
(every job one outcome, in order, whatever happens mid-batch), the finite shortcut of ``compare`` and the shared
gradient reference."""

from __future__ import annotations

import numpy as np
import pytest

from regcompare import compare as compare_module
from regcompare import engine, workers
from regcompare.cases import load_cases
from regcompare.compare import compare
from regcompare.dtypes import DEFAULT_TOLERANCE, DTYPES, Tolerance, cast, finfo
from regcompare.workers import Job, Outcome, WorkerPool

CASE = """\
name: batched
weights: {w: [[1, -2], [-3, 4]]}
dtypes: [float32, float64, float16]
regularizers: [{l2: 1.0}, {l2: 0.5}, {l2: 0.25}]
quantities: [penalty]
"""


def _arrays(rng: np.random.Generator, dtype: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs (actual in the dtype, float64 reference) that cover the shortcut's edges: exact, within and outside
    tolerance, zeros on either side, subnormals, values near the dtype's largest, and non-finite values."""
    big = float(finfo(dtype).max)
    tiny = float(finfo(dtype).smallest_subnormal)
    pairs = []
    for _ in range(40):
        r = rng.normal(size=rng.integers(1, 20)) * 10.0 ** rng.integers(-8, 4)
        pairs.append((cast(r, dtype), r))  # rounded: within tolerance
        pairs.append((cast(r * (1 + 10.0 ** rng.integers(-9, -1)), dtype), r))  # perhaps outside
    pairs += [
        (cast(np.zeros(3), dtype), np.zeros(3)),
        (cast(np.array([0.0, 1e-3]), dtype), np.array([1e-30, 0.0])),
        (cast(np.array([tiny, 3 * tiny]), dtype), np.array([tiny, 2.5 * tiny])),
        (cast(np.array([big, -big]), dtype), np.array([big, -big])),
        (cast(np.array([big]), dtype), np.array([big * 1.0001])),
        (np.array([np.inf, 1.0]).astype(cast(np.zeros(1), dtype).dtype), np.array([big * 4, 1.0])),
        (np.array([np.nan, 1.0]).astype(cast(np.zeros(1), dtype).dtype), np.array([np.nan, 1.0])),
        (cast(np.array(2.0), dtype), np.array(2.0)),  # a 0-d penalty
    ]
    return pairs


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_finite_shortcut_gives_the_verdict_of_the_full_rules(dtype: str, monkeypatch) -> None:
    rng = np.random.default_rng(7)
    tol = DEFAULT_TOLERANCE[dtype]
    pairs = _arrays(rng, dtype)
    fast = [compare(a, r, dtype, tol, "default") for a, r in pairs]
    monkeypatch.setattr(compare_module, "_within", lambda *args: None)
    full = [compare(a, r, dtype, tol, "default") for a, r in pairs]
    assert fast == full
    assert {v.ok for v in full} == {True, False}  # both kinds were exercised


def _shaped(rng: np.random.Generator, dtype: str) -> list[tuple[np.ndarray, np.ndarray, Tolerance]]:
    """Rows as the error model judges them: 1-, 2- and 0-d tensors and one-element ones, with a per-element atol
    (one figure per element, or one broadcast to the shape) or one figure; zero references and exact elements
    among them (rel_err 0/0 and x/0), and the worst element anywhere."""
    out = []
    eps = float(finfo(dtype).eps)
    for shape in [(4, 4), (4,), (1,), (), (2, 3, 2), (1, 1)]:
        for _ in range(12):
            r = rng.normal(size=shape) * 10.0 ** rng.integers(-6, 3)
            if r.ndim and rng.random() < 0.5:
                r.reshape(-1)[rng.integers(0, r.size)] = 0.0
            a = cast(r * (1 + rng.normal(size=shape) * eps * rng.choice([0.0, 0.5, 2.0, 8.0])), dtype)
            spread = np.abs(rng.normal(size=shape)) * eps * np.abs(r)
            atol = [spread, float(spread.max(initial=0.0)) * 2, spread.reshape(-1)[:1].reshape((1,) * r.ndim)]
            out += [(a, r, Tolerance(rng.choice([0.5, 2.0]) * eps, t)) for t in atol]
    zero = np.array([[0.0, 1.0], [-2.0, 0.0]])  # an error where the exact value is 0: rel_err inf, within atol
    out += [(cast(zero + np.array([[1e-7, 0.0], [0.0, 0.0]]), dtype), zero, Tolerance(eps, atol))
            for atol in (1e-6, np.full(zero.shape, 1e-6))]
    for shape in [(), (1,)]:  # one element (a penalty): the shortcut in Python floats
        out += [(cast(np.full(shape, x), dtype), np.zeros(shape), Tolerance(eps, 1e-6)) for x in (1e-7, 0.0)]
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_finite_shortcut_gives_the_figures_of_the_full_rules_per_element_atol(dtype: str, monkeypatch) -> None:
    triples = _shaped(np.random.default_rng(11), dtype)
    fast = [compare(a, r, dtype, tol, "error model") for a, r, tol in triples]
    monkeypatch.setattr(compare_module, "_within", lambda *args: None)
    full = [compare(a, r, dtype, tol, "error model") for a, r, tol in triples]
    assert fast == full
    assert {v.ok for v in full} == {True, False}  # both kinds were exercised
    assert any(v.ok and v.rel_err == np.inf for v in full)  # an error where the exact value is 0
    assert any(v.ok and v.worst and any(v.worst) for v in full)  # a worst element away from the first



@pytest.mark.parametrize("dtype", DTYPES)
def test_the_finite_shortcut_per_chunk_gives_the_figures_of_the_full_rules(dtype: str, monkeypatch) -> None:
    # Chunks of 5 elements: tensors of several chunks, the last of one element, where some chunks are within
    # their bounds (the shortcut) and others not, or not finite (the full rules); the worst element in a later
    # chunk, a tie across chunks (the first wins) and a bad element whose error is smaller than a good one's.
    monkeypatch.setattr(compare_module, "_CHUNK", 5)
    eps, big = float(finfo(dtype).eps), float(finfo(dtype).max)
    rng = np.random.default_rng(13)
    cases = []
    for _ in range(30):
        r = rng.normal(size=int(rng.integers(6, 22))) * 10.0 ** rng.integers(-4, 3)
        a = cast(r * (1 + rng.normal(size=r.shape) * eps * rng.choice([0.0, 0.5, 4.0])), dtype)
        spread = np.abs(rng.normal(size=r.shape)) * eps * np.abs(r)
        for atol in (spread, float(spread.max()) * 2):
            cases.append((a, r, Tolerance(eps, atol)))
    r = np.ones(16)
    tie = cast(r, dtype).astype(np.float64)
    tie[[2, 7]] += 4 * eps  # one error in the first chunk and the same in the second
    cases.append((tie, r, Tolerance(eps, 8 * eps)))
    mixed = tie.copy()
    mixed[12] += 2 * eps  # a bad element (its atol is 0) in the third chunk, with a smaller error
    cases.append((mixed, r, Tolerance(eps, np.where(np.arange(16) == 12, 0.0, 8 * eps))))
    for odd in (np.nan, np.inf):  # a non-finite element in the second chunk only
        bad = tie.copy()
        bad[6] = odd
        cases.append((bad, r, Tolerance(eps, 8 * eps)))
    over = np.ones(11)
    over[9] = big * 1.0001  # an exact value that overflows the dtype, in the second chunk
    cases.append((cast(over, dtype), over, Tolerance(eps, 1e-6)))
    fast = [compare(a, ref, dtype, tol, "error model") for a, ref, tol in cases]
    monkeypatch.setattr(compare_module, "_within", lambda *args: None)
    full = [compare(a, ref, dtype, tol, "error model") for a, ref, tol in cases]
    assert fast == full
    assert {v.ok for v in full} == {True, False}
    assert full[-5].worst == (2,) and full[-4].worst == (12,) and not full[-4].ok
    assert any(v.ok and v.worst and v.worst[0] >= 5 for v in full)  # a worst element past the first chunk


def _jobs(count: int) -> list[Job]:
    weights = {"w": np.array([[1.0, -2.0], [-3.0, 4.0]], np.float32)}
    from regcompare.adapters.base import Task

    return [Job(i, i % 3, Task("fake-segv.penalty", "penalty", "float32", {"l2": float(i)}, weights, {}))
            for i in range(count)]


@pytest.mark.usefixtures("fakes")
def test_many_batches_give_every_job_its_own_outcome_in_order(monkeypatch) -> None:
    monkeypatch.setattr(workers, "BATCH_TASKS", 4)
    pool = WorkerPool()
    got: list[tuple[int, Outcome]] = []
    try:
        pool.run("fake-segv", _jobs(11), lambda job, outcome: got.append((job.key, outcome)))
    finally:
        pool.close()
    assert [k for k, _ in got] == list(range(11))
    # Σ w² = 30, so each penalty is l2/2·30 = 15·i: the worker answered each job with its own task.
    assert [float(o.value) for _, o in got] == [15.0 * i for i in range(11)]


@pytest.mark.usefixtures("fakes")
def test_a_crash_mid_batch_costs_its_task_and_the_rest_of_the_batch_runs_on_a_fresh_worker(write_case) -> None:
    pool = WorkerPool()
    try:
        result = engine.run(load_cases([write_case(CASE)]), ("fake-segv",), pool)
    finally:
        pool.close()
    statuses = {(r["dtype"], r["regularizer"]["l2"]): r["status"] for r in result.rows}
    # Three float64 tasks in one batch crash the worker one after another (each on a fresh worker).
    assert {k: s for k, s in statuses.items() if k[0] == "float64"} == dict.fromkeys(
        [("float64", 1.0), ("float64", 0.5), ("float64", 0.25)], "error")
    assert {s for k, s in statuses.items() if k[0] != "float64"} == {"match"}
    assert len(statuses) == 9


@pytest.mark.usefixtures("fakes")
def test_a_caller_that_fails_mid_batch_leaves_no_stray_result_for_the_next_run(monkeypatch) -> None:
    monkeypatch.setattr(workers, "BATCH_TASKS", 8)
    pool = WorkerPool()

    def fail_on_second(job: Job, outcome: Outcome) -> None:
        if job.key == 1:
            raise RuntimeError("the caller's own bug")

    try:
        with pytest.raises(RuntimeError):
            pool.run("fake-segv", _jobs(6), fail_on_second)
        got: list[tuple[int, float]] = []
        pool.run("fake-segv", _jobs(3), lambda job, outcome: got.append((job.key, float(outcome.value))))
    finally:
        pool.close()
    assert got == [(0, 0.0), (1, 15.0), (2, 30.0)]


def test_gradient_items_of_a_case_share_one_reference(write_case) -> None:
    case = load_cases([write_case(CASE.replace("quantities: [penalty]", "quantities: [gradient]"))])[0]
    items = [i for i in engine.plan_case(case, ("numpy", "torch")) if i.dtype == "float32"]
    inputs = engine.Inputs()
    refs = [engine.references(i, inputs.rounded(case, i.dtype))[0]["w"] for i in items]
    by_reg: dict[float, list[np.ndarray]] = {}
    for item, ref in zip(items, refs, strict=True):
        by_reg.setdefault(item.regularizer.l2, []).append(ref)
    assert all(len(group) >= 2 and all(r is group[0] for r in group) for group in by_reg.values())
    w = np.array([[1, -2], [-3, 4]], np.float64)
    assert all(np.array_equal(group[0], l2 * w) for l2, group in by_reg.items())  # l2·w, computed here


def test_the_read_ahead_reader_gives_back_every_message_small_and_large_in_order() -> None:
    import os
    import threading

    from regcompare.protocol import Reader, Timeout, write_message

    rng = np.random.default_rng(3)
    messages = [("result", i, "ok", rng.normal(size=int(n)).astype(np.float32), "")
                for i, n in enumerate(rng.choice([0, 1, 16, 5000, 40_000, 300_000], size=60))]
    read_fd, write_fd = os.pipe()

    def write() -> None:
        for m in messages:
            write_message(write_fd, m)
        os.close(write_fd)

    writer = threading.Thread(target=write)
    writer.start()
    reader = Reader(read_fd, chunk=1 << 12)
    got = [reader.read(timeout=30) for _ in messages]
    assert reader.read(timeout=30) is None  # end of stream
    writer.join()
    os.close(read_fd)
    assert [g[:3] for g in got] == [m[:3] for m in messages]
    assert all(np.array_equal(g[3], m[3]) and g[3].dtype == m[3].dtype for g, m in zip(got, messages, strict=True))

    read_fd, write_fd = os.pipe()
    with pytest.raises(Timeout):
        Reader(read_fd).read(timeout=0.2)  # nothing comes
    os.close(read_fd)
    os.close(write_fd)
