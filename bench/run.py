"""``make bench``: regcompare against the cost of the frameworks themselves.

For each suite, side by side on this machine:

1. floor   — importing the installed frameworks, each in its own process, all at once;
2. direct  — ``bench/direct.py`` per framework, all at once: the same framework calls in a plain loop;
3. harness — ``regcompare run`` on the same suite (workers, oracle, comparison, all five reports).

It prints harness/floor and harness/direct, the harness's cost per task, and peak memory (the
parent and the largest worker, sampled from /proc), and writes ``reports/bench.json``.
``--quick`` skips the 10,000-case suite and the 10⁷-element tensor.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from suites import small_suite, tensor_suite

ROOT = Path(__file__).parent.parent
FRAMEWORKS = tuple(fw for fw in ("numpy", "torch", "tensorflow", "paddle") if importlib.util.find_spec(fw))


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


class PeakMemory:
    """Samples the RSS of a process and of each descendant every 20 ms; keeps the peaks."""

    def __init__(self, pid: int) -> None:
        self.pid, self.parent, self.child = pid, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.parent = max(self.parent, _rss_mb(self.pid))
            for pid in _descendants(self.pid):
                self.child = max(self.child, _rss_mb(pid))
            self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _timed(commands: list[list[str]], watch: bool = False) -> tuple[float, PeakMemory | None]:
    """Run commands at once; wall time until the last one ends."""
    started = time.perf_counter()
    procs = [subprocess.Popen(c, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    memory = PeakMemory(procs[0].pid) if watch else None
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode not in (0, 1):  # 1: a run with mismatches, still a complete run
            raise SystemExit(f"{' '.join(commands[0])} failed ({proc.returncode}): {err.decode()[-2000:]}")
    if memory:
        memory.stop()
    return time.perf_counter() - started, memory


def floor() -> float:
    return _timed([[sys.executable, "-c", f"import {fw}"] for fw in FRAMEWORKS])[0]


def direct(paths: list[str], scratch: Path) -> tuple[float, dict[str, dict]]:
    outs = {fw: scratch / f"direct-{fw}.json" for fw in FRAMEWORKS}
    script = str(ROOT / "bench" / "direct.py")
    wall, _ = _timed([[sys.executable, script, fw, str(outs[fw]), *paths] for fw in FRAMEWORKS])
    return wall, {fw: json.loads(out.read_text()) for fw, out in outs.items()}


def harness(paths: list[str], scratch: Path) -> tuple[float, PeakMemory, int]:
    out = scratch / "reports"
    command = [sys.executable, "-m", "regcompare", "run", *paths, "--out", str(out),
               "--frameworks", ",".join(FRAMEWORKS)]
    wall, memory = _timed([command], watch=True)
    rows = len(json.loads((out / "results.json").read_text())["rows"])
    return wall, memory, rows


def measure(name: str, paths: list[str], scratch: Path, floor_s: float) -> dict:
    direct_s, per_fw = direct(paths, scratch)
    harness_s, memory, rows = harness(paths, scratch)
    tasks = sum(d["tasks"] for d in per_fw.values())
    html = (scratch / "reports" / "report.html").stat().st_size / 1e6
    result = {
        "suite": name, "tasks": tasks, "rows": rows, "floor_s": floor_s, "direct_s": direct_s,
        "harness_s": harness_s, "harness_over_floor": harness_s / floor_s, "harness_over_direct": harness_s / direct_s,
        "overhead_ms_per_task": 1000 * (harness_s - direct_s) / max(tasks, 1),
        "peak_parent_mb": memory.parent, "peak_worker_mb": memory.child,
        "peak_direct_mb": max(d["peak_rss_mb"] for d in per_fw.values()), "report_html_mb": html,
        "direct": per_fw,
    }
    print(f"{name:<16}{tasks:>8}{floor_s:>9.2f}{direct_s:>10.2f}{harness_s:>11.2f}"
          f"{result['harness_over_floor']:>9.2f}{result['harness_over_direct']:>9.2f}"
          f"{result['overhead_ms_per_task']:>10.3f}{memory.parent:>9.0f}{memory.child:>9.0f}"
          f"{result['peak_direct_mb']:>9.0f}{html:>8.2f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-case suite and the 1e7 tensor")
    parser.add_argument("--suite", action="append", help="only suites whose name starts with this (repeatable)")
    args = parser.parse_args()
    sizes = (10, 100, 1000) if args.quick else (10, 100, 1000, 10_000)
    tensors = (10**6,) if args.quick else (10**6, 10**7)
    print(f"frameworks: {', '.join(FRAMEWORKS)}; {os.cpu_count()} cores")
    floor_s = min(floor() for _ in range(3))
    print(f"import floor (all frameworks at once, best of 3): {floor_s:.2f} s\n")
    print(f"{'suite':<16}{'tasks':>8}{'floor s':>9}{'direct s':>10}{'harness s':>11}{'/floor':>9}{'/direct':>9}"
          f"{'ms/task':>10}{'parentMB':>9}{'workerMB':>9}{'directMB':>9}{'htmlMB':>8}")
    results = []
    with tempfile.TemporaryDirectory(prefix="regcompare-bench-") as tmp:
        scratch = Path(tmp)
        suites: list[tuple[str, Callable[[], Path]]] = [("shipped cases/", lambda: ROOT / "cases")]
        suites += [(f"small x{n}", lambda n=n: small_suite(scratch / f"small-{n}", n)) for n in sizes]
        suites += [(f"tensor 1e{len(str(e)) - 1}", lambda e=e: tensor_suite(scratch / f"tensor-{e}", e))
                   for e in tensors]
        for name, make in suites:
            if not args.suite or name.startswith(tuple(args.suite)):
                results.append(measure(name, [str(make())], scratch, floor_s))
    out = ROOT / "reports" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"floor_s": floor_s, "frameworks": FRAMEWORKS, "results": results}, indent=1))
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
