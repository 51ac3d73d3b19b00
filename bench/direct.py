"""The direct baseline: one framework's calls for a suite, made in a plain loop in this process.

``python bench/direct.py FRAMEWORK OUT_JSON PATH...`` loads and plans the suite (the same planning
as a run), imports the framework's adapter and calls ``adapter.run(task)`` for every task: the same
real framework calls a run makes, without worker protocol, oracle, comparison or reports.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

from regcompare import adapters
from regcompare.cases import load_cases
from regcompare.engine import Inputs, job_of, plan_case


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; getrusage's ru_maxrss can carry the forking parent's peak)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main(framework: str, out: str, paths: list[str]) -> None:
    started = time.perf_counter()
    spec = adapters.specs()[framework]
    module_name, _, attr = spec.module.partition(":")
    adapter = getattr(importlib.import_module(module_name), attr or "ADAPTER")()
    imported = time.perf_counter()
    cases = load_cases(paths)
    inputs = Inputs()
    # The very tasks a run sends its workers (options included: optimizer, grads, training data).
    items = [item for case in cases for item in plan_case(case, (framework,)) if not item.skip]
    tasks = [job_of(i, item, inputs).task for i, item in enumerate(items)]
    planned = time.perf_counter()
    failures = 0
    for task in tasks:
        try:
            adapter.run(task)
        except Exception:  # noqa: BLE001 — refusals and known errors cost what they cost in a run too
            failures += 1
    done = time.perf_counter()
    with open(out, "w") as f:
        json.dump({
            "framework": framework, "tasks": len(tasks), "refused": failures,
            "import_s": imported - started, "load_s": planned - imported, "calls_s": done - planned,
            "total_s": done - started, "peak_rss_mb": _peak_rss_mb(),
        }, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
