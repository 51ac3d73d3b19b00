"""The parent holds no per-case data that grows with the suite (issue 19: parent memory flat in the number of
cases). A run of N and of 4N tiny cases on numpy, in this process: what the parent still holds once the run is
done and the reports' digest made (the loaded cases, the run's store and its index, the digest) may grow by
about a kilobyte a case (each case's compact copy, its place in the store's index), not by the ~15 KB a case
that a parsed case with its spec, line map, weights and oracle caches costs.

tracemalloc counts the bytes Python allocated, which is the same from one run to the next for the same input
(no timing, no thread order in it); the bound has a wide margin on both sides.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from regcompare import aggregates, engine
from regcompare.aggregates import Digest
from regcompare.cases import load_case, load_cases
from regcompare.workers import WorkerPool

#: bench/suites.py's small case (penalty and gradient of two small tensors, two regularizers), 6 numpy tasks.
CASE = """\
name: tiny-{i}
weights:
  w: {{shape: [4, 4], init: normal, seed: {i}, scale: 1.0}}
  b: {{shape: [4], init: uniform, seed: {j}, scale: 0.1}}
dtypes: [float32]
regularizers:
  - {{l2: 0.01}}
  - {{l1: 0.001}}
quantities: [penalty, gradient]
"""

#: Bytes a case may add to what the parent holds after the run (measured: 1.3 KB; before issue 19's memory work,
#: with every parsed case and its oracle caches held, 14.6 KB).
PER_CASE_BOUND = 3_000
N = 25


def _suite(folder: Path, count: int) -> Path:
    folder.mkdir()
    for i in range(count):
        (folder / f"tiny_{i:04d}.yaml").write_text(CASE.format(i=i, j=i + 10_000))
    return folder


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool()
    yield pool
    pool.close()


def _held_after_run(folder: Path, pool: WorkerPool, out: Path) -> tuple[int, int]:
    """Bytes allocated and still held once the run and its digest are made (their objects kept alive, as
    ``regcompare run`` keeps them while it writes the reports), and the rows."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    cases = load_cases([str(folder)])
    result = engine.run(cases, ("numpy",), pool, folder=str(out))
    digest = Digest.of(result.rows)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    rows = digest.rows
    result.store.close()
    del cases, result, digest
    return held, rows


def test_what_the_parent_holds_after_a_run_does_not_grow_with_the_cases(
    tmp_path: Path, pool: WorkerPool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The digest keeps the matching groups with the largest ULP and the first pairwise settings up to caps (300,
    # 120, 40): bounded, but not yet full at N cases. Small caps here, so that both runs fill them.
    for cap in ("MATCH_GROUP_CAP", "PAIRWISE_CAP", "PAIRWISE_AGREE_CAP"):
        monkeypatch.setattr(aggregates, cap, 5)
    small, large = _suite(tmp_path / "small", N), _suite(tmp_path / "large", 4 * N)
    tracemalloc.start()
    try:
        _held_after_run(_suite(tmp_path / "warm", 2), pool, tmp_path)  # imports, worker start, caches: not counted
        held_small, rows_small = _held_after_run(small, pool, tmp_path)
        held_large, rows_large = _held_after_run(large, pool, tmp_path)
    finally:
        tracemalloc.stop()
    assert (rows_small, rows_large) == (6 * N, 24 * N)  # every case ran: 2 regularizers × (penalty + w, b gradients)
    per_case = (held_large - held_small) / (3 * N)
    assert per_case < PER_CASE_BOUND, f"the parent holds {per_case:,.0f} more bytes per case after the run"


def test_a_case_built_again_from_its_compact_copy_is_the_case_loaded() -> None:
    """Every shipped case (inline, generated and file weights, programs, trajectories): the spec, weights, line
    map and text that ``Cases`` builds again equal those of loading the file, bit for bit."""
    root = Path(__file__).resolve().parents[1] / "cases"
    cases = load_cases([str(root)])
    sources = cases.sources()
    assert cases[0] is not cases[0] and len(cases[1:]) == len(cases) - 1
    for case in cases:
        loaded = load_case(case.file)
        assert (case.name, case.line, case.elements) == (loaded.name, loaded.line, loaded.elements)
        assert repr(case.spec) == repr(loaded.spec)  # repr: a NaN weight (special_values.yaml) is not == itself
        assert case.lines == loaded.lines
        assert case.source == loaded.source == sources[case.name] == Path(case.file).read_text(encoding="utf-8")
        assert case.weights.keys() == loaded.weights.keys()
        for name, w in case.weights.items():
            assert w.dtype == loaded.weights[name].dtype and w.tobytes() == loaded.weights[name].tobytes(), name
