"""``python bench/judge_profile.py record|time|profile|rows ...``: the parent's cost of judging rows, alone.

Judging (``engine.judge``: the references, the error model's bands, the comparison, the row, the built-in
findings) is what the parent does per outcome while the workers run. Measured inside ``regcompare run`` it is
mixed with feeding the workers and with the machine's load; here the outcomes are recorded once and judged
again, as often as wanted, in one thread, without workers:

- ``record PICKLE [N | FOLDER] [--frameworks a,b]``: run N generated small cases (bench/suites.py, default 1,000;
  written to PICKLE's name with ``.cases``) or a folder of cases (``cases``) on the frameworks (default numpy,
  torch, tensorflow, paddle) and pickle the outcome of every item judged one by one (not the program items,
  judged pairwise per case) by the item's place in the plan (the cases are loaded and planned again to replay);
- ``time PICKLE [REPEAT]``: judge every recorded outcome again REPEAT times (default 3), each time from a cold
  case cache (``case.references`` emptied, as a fresh run starts), and print the CPU time per row of each
  repetition and their median;
- ``profile PICKLE [TOP]``: one repetition under cProfile, the top by own and by cumulative time;
- ``rows PICKLE OUT``: the judged rows as JSON lines (to show that two versions of the code judge alike).

The inputs of each item (its weights rounded to the dtype, and widened to float64 for an update) are made as
``engine._Collector.judged`` makes them, before the clock starts: that is the collector's cost, not judging's.
"""

from __future__ import annotations

import cProfile
import importlib.util
import io
import json
import pickle
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from suites import small_suite

from regcompare import engine
from regcompare.cases import Case, load_cases
from regcompare.plan import Item
from regcompare.workers import Outcome, WorkerPool

FRAMEWORKS = tuple(fw for fw in ("numpy", "torch", "tensorflow", "paddle") if importlib.util.find_spec(fw))
Recorded = list[tuple[Item, Outcome]]


def record(path: Path, suite: int | str, frameworks: tuple[str, ...]) -> int:
    """Run ``suite`` (a number of small cases, written next to ``path``, or a folder of cases) and pickle every
    item judged one by one, by its place in the plan, with its outcome; the number recorded. (Items themselves do
    not pickle: a case's schema classes are made at load time.)"""
    folder = Path(suite) if isinstance(suite, str) else small_suite(path.with_suffix(".cases"), suite)
    cases = load_cases([str(folder)])
    place: dict[int, tuple[int, int]] = {}
    case_at = {id(case): p for p, case in enumerate(cases)}
    plan, judge = engine.plan_case, engine.judge

    def planning(case: Case, frameworks: tuple[str, ...]) -> list[Item]:
        items = plan(case, frameworks)
        place.update((id(item), (case_at[id(case)], i)) for i, item in enumerate(items))
        return items

    recorded: list[tuple[tuple[int, int], Outcome]] = []

    def recording(item: Item, outcome: Outcome, inputs: dict[str, Any]) -> list[dict[str, Any]]:
        recorded.append((place[id(item)], outcome))
        return judge(item, outcome, inputs)

    pool = WorkerPool()
    engine.plan_case, engine.judge = planning, recording  # type: ignore[assignment] # looked up at each call
    try:
        engine.run(cases, frameworks, pool)
    finally:
        engine.plan_case, engine.judge = plan, judge  # type: ignore[assignment]
        pool.close()
    document = {"folder": str(folder.resolve()), "frameworks": frameworks, "outcomes": recorded}
    path.write_bytes(pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL))
    return len(recorded)


def load(path: Path) -> Recorded:
    """The recorded items, planned again from their cases, with their outcomes."""
    document = pickle.loads(path.read_bytes())
    cases = load_cases([document["folder"]])
    plans: dict[int, list[Item]] = {}
    recorded: Recorded = []
    for (case, i), outcome in document["outcomes"]:
        if case not in plans:
            plans[case] = engine.plan_case(cases[case], document["frameworks"])
        recorded.append((plans[case][i], outcome))
    return recorded


def _prepared(recorded: Recorded) -> list[tuple[Item, Outcome, dict[str, Any]]]:
    """Each item with its inputs, as the collector passes them (regcompare.engine); every case cache emptied."""
    inputs = engine.Inputs()
    out = []
    for item, outcome in recorded:
        item.case.references.clear()
        widen = inputs.rounded if item.quantity in ("penalty", "gradient") else inputs.exact
        out.append((item, outcome, widen(item.case, item.dtype)))
    return out


def judged(recorded: Recorded) -> tuple[float, list[list[dict[str, Any]]]]:
    """One repetition from a cold case cache: the CPU seconds of judging, and the rows of each item."""
    prepared = _prepared(recorded)
    start = time.process_time()
    rows = [engine.judge(item, outcome, inputs) for item, outcome, inputs in prepared]
    return time.process_time() - start, rows


def timed(path: Path, repeat: int) -> str:
    recorded = load(path)
    seconds, count = [], 0
    for _ in range(repeat):
        cpu, rows = judged(recorded)
        seconds.append(cpu)
        count = sum(len(r) for r in rows)
    per_row = [1000 * s / count for s in seconds]
    return (f"{len(recorded)} items, {count} rows; judging CPU per repetition: "
            f"{', '.join(f'{s:.2f} s' for s in seconds)}; per row: {', '.join(f'{ms:.4f}' for ms in per_row)} ms; "
            f"median {statistics.median(per_row):.4f} ms/row")


def profiled(path: Path, top: int) -> str:
    recorded = load(path)
    prepared = _prepared(recorded)
    profiler = cProfile.Profile()
    profiler.enable()
    for item, outcome, inputs in prepared:
        engine.judge(item, outcome, inputs)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def write_rows(path: Path, out: Path) -> None:
    """The judged rows as JSON lines, in recorded order (NaN written as JSON's ``NaN``: compared, not parsed)."""
    _, rows = judged(load(path))
    with out.open("w") as handle:
        for item_rows in rows:
            for row in item_rows:
                handle.write(json.dumps(row, sort_keys=True, default=str) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("record", "time", "profile", "rows"):
        print(__doc__, file=sys.stderr)
        return 2
    command, path, rest = argv[0], Path(argv[1]), argv[2:]
    if command == "record":
        frameworks = FRAMEWORKS
        if "--frameworks" in rest:
            at = rest.index("--frameworks")
            frameworks = tuple(rest[at + 1].split(","))
            rest = rest[:at] + rest[at + 2:]
        suite: int | str = 1000 if not rest else int(rest[0]) if rest[0].isdigit() else rest[0]
        print(f"recorded {record(path, suite, frameworks)} items in {path}")
    elif command == "time":
        print(timed(path, int(rest[0]) if rest else 3))
    elif command == "profile":
        print(profiled(path, int(rest[0]) if rest else 30))
    else:
        write_rows(path, Path(rest[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
