"""``python bench/parent_profile.py [N]``: where the parent's time goes on N generated small cases (default 1,000).

The frameworks are imported first (their workers started), outside the profile; then one ``engine.run`` of the
suite is profiled with cProfile in every thread that does the parent's work (the main thread and each
framework's feeding thread, where outcomes are judged as they arrive). Prints the parent's CPU time per task and
the top of the profile by own time and by cumulative time; then the same for writing the five reports from the
run's store in one thread (its CPU time per output, unprofiled, then profiled). ``regcompare run`` does the same
work in two places: a forked follower writes the rows' outputs and the digest during the run (regcompare.spool),
and the parent the rest after it; the outputs are the same.
"""

from __future__ import annotations

import contextlib
import cProfile
import importlib.util
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from suites import small_suite

from regcompare import engine
from regcompare.cases import load_cases
from regcompare.workers import WorkerPool

FRAMEWORKS = tuple(fw for fw in ("numpy", "torch", "tensorflow", "paddle") if importlib.util.find_spec(fw))


def write_reports(result: engine.Run, cases: list[Any], out: Path, times: dict[str, float] | None = None) -> None:
    """The five outputs, written here from the store (fixed environment; ``regcompare run`` writes the same ones,
    most of them in its follower: regcompare.spool); ``times``: CPU seconds per step."""
    from regcompare.programs import translator_summary
    from regcompare.report import Digest, to_html, to_markdown
    from regcompare.results import results_document, write_atomically, write_csv, write_json, write_junit

    times = {} if times is None else times

    @contextlib.contextmanager
    def step(name: str) -> Any:
        start = time.process_time()
        yield
        times[name] = times.get(name, 0.0) + time.process_time() - start

    env = {"python": "", "platform": "", "regcompare": "", "commit": None, "seconds": 0.0, "frameworks": {}}
    doc = results_document(result, env)
    with step("digest (one pass: counts, matrix, listed rows, pairwise view)"):
        digest = Digest.of(result.rows)
        translated = translator_summary(digest.translator_rows)
    if translated:
        doc["translators"] = translated
    with step("report.md"):
        markdown = to_markdown(doc, digest)
    with step("report.html"):
        html = to_html(doc, {c.name: c.source for c in cases}, digest)

    def timed(name: str, writer: Any) -> Any:
        def write(handle: Any) -> None:
            with step(name):
                writer(handle)
        return write

    write_atomically(out, {
        "results.json": timed("results.json", lambda handle: write_json(doc, handle)),
        "results.csv": timed("results.csv", lambda handle: write_csv(result.rows, handle)),
        "report.md": markdown, "report.html": html,
        "junit.xml": timed("junit.xml", lambda handle: write_junit(result, handle)),
    })


def profile_reports(count: int, top: int = 25) -> str:
    """Where writing the reports from the store goes, on ``count`` small cases (run first, unprofiled)."""
    with tempfile.TemporaryDirectory(prefix="regcompare-profile-") as tmp:
        cases = load_cases([str(small_suite(Path(tmp) / "small", count))])
        pool = WorkerPool()
        try:
            result = engine.run(cases, FRAMEWORKS, pool)
        finally:
            pool.close()
        tasks = sum(1 for row in result.rows if row["tensor"] in (None, "w"))
        times: dict[str, float] = {}
        write_reports(result, cases, Path(tmp) / "plain", times)
        out = io.StringIO()
        total = sum(times.values())
        print(f"writing the reports of {count} small cases ({len(result.rows)} rows, about {tasks} tasks) from the "
              f"store: parent CPU {total:.2f} s = {1000 * total / max(tasks, 1):.3f} ms/task", file=out)
        for name, seconds in times.items():
            print(f"  {name}: {seconds:.2f} s", file=out)
        profiler = cProfile.Profile()
        profiler.enable()
        write_reports(result, cases, Path(tmp) / "profiled")
        profiler.disable()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def profile(count: int, top: int = 25) -> str:
    """The profile's text for ``count`` small cases."""
    with tempfile.TemporaryDirectory(prefix="regcompare-profile-") as tmp:
        folder = small_suite(Path(tmp) / "small", count)
        pool = WorkerPool()
        profiles: list[cProfile.Profile] = []
        feed = WorkerPool.run

        def profiled_feed(self: WorkerPool, *args: Any, **kwargs: Any) -> None:
            # Each framework's thread profiled on its own (cProfile sees only the thread that enables it).
            profiler = cProfile.Profile()
            profiles.append(profiler)
            profiler.enable()
            try:
                feed(self, *args, **kwargs)
            finally:
                profiler.disable()

        try:
            for framework in FRAMEWORKS:
                pool.framework_info(framework)  # imports outside the profile
            WorkerPool.run = profiled_feed  # type: ignore[method-assign]
            main = cProfile.Profile()
            wall, cpu = time.perf_counter(), time.process_time()
            main.enable()
            result = engine.run(load_cases([str(folder)]), FRAMEWORKS, pool)
            main.disable()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            WorkerPool.run = feed  # type: ignore[method-assign]
            pool.close()
    tasks = sum(1 for row in result.rows if row["tensor"] in (None, "w"))  # one row per task has tensor None or w
    stats = pstats.Stats(main)
    for profiler in profiles:
        stats.add(profiler)
    out = io.StringIO()
    print(f"{count} small cases, {', '.join(FRAMEWORKS)}: {len(result.rows)} rows, about {tasks} tasks; "
          f"wall {wall:.1f} s; parent CPU {cpu:.1f} s = {1000 * cpu / max(tasks, 1):.3f} ms/task "
          f"(cProfile's own overhead included)", file=out)
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(profile(size))
    print(profile_reports(size))
