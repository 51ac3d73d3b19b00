"""Misbehaving frameworks, registered through the real entry-point group, to test the harness.

Each fake computes the canonical penalty correctly with numpy (it is a fake: it tests the harness's
handling, never a framework) and misbehaves on float64 inputs only, so one run shows both the
faulty rows and the rows that must survive them. With ``tests/fakes`` on ``sys.path`` (and
``PYTHONPATH`` for workers), ``regcompare.adapters.specs()`` finds them like any third-party adapter.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time

import numpy as np

from regcompare.adapters import AdapterSpec
from regcompare.adapters.base import Adapter, Task, Value
from regcompare.conventions import Convention, Param


class _Fake(Adapter):
    framework = "fake"
    refusals = (NotImplementedError,)

    def __init__(self) -> None:
        super().__init__()
        self.apis = {f"{self.framework}.penalty": self.penalty}

    def version(self) -> str:
        return "0.1"

    def misbehave(self, task: Task) -> None:
        """Called on float64 inputs."""

    def penalty(self, task: Task) -> Value:
        if task.dtype == "float64":
            self.misbehave(task)
        l2 = task.native.get("l2", 0.0)
        return np.asarray(sum(l2 / 2 * float(np.sum(w.astype(np.float64) ** 2)) for w in task.weights.values()))


class Segv(_Fake):
    framework = "fake-segv"

    def misbehave(self, task: Task) -> None:
        os.kill(os.getpid(), signal.SIGSEGV)


class Hang(_Fake):
    framework = "fake-hang"

    def misbehave(self, task: Task) -> None:
        time.sleep(3600)


class Raises(_Fake):
    framework = "fake-raises"

    def misbehave(self, task: Task) -> None:
        raise KeyError("a bug inside the adapter")


class Noisy(_Fake):
    framework = "fake-noisy"

    def __init__(self) -> None:
        print("\x00\x00\x00\x00\x00\x00\x00\x08 noise that looks like a frame header", flush=True)
        sys.stderr.write("W0000 some framework warning on stderr\n")
        super().__init__()

    def penalty(self, task: Task) -> Value:
        print("oneDNN custom operations are on" * 100, flush=True)
        os.write(1, b"\xff\xfe raw bytes on fd 1\n")
        os.write(2, b"raw bytes on fd 2\n")
        return super().penalty(task)


class Wrong(_Fake):
    framework = "fake-wrong"

    def penalty(self, task: Task) -> Value:
        value = float(super().penalty(task))
        if task.dtype == "float64":
            raise NotImplementedError("fake-wrong has no float64 kernel")
        return np.asarray(2 * value if value else math.nan)


def _spec(framework: str, attr: str, module: str = "fake_adapters", package: str = "") -> AdapterSpec:
    conv = Convention(
        f"{framework}.penalty", framework, "penalty", ("penalty",), (Param("l2", "l2", 1.0, 0.0),),
        "l2/2·Σw²", "penalty", "a fake for harness tests",
    )
    return AdapterSpec(framework, f"{module}:{attr}", "pip install nothing (a test fake)", (conv,), package)


SEGV = _spec("fake-segv", "Segv")
HANG = _spec("fake-hang", "Hang")
RAISES = _spec("fake-raises", "Raises")
NOISY = _spec("fake-noisy", "Noisy")
WRONG = _spec("fake-wrong", "Wrong")
ABSENT = _spec("fake-absent", "Missing", module="no_such_framework_module")
BROKEN = _spec("fake-broken", "Broken", module="fake_broken")


class CrashesOnCase(_Fake):
    """Segfaults on every task whose weights hold 666: one bad case among good ones."""

    framework = "fake-crash-case"

    def penalty(self, task: Task) -> Value:
        if any((w == 666).any() for w in task.weights.values()):
            os.kill(os.getpid(), signal.SIGSEGV)
        return super().penalty(task)


CRASH_CASE = _spec("fake-crash-case", "CrashesOnCase")
CORRUPT = _spec("fake-corrupt", "Nothing", module="fake_inner_import", package="fake_corepkg")
"""Installed (``fake_corepkg`` exists) but its import fails inside the package: ``error``, never ``skipped``."""
NEEDS_DEP = _spec("fake-needs-dep", "Nothing", module="fake_needs_dep", package="fake_adapters")
"""Installed, but a dependency of it is not: ``error`` with the reason, never ``skipped``."""
NOT_A_SPEC = 42
"""An entry point that loads but is not an AdapterSpec (see tests/fakes_broken)."""
CLASH = AdapterSpec("fake-clash", "fake_adapters:Segv", "pip install nothing", ABSENT.conventions)
"""Records for an API another adapter already has (``fake-absent.penalty``, loaded before it)."""
