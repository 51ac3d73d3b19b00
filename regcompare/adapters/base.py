"""The contract between the harness and one framework's adapter.

An adapter runs inside its framework's own worker process (never in the harness process): the
worker imports the adapter module once, builds the adapter once, and hands it every task of the run.
Each API is one method that makes the framework's real call; the harness maps coefficients
(``Task.native``), computes the reference and judges the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

#: What an API returns: a penalty as a 0-d array, a gradient or update as one array per tensor.
#: Arrays may be in the task's dtype or float64 (the worker widens them exactly to float64).
Value = np.ndarray | dict[str, np.ndarray]


@dataclass(frozen=True)
class Task:
    """One evaluation: an API, a quantity and one dtype, on dtype-rounded weights."""

    api: str
    quantity: str
    dtype: str
    native: dict[str, float]
    """The API's own arguments, already mapped from canonical by the registry. A missing key means
    'call with the API's default' (an ``expect`` entry with ``native: {}``)."""
    weights: dict[str, np.ndarray]
    """Named tensors of dtype ``dtype`` (bfloat16 as ``ml_dtypes.bfloat16``)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Quantity-specific settings chosen by the harness, e.g. ``lr`` for a gradient measured
    through an optimizer step (see ``regcompare.measure``)."""


class Unsupported(Exception):
    """The framework refuses this input (no kernel for the dtype, ...): an ``unsupported`` row."""


class Adapter:
    """Base of every adapter: one method per API, found through ``apis``.

    Subclasses import their framework in ``__init__`` (the worker does this once per run) and fill
    ``apis``. ``refusals`` lists the exception types by which the framework says "I cannot do this
    input"; they become ``unsupported`` rows with the framework's own message. Any other exception
    is a harness or adapter bug and becomes an ``error`` row.
    """

    framework: ClassVar[str]
    refusals: tuple[type[BaseException], ...] = (Unsupported,)

    def __init__(self) -> None:
        self.apis: dict[str, Callable[[Task], Value]] = {}

    def version(self) -> str:
        raise NotImplementedError

    def optimizer(self, task: Task) -> Value:
        """The ``update`` of an optimizer class that is its own API (``torch.optim.RMSprop``): the class named by
        ``task.options["optimizer"]`` run ``steps`` times. An adapter whose optimizers all run through one method
        overrides this, and a new optimizer then needs a registry record only, no entry in ``apis``."""
        raise LookupError(f"{self.framework} adapter has no API {task.api!r}")

    def program(self, task: Task) -> Value:
        """A program case's snippet run and trained in this framework's idiom: each weight after every step,
        stacked (regcompare.program_run). Adapters that can run user code override this."""
        raise LookupError(f"{self.framework} adapter runs no programs")

    def run(self, task: Task) -> Value:
        if task.quantity == "program":
            return self.program(task)
        call = self.apis.get(task.api)
        if call is None and task.quantity == "update" and task.options.get("optimizer") == task.api:
            call = self.optimizer
        if call is None:
            raise LookupError(f"{self.framework} adapter has no API {task.api!r}")
        return call(task)


def tuple_args(args: dict[str, Any]) -> dict[str, Any]:
    """The registry's flat argument names as the frameworks take them: ``etas[0]``, ``etas[1]`` become one tuple
    ``etas`` (torch ``betas``/``etas``/``step_sizes``, paddle ``etas``/``learning_rate_range``)."""
    out: dict[str, Any] = {}
    items: dict[str, dict[int, Any]] = {}
    for key, value in args.items():
        if "[" in key:
            base, index = key[:-1].split("[")
            items.setdefault(base, {})[int(index)] = value
        else:
            out[key] = value
    return out | {base: tuple(parts[i] for i in sorted(parts)) for base, parts in items.items()}
