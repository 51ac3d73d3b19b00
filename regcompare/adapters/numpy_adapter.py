"""numpy: the hand-written idiom, computed in the case's own dtype (float16 sums stay float16)."""

from __future__ import annotations

import numpy as np

from regcompare.adapters.base import Adapter, Task, Value


class NumpyAdapter(Adapter):
    framework = "numpy"
    refusals = (TypeError, FloatingPointError)

    def __init__(self) -> None:
        super().__init__()
        self.apis = {"numpy.handwritten": self.handwritten}

    def version(self) -> str:
        return np.__version__

    def handwritten(self, task: Task) -> Value:
        l1, l2 = task.native.get("l1", 0.0), task.native.get("l2", 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            if task.quantity == "penalty":
                # Python floats are weak scalars (NEP 50): the arithmetic stays in the weights' dtype.
                terms = [l1 * np.sum(np.abs(w)) + l2 / 2 * np.sum(w * w) for w in task.weights.values()]
                return np.asarray(sum(terms[1:], terms[0]))
            return {name: l1 * np.sign(w) + l2 * w for name, w in task.weights.items()}


ADAPTER = NumpyAdapter
