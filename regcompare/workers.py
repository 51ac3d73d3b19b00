"""The parent's side of the framework workers: start, feed, watch, restart.

Each framework gets one long-lived process (``regcompare.worker``), started in its own session so a
crash, a hang or Ctrl-C can be dealt with per process group. A task that crashes its worker (a
signal) or outlives ``task_timeout`` becomes an ``error`` outcome; the worker is started again for
the tasks that remain, so one bad task costs one row, not a framework.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from regcompare import adapters
from regcompare.adapters import AdapterSpec
from regcompare.adapters.base import Task
from regcompare.protocol import Reader, Timeout, write_message

Status = Literal["ok", "unsupported", "error", "skipped"]

DEFAULT_TASK_TIMEOUT = 120.0
DEFAULT_START_TIMEOUT = 300.0
MAX_RESTARTS = 3
#: Jobs sent to a worker in one message, and the new weights' bytes such a message may carry: enough that the
#: round trip is paid once per many small tasks, few enough that the outcomes of an interrupted run end soon.
BATCH_TASKS = 256
BATCH_BYTES = 64 << 20


@dataclass
class Outcome:
    status: Status
    value: Any = None
    detail: str = ""


@dataclass
class FrameworkInfo:
    """What the run learned about a framework: ``ok``, ``missing`` or ``error``, with version or reason."""

    status: str
    version: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        out = {"status": self.status}
        if self.version:
            out["version"] = self.version
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Job:
    """A task as the pool sees it: ``wid`` names its weight set, sent once per worker."""

    key: Any
    wid: Any
    task: Task
    group: Any = None
    """Jobs that share one restart budget (a case): after ``MAX_RESTARTS`` lost workers the rest of the group is
    given up, and the next group starts afresh. ``None``: one budget for every such job of the run."""


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


class Worker:
    """One running worker process and the weight sets it holds."""

    def __init__(self, spec: AdapterSpec, log_dir: str) -> None:
        self.spec = spec
        to_child, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.log_path = os.path.join(log_dir, f"{spec.framework}-{os.getpid()}-{id(self)}.log")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "regcompare.worker", spec.module, str(to_child), str(from_child_w),
                 spec.package],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(to_child, from_child_w), start_new_session=True,
            )
        os.close(to_child)
        os.close(from_child_w)
        self._results = Reader(self._from_child)
        self.sent: set[Any] = set()
        self._closed = self._stopping = False
        self.favoured = False  # kept off the feeding threads' CPU (WorkerPool.favour)

    def hello(self, timeout: float) -> FrameworkInfo:
        """Wait for the framework import to finish: its version, or why it could not run."""
        try:
            message = self._results.read(timeout)
        except Timeout:
            self.kill()
            return FrameworkInfo("error", reason=f"import did not finish within {timeout:g} s")
        if message is None:
            return FrameworkInfo("error", reason=f"{self.death()} while importing")
        _, status, text = message
        if status == "ok":
            return FrameworkInfo("ok", version=text)
        hint = f"; install with: {self.spec.install_hint}" if status == "missing" else ""
        return FrameworkInfo(status, reason=text + hint)

    def death(self) -> str:
        """Why the process is gone, in one line, with the last line of its log."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.wait()
        why = f"worker exited with {_signal_name(-code)}" if code < 0 else f"worker exited with status {code}"
        tail = self.log_tail()
        return f"{why}; last output: {tail}" if tail else why

    def log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, os.path.getsize(self.log_path) - 4096))
                lines = [ln.strip() for ln in log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def evaluate_many(
        self, jobs: list[Job], timeout: float, forget: Iterable[Any] = ()
    ) -> Iterator[Outcome | Literal["died", "hung"]]:
        """The jobs' outcomes in order, as they arrive; after ``died`` (end of stream) or ``hung`` (no result within
        ``timeout`` of the previous one) nothing more: that job is the one the worker was lost on.

        The whole batch goes out in one message (weights it needs first, once per worker), so the worker runs
        its tasks back to back as a plain loop would, instead of waiting a round trip for each."""
        parts: list[tuple[Any, ...]] = []
        for wid in forget:
            if wid in self.sent:
                parts.append(("forget", wid))
                self.sent.discard(wid)
        for job in jobs:
            if job.wid not in self.sent:
                parts.append(("weights", job.wid, job.task.weights))
                self.sent.add(job.wid)
            t = job.task
            parts.append(("task", job.key, job.wid, t.api, t.quantity, t.dtype, t.native, t.options))
        try:
            write_message(self._to_child, ("batch", parts))
        except BrokenPipeError:
            yield "died"
            return
        for _ in jobs:
            try:
                message = self._results.read(timeout)
            except Timeout:
                yield "hung"
                return
            if message is None:
                yield "died"
                return
            _, _key, status, value, detail = message
            yield Outcome(status, value, detail)

    def evaluate(self, job: Job, timeout: float, forget: Iterable[Any] = ()) -> Outcome | Literal["died", "hung"]:
        """One job's outcome, or how the worker was lost: ``died`` (end of stream) or ``hung`` (timeout)."""
        return next(iter(self.evaluate_many([job], timeout, forget)))

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def stop(self) -> None:
        """Ask the worker to end, without waiting for it (``close`` waits)."""
        if not self._closed and not self._stopping and self.process.poll() is None:
            self._stopping = True
            try:
                write_message(self._to_child, ("stop",))
            except BrokenPipeError:
                pass

    def close(self) -> None:
        """Stop politely, then for sure; release the pipes exactly once (their numbers get reused)."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        os.close(self._to_child)
        os.close(self._from_child)


def share_one_cpu() -> None:
    """Keep the calling thread on the first CPU this process may use (Linux; elsewhere nothing changes).

    The parent's threads that feed the workers and judge their results call this: they hold one GIL between
    them, so one CPU is all they can use, and a thread woken by a worker's result would otherwise often run on
    that worker's CPU (the scheduler wakes a thread near its waker) and take turns with it. Workers started
    from such a thread take the parent's own CPUs back (regcompare.worker)."""
    if hasattr(os, "sched_setaffinity"):
        cpus = os.sched_getaffinity(0)
        if len(cpus) > 1:
            os.sched_setaffinity(0, {min(cpus)})


def process_cpus() -> set[int]:
    """The CPUs this process may use: its main thread's (a feeding thread keeps to one of them, ``share_one_cpu``).
    Linux only (``os.sched_getaffinity``)."""
    return os.sched_getaffinity(os.getpid())


def set_cpus(pid: int, cpus: set[int]) -> None:
    """Let every thread of process ``pid`` run on ``cpus`` only (Linux: affinity belongs to a thread, and one
    started later takes its starter's). Raises OSError (the process is gone)."""
    for thread in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(thread), cpus)
        except ProcessLookupError:
            pass  # that thread ended meanwhile


@dataclass
class WorkerPool:
    """At most one live worker per framework, reused across calls (a run, or a pytest session)."""

    task_timeout: float = DEFAULT_TASK_TIMEOUT
    start_timeout: float = DEFAULT_START_TIMEOUT
    workers: dict[str, Worker] = field(default_factory=dict)
    info: dict[str, FrameworkInfo] = field(default_factory=dict)
    closed: bool = False
    """Set by ``abort``: no worker starts again and remaining jobs end at once."""
    _spawned: list[Worker] = field(default_factory=list)
    _early: dict[str, Worker] = field(default_factory=dict)
    """Workers ``prestart`` started whose import nobody has waited for yet."""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _log_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="regcompare-workers-"))

    def _worker(self, framework: str) -> Worker | None:
        worker = self.workers.get(framework)
        if worker is not None and worker.alive():
            return worker
        if self.closed or (framework in self.info and self.info[framework].status != "ok"):
            return None  # interrupted, or it could not start before: do not import again for every task
        spec = adapters.specs()[framework]
        if spec.broken:
            self.info[framework] = FrameworkInfo("error", reason=spec.broken)
            return None
        worker = self._early.pop(framework, None) or self._spawn(spec)
        info = worker.hello(self.start_timeout)
        with self._lock:
            self.info[framework] = info
        if info.status != "ok" or self.closed:
            with self._lock:
                self._spawned.remove(worker)
            worker.close()
            return None
        self.workers[framework] = worker
        return worker

    def _spawn(self, spec: AdapterSpec) -> Worker:
        os.makedirs(self._log_dir, exist_ok=True)  # again, if the pool is used after ``close``
        worker = Worker(spec, self._log_dir)
        with self._lock:
            self._spawned.append(worker)  # before the import finishes, so abort() can reach it
        return worker

    def prestart(self, frameworks: Iterable[str]) -> None:
        """Start these frameworks' workers now, without waiting for their imports (seconds each): a run overlaps
        them with loading and planning its cases. The first task of a framework waits for its import as usual; a
        worker that no task needs is stopped by ``close`` and its framework counts as not run."""
        for framework in frameworks:
            spec = adapters.specs()[framework]
            if self.closed or spec.broken or framework in self.workers or framework in self._early:
                continue
            self._early[framework] = self._spawn(spec)

    @property
    def favoured(self) -> str | None:
        """The framework whose live worker keeps off the feeding threads' CPU (``favour``), if any; a worker
        started again after a loss is not favoured until ``favour`` says so."""
        return next((name for name, worker in self.workers.items() if worker.favoured), None)

    def favour(self, framework: str | None) -> None:
        """Keep ``framework``'s worker (the run's longest path) off the CPU that the parent's feeding threads keep
        to (``share_one_cpu``), and every other worker on all of the parent's CPUs; ``None``: every worker on all
        of them. Linux only; elsewhere, or with one CPU, nothing changes.

        CPU affinity, not a scheduling policy: affinity can be given back, and the slowest framework can change
        during a run. A worker at SCHED_IDLE (sched(7)) can only return to normal priority with CAP_SYS_NICE.
        Where it worked (the workers in the parent's session), a worker that had run ahead starved under the
        parent's and the report writer's load, fell behind, and the slowest one yielded in turn: a
        10,000-case run took 293.5 s, tensorflow's worker waiting 37 s for a CPU. Each in its own session, as
        here, a worker is a scheduling group of its own (Linux's autogroup), and SCHED_IDLE changed nothing."""
        if not hasattr(os, "sched_setaffinity"):
            return
        cpus = process_cpus()
        others = cpus - {min(cpus)}
        for name, worker in list(self.workers.items()):
            favoured = name == framework and bool(others)
            if favoured != worker.favoured:
                try:
                    set_cpus(worker.process.pid, others if favoured else cpus)
                except OSError:  # gone: a restarted worker starts with the parent's CPUs
                    continue
                worker.favoured = favoured

    def framework_info(self, framework: str) -> FrameworkInfo:
        self._worker(framework)
        return self.info[framework]

    def run(self, framework: str, jobs: list[Job], on_outcome: Callable[[Job, Outcome], None]) -> None:
        """Evaluate jobs in order; every job gets exactly one outcome, whatever happens.

        Jobs go to the worker in batches (``_batch``); a worker lost on a job costs that job, and the rest of its
        batch goes to the fresh worker."""
        last_use = {job.wid: i for i, job in enumerate(jobs)}
        lost: dict[Any, int] = {}
        i = 0
        while i < len(jobs):
            job = jobs[i]
            if self.closed:
                on_outcome(job, Outcome("error", detail="the run was interrupted"))
                i += 1
                continue
            if lost.get(job.group, 0) > MAX_RESTARTS:
                on_outcome(job, Outcome("error", detail=self._given_up(lost[job.group], job.group)))
                i += 1
                continue
            worker = self._worker(framework)
            if worker is None:
                on_outcome(job, self._not_running(framework))
                i += 1
                continue
            batch = self._batch(jobs, i, worker, lost)
            forget = [wid for wid in list(worker.sent) if last_use.get(wid, -1) < i]
            answered = 0
            try:
                for job, outcome in zip(batch, worker.evaluate_many(batch, self.task_timeout, forget), strict=False):
                    answered += 1
                    if not isinstance(outcome, Outcome):
                        outcome = self._lost(framework, worker, hung=outcome == "hung")
                        lost[job.group] = lost.get(job.group, 0) + 1
                    on_outcome(job, outcome)
                    i += 1
                    if self.closed:
                        break  # the rest are answered "interrupted" at once, not after the worker's next result
            finally:
                if answered < len(batch) and self.workers.get(framework) is worker:
                    # Results of this batch are still on their way: the next batch would read them as its own.
                    self._retire(framework, worker)

    def _batch(self, jobs: list[Job], start: int, worker: Worker, lost: dict[Any, int]) -> list[Job]:
        """The jobs from ``start`` that go to the worker in one message: at most ``BATCH_TASKS``, with at most
        ``BATCH_BYTES`` of weights the worker does not hold yet (one job at least), and none of a group given up
        (a group's budget only changes when a worker is lost, which ends the batch)."""
        batch: list[Job] = []
        new_bytes, new = 0, set()
        for job in jobs[start:start + BATCH_TASKS]:
            if lost.get(job.group, 0) > MAX_RESTARTS:
                break
            if job.wid not in worker.sent and job.wid not in new:
                size = sum(np.asarray(w).nbytes for w in job.task.weights.values())
                if batch and new_bytes + size > BATCH_BYTES:
                    break
                new_bytes += size
                new.add(job.wid)
            batch.append(job)
        return batch

    @staticmethod
    def _given_up(times: int, group: Any) -> str:
        where = "in this case" if group is not None else "in this run"
        return f"not run: the worker was lost {times} times {where}; giving up on the rest of it"

    def _lost(self, framework: str, worker: Worker, hung: bool) -> Outcome:
        """The outcome of the task a worker was lost on; the next task starts a fresh worker."""
        self.workers.pop(framework, None)
        with self._lock:
            self._spawned.remove(worker)
        if hung:
            worker.kill()  # before close(), which would politely wait for a stop that never comes
            worker.close()
            return Outcome("error", detail=f"timed out after {self.task_timeout:g} s (worker killed)")
        why = worker.death()  # waits for the exit status before anything is closed
        worker.close()
        return Outcome("error", detail=why)

    def _retire(self, framework: str, worker: Worker) -> None:
        """Stop a worker whose stream is out of step with its jobs (a caller's exception, an interrupt)."""
        self.workers.pop(framework, None)
        with self._lock:
            if worker in self._spawned:
                self._spawned.remove(worker)
        worker.kill()
        worker.close()

    def _not_running(self, framework: str) -> Outcome:
        if self.closed:
            return Outcome("error", detail="the run was interrupted")
        info = self.info[framework]
        if info.status == "missing":
            return Outcome("skipped", detail=f"{framework} is not installed: {info.reason}")
        return Outcome("error", detail=f"{framework} worker could not run: {info.reason}")

    def abort(self) -> None:
        """Kill every worker now (Ctrl-C, SIGTERM); safe to call from a signal handler.

        Only processes are killed here; threads blocked on a worker's pipe see end of stream and
        return, and ``close`` releases the pipes afterwards.
        """
        self.closed = True
        for worker in list(self._spawned):
            worker.kill()

    def close(self) -> None:
        """Stop every worker and remove the folder of their logs (one per pool, never left behind)."""
        with self._lock:
            spawned, self._spawned = self._spawned, []
        for worker in spawned:  # every worker is told first, so they end side by side, not one after another
            worker.stop()
        for worker in spawned:
            worker.close()
        self.workers.clear()
        self._early.clear()
        shutil.rmtree(self._log_dir, ignore_errors=True)


def evaluate(framework: str, tasks: list[Task], timeout: float = DEFAULT_TASK_TIMEOUT) -> list[Outcome]:
    """Run tasks on one framework in a fresh worker: the simplest entry point (tests, scripts)."""
    pool = WorkerPool(task_timeout=timeout)
    outcomes: list[Outcome] = []
    try:
        jobs = [Job(i, id(t.weights), t) for i, t in enumerate(tasks)]
        pool.run(framework, jobs, lambda _job, outcome: outcomes.append(outcome))
    finally:
        pool.close()
    return outcomes


def iter_values(value: Any) -> Iterator[np.ndarray]:
    if isinstance(value, dict):
        yield from value.values()
    elif value is not None:
        yield np.asarray(value)
