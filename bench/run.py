"""``make bench``: regcompare against the cost of the frameworks themselves.

For each suite, side by side on this machine:

1. floor   — importing the installed frameworks, each in its own process, all at once;
2. direct  — ``bench/direct.py`` per framework, all at once: the same framework calls in a plain loop;
3. harness — ``regcompare run`` on the same suite (workers, oracle, comparison, all five reports).

It prints harness/floor and harness/direct, the harness's cost per task ((harness − direct) / tasks, and the
parent's own CPU time per task, which does not depend on what else the machine runs), and peak memory (the
parent and the largest worker, sampled from /proc); then the edit-run loop: how long ``run --watch`` takes to
print the rows of one edited case. It ends with the issue's table, the figures of ``bench/before.json`` (the
harness before the current pass, measured the same way: its ``source`` says when and on what) side by side, and
writes ``reports/bench.json``.
``--quick`` skips the 10,000-case suite and the 10⁷-element tensor; ``--profile`` prints where the parent's time
goes on 1,000 small cases, running them and writing their reports (bench/parent_profile.py), and stops.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
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


def _peak_mb(pid: int) -> float:
    """The process's peak RSS so far, as the kernel keeps it (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
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


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of the process itself so far (/proc/PID/stat), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakMemory:
    """The peak RSS of a process and of each descendant, and the process's own CPU time at the last look.

    It reads the peaks the kernel keeps (VmHWM), every ``LOOK_S``, so a peak between two looks still counts, and
    looks for new descendants (a scan of /proc, about 1.5 ms) every ``SCAN_S``. Sampling RSS every 20 ms with a
    scan each time, as before round 7, cost about 7.5% of a core while only the harness ran, which the harness
    paid on a 2-core machine."""

    LOOK_S = 0.02
    SCAN_S = 0.5

    def __init__(self, pid: int) -> None:
        self.pid, self.parent, self.child, self.cpu = pid, 0.0, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        descendants: list[int] = []
        scanned = 0.0
        while not self._stop.is_set():
            if time.monotonic() - scanned >= self.SCAN_S:
                descendants, scanned = _descendants(self.pid), time.monotonic()
            self.parent = max(self.parent, _peak_mb(self.pid))
            self.cpu = _cpu_s(self.pid) or self.cpu
            for pid in descendants:
                self.child = max(self.child, _peak_mb(pid))
            self._stop.wait(self.LOOK_S)

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
        "parent_cpu_s": memory.cpu, "parent_cpu_ms_per_task": 1000 * memory.cpu / max(tasks, 1),
        "peak_parent_mb": memory.parent, "peak_worker_mb": memory.child,
        "peak_direct_mb": max(d["peak_rss_mb"] for d in per_fw.values()), "report_html_mb": html,
        "direct": per_fw,
    }
    print(f"{name:<16}{tasks:>8}{floor_s:>9.2f}{direct_s:>10.2f}{harness_s:>11.2f}"
          f"{result['harness_over_floor']:>9.2f}{result['harness_over_direct']:>9.2f}"
          f"{result['overhead_ms_per_task']:>10.3f}{result['parent_cpu_ms_per_task']:>9.3f}"
          f"{memory.parent:>9.0f}{memory.child:>9.0f}"
          f"{result['peak_direct_mb']:>9.0f}{html:>8.2f}", flush=True)
    return result


def watch_rerun(folder: Path, scratch: Path) -> dict[str, float]:
    """``run --watch`` on a suite: the first run, then the seconds from saving one edited case file to the line
    that reports its re-run (its rows are printed before it); then Ctrl-C, which must end it with status 0."""
    command = [sys.executable, "-u", "-m", "regcompare", "run", str(folder), "--out", str(scratch / "watch"),
               "--frameworks", ",".join(FRAMEWORKS), "--watch"]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("watching "):
                break
        first = time.perf_counter() - started
        times = []
        for i, case in enumerate(sorted(folder.glob("*.yaml"))[:3]):
            time.sleep(0.5)  # another modification time than the first run's, on any file system
            edited = time.perf_counter()
            case.write_text(case.read_text().replace("l2: 0.01}", f"l2: 0.0{i + 2}}}"))
            for line in proc.stdout:
                if line.startswith("re-ran "):
                    times.append(time.perf_counter() - edited)
                    break
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code != 0 or len(times) != 3:
        raise SystemExit(f"run --watch: {len(times)} of 3 edits re-run, exit status {code}")
    return {"first_run_s": first, "rerun_s": sorted(times)[1], "reruns_s": times}


def _before(name: str, before: dict[str, dict]) -> dict:
    return before.get(name, {})


def table(results: list[dict], before: dict[str, dict], watch: dict[str, float] | None) -> str:
    """The issue's table, each figure with the one of ``bench/before.json`` beside it (before → now)."""

    def pair(old: float | None, new: float, form: str) -> str:
        return f"{new:{form}}" if old is None else f"{old:{form}} → {new:{form}}"

    head = "| suite | tasks | direct s | regcompare s | ÷ direct | harness ms/task | parent CPU ms/task | parent MB |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in results:
        b = _before(r["suite"], before)
        lines.append(
            f"| {r['suite']} | {r['tasks']:,} | {pair(b.get('direct_s'), r['direct_s'], '.1f')} | "
            f"{pair(b.get('harness_s'), r['harness_s'], '.1f')} | "
            f"{pair(b.get('harness_over_direct'), r['harness_over_direct'], '.2f')} | "
            f"{pair(b.get('overhead_ms_per_task'), r['overhead_ms_per_task'], '.3f')} | "
            f"{pair(b.get('parent_cpu_ms_per_task'), r['parent_cpu_ms_per_task'], '.3f')} | "
            f"{pair(b.get('peak_parent_mb'), r['peak_parent_mb'], '.0f')} |")
    if watch:
        lines.append(f"\nrun --watch: one edited case re-run and its rows printed {watch['rerun_s']:.2f} s after "
                     f"the save (median of 3; the first run took {watch['first_run_s']:.1f} s)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10,000-case suite and the 1e7 tensor")
    parser.add_argument("--suite", action="append",
                        help="only the suite of this name, or, if none has it, those whose name starts with it "
                             "(repeatable): 'small x10' is one suite, 'small' all four")
    parser.add_argument("--profile", action="store_true", help="profile the parent on 1,000 small cases, then stop")
    parser.add_argument("--no-watch", action="store_true", help="skip the run --watch measurement")
    args = parser.parse_args()
    if args.profile:
        from parent_profile import profile, profile_reports

        print(profile(1000))
        print(profile_reports(1000))
        return
    sizes = (10, 100, 1000) if args.quick else (10, 100, 1000, 10_000)
    tensors = (10**6,) if args.quick else (10**6, 10**7)
    print(f"frameworks: {', '.join(FRAMEWORKS)}; {os.cpu_count()} cores")
    floor_s = min(floor() for _ in range(3))
    print(f"import floor (all frameworks at once, best of 3): {floor_s:.2f} s\n")
    print(f"{'suite':<16}{'tasks':>8}{'floor s':>9}{'direct s':>10}{'harness s':>11}{'/floor':>9}{'/direct':>9}"
          f"{'ms/task':>10}{'cpu ms':>9}{'parentMB':>9}{'workerMB':>9}{'directMB':>9}{'htmlMB':>8}")
    results = []
    with tempfile.TemporaryDirectory(prefix="regcompare-bench-") as tmp:
        scratch = Path(tmp)
        suites: list[tuple[str, Callable[[], Path]]] = [("shipped cases/", lambda: ROOT / "cases")]
        suites += [(f"small x{n}", lambda n=n: small_suite(scratch / f"small-{n}", n)) for n in sizes]
        suites += [(f"tensor 1e{len(str(e)) - 1}", lambda e=e: tensor_suite(scratch / f"tensor-{e}", e))
                   for e in tensors]
        names = {name for name, _ in suites}
        for name, make in suites:
            if not args.suite or any(name == w or (w not in names and name.startswith(w)) for w in args.suite):
                results.append(measure(name, [str(make())], scratch, floor_s))
        watch = None if args.no_watch else watch_rerun(small_suite(scratch / "watch-10", 10), scratch)
    before_file = ROOT / "bench" / "before.json"
    before = json.loads(before_file.read_text()) if before_file.exists() else {"results": []}
    print(f"\nBefore → now (before: {before.get('source', 'none')}):\n")
    print(table(results, {r["suite"]: r for r in before["results"]}, watch))
    out = ROOT / "reports" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"floor_s": floor_s, "frameworks": FRAMEWORKS, "results": results, "watch": watch},
                              indent=1))
    print(f"\nwritten {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
