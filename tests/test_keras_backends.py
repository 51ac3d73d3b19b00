"""Keras 3 on its backends: the tensorflow worker pins its backend, and the keras-torch and keras-jax workers run
the same Keras APIs on torch and jax, agreeing with TensorFlow's Keras to a few ULP.

No framework is imported here: everything runs in workers or in ``python -m regcompare`` subprocesses.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

SEED_CASE = ROOT / "cases" / "seeds" / "tf_regularizer_comparison.yaml"


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"]


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow installed")
def test_an_exported_keras_backend_does_not_move_the_tensorflow_worker(tmp_path: Path) -> None:
    """The issue's report: with KERAS_BACKEND=torch exported, Keras regularizer gradients came back 0 (18
    mismatch rows) and 12 rows were errors. Pinned, the rows are those of a run without the variable."""
    plain, exported = tmp_path / "plain", tmp_path / "exported"
    first = run_cli("run", str(SEED_CASE), "--frameworks", "tensorflow", "--out", str(plain))
    second = run_cli("run", str(SEED_CASE), "--frameworks", "tensorflow", "--out", str(exported),
                     env={"KERAS_BACKEND": "torch"})
    assert first.returncode == 0 and second.returncode == 0, second.stdout + second.stderr
    rows = _rows(exported)
    assert rows == _rows(plain)
    assert {r["status"] for r in rows} == {"match"} and len(rows) == 65


def test_a_keras_imported_on_another_backend_fails_the_import_with_the_reason() -> None:
    """``checked`` is what each Keras worker runs after its import: Keras already loaded on jax (KERAS_BACKEND
    set only after the import, as a user's code might do) is refused with why."""
    code = (
        "import os; os.environ['KERAS_BACKEND'] = 'jax'; import keras\n"
        "from regcompare.adapters import keras_backend\n"
        "keras_backend.pin('tensorflow')\n"
        "try:\n    keras_backend.checked(keras, 'tensorflow')\n"
        "except keras_backend.BackendMismatch as exc:\n    print(exc)\n"
    )
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax installed")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "Keras runs on the 'jax' backend, this worker needs 'tensorflow'" in done.stdout, done.stderr
