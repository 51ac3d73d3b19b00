"""Determinism: the same inputs give the same results.json, byte for byte, once environment and
timing (the `environment` block) are dropped."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CASE, run_cli


def test_same_inputs_give_byte_identical_results_apart_from_environment(write_case, tmp_path: Path) -> None:
    case = write_case(CASE)
    docs = []
    for name in ("a", "b"):
        assert run_cli("run", case, "--frameworks", "numpy,torch", "--out", str(tmp_path / name)).returncode == 0
        doc = json.loads((tmp_path / name / "results.json").read_text())
        del doc["environment"]
        docs.append(json.dumps(doc, sort_keys=True))
    assert docs[0] == docs[1]
