"""Translators as subjects: a program case's torch snippet translated by a tool, to be run and judged like the
user's own programs (regcompare.programs).

* ``paconvert``: Paddle's torch → paddle converter (``pip install 'regcompare[translators]'``, pinned to the
  paddle release), run as its own command on the snippet in a temporary file, as a user runs it on a project.
  It marks what it cannot convert with ``>>>>>>`` lines: that snippet counts as refused.
* ``regcompare``: regcompare's own ``translate`` (regcompare.translate) of a snippet of the form
  ``opt = torch.optim.X(<params>, name=value, ...)``, into every other framework where it finds an equivalent
  optimizer-level setting; a snippet it cannot read or map is refused with the reason.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

NAMES = ("paconvert", "regcompare")
#: The marker PaConvert puts before every line it could not convert (paconvert/converter.py, ``mark_unsupport``).
PACONVERT_UNSUPPORTED = ">>>>>>"
PACONVERT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Translated:
    """One translator's version of a torch snippet for one framework, or why there is none."""

    translator: str
    framework: str
    source: str = ""
    refused: str = ""


def translate(translator: str, torch_source: str, frameworks: tuple[str, ...]) -> list[Translated]:
    """The translator's snippets for the frameworks it targets among ``frameworks``."""
    if translator == "paconvert":
        return [paconvert(torch_source)] if "paddle" in frameworks else []
    return regcompare_translate(torch_source, tuple(f for f in frameworks if f != "torch"))


# --- PaConvert ----------------------------------------------------------------------------------------------


def _paconvert_command() -> list[str] | None:
    """How to run PaConvert: the ``paconvert`` script beside this interpreter, or on PATH; None if absent."""
    beside = Path(sys.executable).with_name("paconvert")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("paconvert")
    return None if found is None else [found]


@cache
def paconvert(torch_source: str) -> Translated:
    """PaConvert's paddle version of ``torch_source`` (``import torch`` added first, as in a real file)."""
    command = _paconvert_command()
    if command is None:
        return Translated("paconvert", "paddle", refused="paconvert is not installed; install with: "
                          "pip install 'regcompare[translators]'")
    with tempfile.TemporaryDirectory(prefix="regcompare-paconvert-") as tmp:
        src, out = Path(tmp, "program.py"), Path(tmp, "program_paddle.py")
        src.write_text("import torch\n" + torch_source)
        try:
            done = subprocess.run([*command, "--in_dir", str(src), "--out_dir", str(out), "--log_level", "WARNING"],
                                  capture_output=True, text=True, timeout=PACONVERT_TIMEOUT, cwd=tmp)
        except subprocess.TimeoutExpired:
            return Translated("paconvert", "paddle", refused=f"paconvert did not finish in {PACONVERT_TIMEOUT:g} s")
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return Translated("paconvert", "paddle", refused=f"paconvert failed: {tail[0][:200]}")
        code = out.read_text()
    unsupported = [ln.strip() for ln in code.splitlines() if ln.lstrip().startswith(PACONVERT_UNSUPPORTED)]
    if unsupported:
        return Translated("paconvert", "paddle", source=code, refused=f"marked unsupported: {unsupported[0][:200]}")
    return Translated("paconvert", "paddle", source=code)


# --- regcompare's own translate -------------------------------------------------------------------------------


class Unreadable(ValueError):
    """The snippet is not one ``opt = torch.optim.X(params, name=value, ...)`` with literal values."""


def read_torch_call(torch_source: str) -> tuple[str, dict[str, float | bool]]:
    """``("torch.optim.SGD", {"lr": 0.1, "weight_decay": 0.5})`` from the snippet's ``opt = ...`` line."""
    try:
        tree = ast.parse(torch_source)
    except SyntaxError as exc:
        raise Unreadable(f"not Python: {exc.msg}") from None
    calls = [n.value for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
             and any(isinstance(t, ast.Name) and t.id == "opt" for t in n.targets)]
    if len(tree.body) != 1 or len(calls) != 1:
        raise Unreadable("regcompare translates a snippet of one line, opt = torch.optim.X(params, name=value, ...)")
    call = calls[0]
    api = ast.unparse(call.func)
    if not api.startswith("torch.optim."):
        raise Unreadable(f"{api} is not a torch.optim class")
    native: dict[str, float | bool] = {}
    for kw in call.keywords:
        if kw.arg is None or kw.arg == "params":
            continue
        try:
            value = ast.literal_eval(kw.value)
        except ValueError:
            raise Unreadable(f"{kw.arg}={ast.unparse(kw.value)} is not a literal value") from None
        if isinstance(value, tuple):
            native |= {f"{kw.arg}[{i}]": float(v) for i, v in enumerate(value)}
        else:
            native[kw.arg] = value if isinstance(value, bool) else float(value)
    if len(call.args) != 1 and not any(kw.arg == "params" for kw in call.keywords):
        raise Unreadable("the optimizer takes the parameters as its one positional argument")
    return api, native


#: How each framework's optimizer takes the parameters in a snippet (Keras optimizers take none).
_PARAMS_ARGUMENT = {"torch": "params.values()", "paddle": "parameters=list(params.values())"}


def _with_params(framework: str, call_text: str) -> str:
    head, _, rest = call_text.partition("(")
    argument = _PARAMS_ARGUMENT.get(framework)
    if argument is None:
        return call_text
    return f"{head}({argument}{', ' if rest != ')' else ''}{rest}"


def _has_optimizers(framework: str) -> bool:
    from regcompare import adapters

    return any(c.framework == framework and c.optimizers for c in adapters.conventions().values())


def regcompare_translate(torch_source: str, frameworks: tuple[str, ...]) -> list[Translated]:
    """One snippet per framework from the first equivalent optimizer-level translation ``translate`` finds."""
    from regcompare import translate as tr

    try:
        api, native = read_torch_call(torch_source)
        found = tr.translations(tr.source(api, native))
    except ValueError as exc:  # Unreadable, TranslateError, the registry's own refusals
        return [Translated("regcompare", fw, refused=str(exc)) for fw in frameworks]
    out = []
    for fw in frameworks:
        usable = [t for t in found if t.framework == fw and t.conv.role in ("optimizer", "optimizer regularizer")]
        best = next((t for t in usable if t.equivalent), None)
        if best is None and not usable and not _has_optimizers(fw):
            continue  # a framework with no optimizer at all (numpy) is no target
        if best is None:
            why = usable[0].why if usable else "no optimizer-level setting of this framework in the registry"
            out.append(Translated("regcompare", fw, refused=f"no equivalent setting: {why}"))
            continue
        out.append(Translated("regcompare", fw, source=f"opt = {_with_params(fw, best.text())}\n"))
    return out
