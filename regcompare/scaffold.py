"""``regcompare new NAME``: a commented case file to start from, which validates and runs as written.

The template shows every key a first case needs, each with a comment saying what it does and what the
alternatives are; the full format is in docs/case-format.md. Weights come inline, or from the user's own
``.npy``/``.npz`` file (``--weights``), referenced relative to the case file as ``{file: ...}``.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

#: A case name becomes a file name and an HTML anchor: keep it to these characters.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

TEMPLATE = """\
# {name}: a regcompare case (format: docs/case-format.md). Check it with
#   .venv/bin/regcompare validate {path}
# and run it with
#   .venv/bin/regcompare run {path} --out reports/{name}
# name: unique across case files (default: the file's stem)
name: {name}
description: What this case checks, in one sentence.

weights:                          # one or more named tensors, every one regularized
{weights}
dtypes: [float32, float64]        # float16 | bfloat16 | float32 | float64

regularizers:                     # canonical coefficients: R(w) = l1·Σ|w| + (l2/2)·Σw², dR/dw = l1·sign(w) + l2·w
  - {{l2: 0.01}}                    # l2 is the weight_decay number of torch and paddle optimizers
  - {{l1: 0.001, l2: 0.01}}         # each entry runs through every API that can express it

quantities: [penalty, gradient]   # also: update (optimizer steps; needs `optimizer`), trajectory (a training run)
# optimizer: {{name: sgd, lr: 0.1, momentum: 0.9}}   # for `update`: sgd | adam | adamw
# grads: {{w: ones}}                                 # per-step loss gradients for `update` (default zeros)
# steps: 2

# frameworks: [numpy, torch, tensorflow, paddle]    # default: all of them
# tolerance: {{float32: {{rtol: 1.0e-6}}}}              # default: torch.testing's per dtype

# expect:                         # golden values in an API's own terms (`regcompare conventions` lists them)
#   - {{api: keras.regularizers.L2, native: {{l2: 1.0}}, raw: 30.0, dtype: float32}}
# known:                          # findings this case expects, each with its reason: they do not fail the run
#   - {{status: mismatch, framework: tensorflow, dtype: float16, reason: "why it is expected"}}
"""

INLINE = """\
  w: [[1, -2], [-3, 4]]           # inline; or {shape: [64, 32], init: normal, seed: 0, scale: 1.0}
  b: {shape: [3], fill: 0.5}      # or a numpy file: {file: w.npy}, {file: model.npz, key: w}"""


class ScaffoldError(ValueError):
    """The case cannot be written (bad name, file exists, unreadable weights); the message says why."""


def weight_lines(weights: Path | None, case_dir: Path) -> str:
    """The ``weights:`` entries: inline examples, or one ``{file: ...}`` per array of the user's file."""
    if weights is None:
        return INLINE
    if not weights.is_file():
        raise ScaffoldError(f"--weights: no such file {weights}")
    rel = Path(os.path.relpath(weights.resolve(), case_dir.resolve())).as_posix()
    if zipfile.is_zipfile(weights):
        with zipfile.ZipFile(weights) as archive:
            names = [n.removesuffix(".npy") for n in archive.namelist() if n.endswith(".npy")]
        if not names:
            raise ScaffoldError(f"--weights: {weights} holds no numpy arrays")
        return "\n".join(f"  {_key(n)}: {{file: {rel}, key: {n}}}" for n in names)
    return f"  {_key(weights.stem)}: {{file: {rel}}}     # relative to this file's folder"


def _key(name: str) -> str:
    """A weight name as a YAML key: plain when it can be, quoted otherwise."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) else repr(name)


def render(name: str, path: Path, weights: Path | None = None) -> str:
    return TEMPLATE.format(name=name, path=path.as_posix(), weights=weight_lines(weights, path.parent))


def write(name: str, folder: Path = Path("cases"), weights: Path | None = None, force: bool = False) -> Path:
    """Write ``folder/NAME.yaml`` and return its path; never overwrites unless ``force``."""
    if not NAME.match(name):
        raise ScaffoldError(f"{name!r}: a case name is letters, digits, '-', '_' and '.', "
                            "starting with a letter or digit")
    path = folder / f"{name}.yaml"
    if path.exists() and not force:
        raise ScaffoldError(f"{path} exists; pick another name or pass --force")
    text = render(name, path, weights)
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
