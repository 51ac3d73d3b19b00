"""numpy: the hand-written idiom, computed in the case's own dtype (float16 sums stay float16)."""

from __future__ import annotations

import numpy as np

from regcompare.adapters.base import Adapter, Task, Value
from regcompare.trajectory import minibatches


class NumpyAdapter(Adapter):
    framework = "numpy"
    refusals = (TypeError, FloatingPointError)

    def __init__(self) -> None:
        super().__init__()
        self.apis = {"numpy.handwritten": self.handwritten}

    def version(self) -> str:
        return np.__version__

    def run(self, task: Task) -> Value:
        if task.quantity == "trajectory":
            return trajectory(task)
        return super().run(task)

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


def _loss(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = x @ w + b - y
    return np.mean(r * r / 2)


def trajectory(task: Task) -> Value:
    """d2l's from-scratch run written in numpy, in the task's dtype: the gradient of the mean ½(ŷ − y)² plus
    the penalty l2/2·‖w‖² by hand (numpy has no autograd), then w -= lr·grad. Python floats stay weak scalars
    (NEP 50), so the arithmetic stays in the dtype."""
    o, l2 = task.options, task.native.get("l2", 0.0)
    w, b = task.weights["w"].copy(), task.weights["b"].copy()
    train, test = [], []
    for epoch in o["order"]:
        for index in minibatches(epoch, o["batch"]):
            x, y = o["x_train"][index], o["y_train"][index]
            r = x @ w + b - y
            grad_w = x.T @ r / len(index) + l2 * w
            grad_b = np.sum(r, axis=0) / len(index)
            w, b = w - o["lr"] * grad_w, b - o["lr"] * grad_b
        train.append(_loss(w, b, o["x_train"], o["y_train"]))
        test.append(_loss(w, b, o["x_test"], o["y_test"]))
    return {"train_loss": np.array(train), "test_loss": np.array(test), "w_norm": np.sqrt(np.sum(w * w))}


ADAPTER = NumpyAdapter
