"""The worker's side of program cases (docs/programs.md), shared by the adapters' ``program`` methods.

A program task carries the user's snippet; the adapter gives it ``params`` (and its framework's modules), runs it
the way pytest runs test code (``exec`` of code compiled under the case file's name, so a traceback points at the
snippet's line), then trains what the snippet defined for ``steps`` steps in its framework's idiom and returns every
weight after every step, in the case's layout. Nothing here imports a framework.

Layouts: a snippet may define ``model`` (a layer) instead of training ``params``. The case's weights are then
matched to the layer's parameters by their Keras names (``kernel``, ``bias``, ``gamma``, ``beta``), the common
vocabulary, each framework listing its parameters in that vocabulary with their layout (``LayoutEntry``): a torch
``Linear.weight`` is (out, in), the transpose of a Keras ``Dense`` kernel (in, out), which paddle's ``Linear.weight``
shares (torch/nn/modules/linear.py, keras/src/layers/core/dense.py, paddle/nn/layer/common.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Key of the program's result that carries the layout mapping used (a text, not a tensor).
MAPPING_KEY = "__mapping__"


@dataclass(frozen=True)
class LayoutEntry:
    """One trainable parameter of a layer, named in the common (Keras) vocabulary."""

    name: str
    """``kernel``, ``bias``, ``gamma``, ``beta``, or the framework's own name where no common one exists."""
    where: str
    """How the framework calls it, e.g. ``Linear.weight`` or ``0.weight``."""
    param: Any
    transposed: bool = False
    """The framework stores the transpose of the case's (Keras) layout."""


class ProgramError(Exception):
    """The snippet did not define what the harness needs, or its layer does not fit the case's weights."""


def run_snippet(task: Any, namespace: dict[str, Any], required: str = "opt") -> dict[str, Any]:
    """Run the task's snippet in ``namespace`` (which it may extend); the names it defined are returned.
    ``required``: the name the snippet must define (``opt``; an optax adapter would ask for ``tx``)."""
    options = task.options
    code = compile(options["source"], f"{options.get('file', 'case')}:programs.{options['side']}", "exec")
    exec(code, namespace)  # the user's own code from their case file, run as pytest runs test code
    if required not in namespace:
        raise ProgramError(f"the snippet defined no `{required}` (the optimizer the harness steps)")
    return namespace


def bind(case_names: list[str], entries: list[LayoutEntry]) -> dict[str, LayoutEntry]:
    """Each case weight matched, in order, to the next layer parameter with its name's last part (``bias`` in
    ``dense.bias``). Every trainable parameter must be matched: an unmatched one would train on no gradient."""
    bound: dict[str, LayoutEntry] = {}
    free = list(entries)
    for name in case_names:
        short = name.replace("/", ".").rsplit(".", 1)[-1]
        found = next((e for e in free if e.name == short), None)
        if found is None:
            names = ", ".join(e.name for e in free) or "none left"
            raise ProgramError(f"the model has no parameter for the case's weight {name!r} (its parameters: {names})")
        free.remove(found)
        bound[name] = found
    if free:
        raise ProgramError(f"the case gives no weight for the model's {', '.join(e.where for e in free)}")
    return bound


def mapping_text(bound: dict[str, LayoutEntry]) -> str:
    """What the rows say about the layout: ``kernel = Linear.weight.T, bias = Linear.bias``."""
    return ", ".join(f"{n} = {e.where}{'.T' if e.transposed else ''}" for n, e in bound.items())


def train(
    steps: int, step: Callable[[], None], scheduler_step: Callable[[], None] | None,
    read: Callable[[], dict[str, Any]],
) -> dict[str, list[Any]]:
    """``steps`` optimizer steps (then the scheduler's, as a torch/paddle training loop orders them), the weights
    read after each."""
    history: dict[str, list[Any]] = {}
    for _ in range(steps):
        step()
        if scheduler_step is not None:
            scheduler_step()
        for name, value in read().items():
            history.setdefault(name, []).append(value)
    return history
