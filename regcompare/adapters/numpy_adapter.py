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
        # A term with a zero coefficient is not written at all, as a user would not write it
        # (and so 0·inf never turns an infinite weight into NaN).
        l1, l2 = task.native.get("l1", 0.0), task.native.get("l2", 0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            if task.quantity == "penalty":
                # Python floats are weak scalars (NEP 50): the arithmetic stays in the weights' dtype.
                total = np.zeros((), next(iter(task.weights.values())).dtype) if task.weights else np.zeros(())
                for w in task.weights.values():
                    if l1:
                        total = total + l1 * np.sum(np.abs(w))
                    if l2:
                        total = total + l2 / 2 * np.sum(w * w)
                return total
            grads = {}
            for name, w in task.weights.items():
                g = np.zeros_like(w)
                if l1:
                    g = g + l1 * np.sign(w)
                if l2:
                    g = g + l2 * w
                grads[name] = g
            return grads


ADAPTER = NumpyAdapter
