from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from regcompare import adapters

FAKES = Path(__file__).parent / "fakes"
ROOT = Path(__file__).parent.parent

#: A small case for end-to-end runs: two tensors, two regularizers, two dtypes.
CASE = """\
name: cli-case
weights: {w: [[1, -2], [-3, 4]], b: [0.5, -0.25]}
dtypes: [float32, float64]
regularizers: [{l2: 1.0}, {l1: 0.5}]
quantities: [penalty, gradient]
"""
OUTPUTS = ("results.json", "results.csv", "report.html", "report.md", "junit.xml")
FAKE_ENV = {"PYTHONPATH": os.pathsep.join([str(FAKES), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The misbehaving frameworks of tests/fakes, registered through the real entry-point group."""
    monkeypatch.syspath_prepend(str(FAKES))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKES), os.environ.get("PYTHONPATH", "")]))
    adapters.specs.cache_clear()
    adapters.conventions.cache_clear()
    yield
    adapters.specs.cache_clear()
    adapters.conventions.cache_clear()


@pytest.fixture
def write_case(tmp_path: Path):
    """Write a case file and return its path."""

    def write(text: str, name: str = "case.yaml") -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def run_cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None):
    """``python -m regcompare ...`` in a subprocess, as a user runs it."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "regcompare", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})},
    )


def run_cases(paths: list[Path], frameworks: tuple[str, ...] = ("torch", "tensorflow", "paddle")):
    """``regcompare.engine.run`` of the case files at ``paths`` through the real frameworks, in a pool of its own."""
    from regcompare import engine
    from regcompare.cases import load_case
    from regcompare.workers import WorkerPool

    pool = WorkerPool()
    try:
        return engine.run([load_case(str(p)) for p in paths], frameworks, pool)
    finally:
        pool.close()
