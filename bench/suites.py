"""Generated benchmark suites: many small cases, or one case with a large tensor."""

from __future__ import annotations

from pathlib import Path

SMALL_CASE = """\
name: small-{i}
weights:
  w: {{shape: [4, 4], init: normal, seed: {i}, scale: 1.0}}
  b: {{shape: [4], init: uniform, seed: {j}, scale: 0.1}}
dtypes: [float32]
regularizers:
  - {{l2: 0.01}}
  - {{l1: 0.001}}
quantities: [penalty, gradient]
"""

TENSOR_CASE = """\
name: tensor-{elements}
weights:
  w: {{shape: [{elements}], init: normal, seed: 0, scale: 1.0}}
dtypes: [float32]
regularizers:
  - {{l2: 0.01}}
quantities: [penalty, gradient]
frameworks: [numpy, torch, tensorflow, paddle]
"""


def small_suite(folder: Path, count: int) -> Path:
    """``count`` small cases, one file each (as a large suite of hand-written cases would be)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"small_{i:05d}.yaml").write_text(SMALL_CASE.format(i=i, j=i + 100_000))
    return folder


def tensor_suite(folder: Path, elements: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"tensor_{elements}.yaml").write_text(TENSOR_CASE.format(elements=elements))
    return folder
