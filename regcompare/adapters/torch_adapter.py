"""torch: the d2l hand-written penalty (autograd for its gradient), SGD's coupled weight decay, and the
``update`` of real ``torch.optim`` SGD/Adam/AdamW steps (coupled and decoupled weight decay)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import torch

from regcompare import measure
from regcompare.adapters.base import Adapter, Task, Value

_OPTIMIZERS = {"torch.optim.SGD": torch.optim.SGD, "torch.optim.Adam": torch.optim.Adam,
               "torch.optim.AdamW": torch.optim.AdamW}


def optimizer_kwargs(args: dict[str, float | bool]) -> dict[str, object]:
    """The registry's flat argument names as torch takes them: ``betas[0]``, ``betas[1]`` become ``betas``."""
    kwargs: dict[str, object] = {k: v for k, v in args.items() if "[" not in k}
    if "betas[0]" in args:
        kwargs["betas"] = (args["betas[0]"], args["betas[1]"])
    return kwargs

_TORCH_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def to_torch(array: np.ndarray, dtype: str) -> torch.Tensor:
    """Exact conversion; bfloat16 goes through its bit pattern (torch cannot read ml_dtypes)."""
    if dtype == "bfloat16":
        bits = np.ascontiguousarray(array).view(np.uint16).astype(np.int16, copy=False)
        return torch.from_numpy(bits.copy()).view(torch.bfloat16)
    return torch.from_numpy(np.array(array, copy=True))


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return tensor.numpy()


def _groups(task: Task, params: dict[str, torch.Tensor]) -> tuple[list, dict[str, float]]:
    """The optimizer's parameters and its own decay arguments: a plain list and ``task.native``, or, with a
    ``scope``, param groups as d2l writes them (``[{"params": w, "weight_decay": wd}, {"params": b}]``, the
    others' weight_decay given as 0.0 because AdamW's default is 0.01)."""
    scope = task.options.get("scope")
    if scope is None:
        return list(params.values()), task.native
    inside = [w for n, w in params.items() if n in scope]
    outside = [w for n, w in params.items() if n not in scope]
    groups = [{"params": inside, **task.native}, {"params": outside, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]], {}


class TorchAdapter(Adapter):
    framework = "torch"
    refusals = (RuntimeError, NotImplementedError)

    def __init__(self) -> None:
        super().__init__()
        self.apis = {
            "torch.handwritten": self.handwritten,
            "torch.optim.SGD": self.sgd,
            "torch.optim.Adam": self.update,
            "torch.optim.AdamW": self.update,
            "torch.optim.Adam.decoupled": self.adam_decoupled,
        }

    def version(self) -> str:
        return torch.__version__

    def _params(self, task: Task) -> dict[str, torch.Tensor]:
        return {n: to_torch(w, task.dtype).requires_grad_(True) for n, w in task.weights.items()}

    def handwritten(self, task: Task) -> Value:
        """d2l's ``lambd * torch.sum(w.pow(2)) / 2``, plus ``l1 * torch.sum(torch.abs(w))``.

        A term with a zero coefficient is not written, as a user would not write it (and so
        ``0·inf`` never turns an infinite weight's gradient into NaN).
        """
        lambd, l1 = task.native.get("lambd", 0.0), task.native.get("l1", 0.0)
        params = self._params(task)
        penalty = torch.zeros((), dtype=_TORCH_DTYPES[task.dtype])
        for w in params.values():
            if lambd:
                penalty = penalty + lambd * torch.sum(w.pow(2)) / 2
            if l1:
                penalty = penalty + l1 * torch.sum(torch.abs(w))
        if task.quantity == "penalty":
            return to_numpy(penalty)
        if penalty.requires_grad:
            penalty.backward()
        return {n: to_numpy(w.grad if w.grad is not None else torch.zeros_like(w)) for n, w in params.items()}

    def adam_decoupled(self, task: Task) -> Value:
        """``torch.optim.Adam(..., decoupled_weight_decay=True)``: AdamW's rule inside Adam."""
        return self.update(task, decoupled_weight_decay=True)

    def update(self, task: Task, **extra: object) -> Value:
        """The weights after ``steps`` real steps of the task's optimizer, each on the case's loss gradient."""
        if task.quantity != "update":
            raise LookupError(f"{task.api} measures an update, not {task.quantity!r}")
        params = self._params(task)
        cls = _OPTIMIZERS[task.options["optimizer"]]
        groups, decay = _groups(task, params)
        optimizer = cls(groups, **optimizer_kwargs(task.options["args"]), **decay, **extra)
        grads = {n: to_torch(g, task.dtype) for n, g in task.options["grads"].items()}
        for _ in range(task.options["steps"]):
            for name, w in params.items():
                w.grad = grads[name].clone()  # the loss gradient, as backward() would leave it
            optimizer.step()
        return {n: to_numpy(w) for n, w in params.items()}

    def sgd(self, task: Task) -> Value:
        """The weight-decay term of one real ``torch.optim.SGD`` step with a zero loss gradient."""
        if task.quantity == "update":
            return self.update(task)
        weight_decay = task.native.get("weight_decay", 0.0)
        lr = measure.probe_lr(task.weights, 0.0, weight_decay, task.dtype)
        params = self._params(task)
        for w in params.values():
            w.grad = torch.zeros_like(w)
        torch.optim.SGD(list(params.values()), lr=lr, weight_decay=weight_decay).step()
        return {n: measure.term_from_step(task.weights[n], to_numpy(w), lr) for n, w in params.items()}


ADAPTER = TorchAdapter
