"""``python bench/parent_profile.py [N]``: where the parent's time goes on N generated small cases (default 1,000).

The frameworks are imported first (their workers started), outside the profile; then one ``engine.run`` of the
suite is profiled with cProfile in every thread that does the parent's work (the main thread and each
framework's feeding thread, where outcomes are judged as they arrive). Prints the parent's CPU time per task and
the top of the profile by own time and by cumulative time.
"""

from __future__ import annotations

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
    print(profile(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
