"""torch: the d2l hand-written penalty (autograd for its gradient), SGD's coupled weight decay, and the
``update`` of real ``torch.optim`` SGD/Adam/AdamW steps (coupled and decoupled weight decay), also on the g and v
of ``torch.nn.utils.parametrizations.weight_norm``."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import ml_dtypes
import numpy as np
import torch

from regcompare import measure, program_run, schedules
from regcompare.adapters.base import Adapter, Task, Value, tuple_args
from regcompare.conventions import weight_norm_g_shape, weight_norm_tensors
from regcompare.trajectory import minibatches


def optimizer_class(api: str) -> type[torch.optim.Optimizer]:
    """The real class of a registry optimizer id: ``torch.optim.RMSprop`` → ``torch.optim.RMSprop``."""
    return operator.attrgetter(api.removeprefix("torch."))(torch)


def optimizer_kwargs(args: dict[str, float | bool]) -> dict[str, object]:
    """The registry's flat argument names as torch takes them: ``betas[0]``, ``betas[1]`` become ``betas`` (and
    ``etas``, ``step_sizes``, ``eps``, ``ns_coefficients`` likewise)."""
    return tuple_args(args)


#: A loss term over the named parameters (None: nothing to add).
Penalty = Callable[[dict[str, torch.Tensor]], "torch.Tensor | None"]

def lr_scheduler(task: Task, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The ``torch.optim.lr_scheduler`` class of the task's ``schedule`` on ``optimizer`` (None: constant lr)."""
    spec = task.options.get("schedule")
    if spec is None:
        return None
    found = schedules.scheduler("torch", spec)
    if found is None:
        raise LookupError(f"no torch scheduler for {spec['name']!r}")
    cls = operator.attrgetter(found.api.removeprefix("torch."))(torch)
    return cls(optimizer, **found.kwargs(spec, optimizer.param_groups[0]["lr"]))


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
            "torch.handwritten.update": self.handwritten_update,
            "torch.optim.SGD": self.sgd,
            "torch.optim.Adam": self.update,
            "torch.optim.AdamW": self.update,
            "torch.optim.Adam.decoupled": self.adam_decoupled,
            "torch.optim.NAdam.decoupled": self.adam_decoupled,
            "torch.optim.RAdam.decoupled": self.adam_decoupled,
            "torch.optim.LBFGS.penalty": self.lbfgs_penalty,
            "torch.nn.utils.parametrizations.weight_norm": weight_norm,
            "torch.amp.GradScaler": amp_update,
            "torch.nn.Embedding.sparse": sparse_update,
            "torch.optim.SparseAdam": sparse_update,
            "torch.nn.Embedding.sparse.penalty": sparse_update,
        }

    def optimizer(self, task: Task) -> Value:
        return self.update(task)

    def version(self) -> str:
        return torch.__version__

    def run(self, task: Task) -> Value:
        if task.quantity == "trajectory":
            return TRAJECTORIES[task.api](task)
        return super().run(task)

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

    def handwritten_update(self, task: Task) -> Value:
        """The d2l penalty ``l1·Σ|w| + lambd·Σw²/2`` added to the loss, with the task's optimizer (no weight_decay):
        backward() adds its gradient to the loss gradient each step."""
        lambd, l1 = task.native.get("lambd", 0.0), task.native.get("l1", 0.0)

        def penalty(params: dict[str, torch.Tensor]) -> torch.Tensor | None:
            # A zero coefficient's term is not written, as a user would not write it (0·inf is NaN).
            terms = [lambd * torch.sum(w.pow(2)) / 2 for w in params.values() if lambd]
            terms += [l1 * torch.sum(torch.abs(w)) for w in params.values() if l1]
            return functools.reduce(operator.add, terms) if terms else None

        return self.update(replace(task, native={}), penalty=penalty)

    def adam_decoupled(self, task: Task) -> Value:
        """``torch.optim.Adam/NAdam/RAdam(..., decoupled_weight_decay=True)``: AdamW's decay inside the class."""
        return self.update(task, decoupled_weight_decay=True)

    def update(self, task: Task, penalty: Penalty | None = None, **extra: object) -> Value:
        """The weights after ``steps`` real steps of the task's optimizer, each on the case's loss gradient (plus
        the gradient of ``penalty``, a loss term, where given)."""
        if task.quantity != "update":
            raise LookupError(f"{task.api} measures an update, not {task.quantity!r}")
        params = self._params(task)
        cls = optimizer_class(task.options["optimizer"])
        groups, decay = _groups(task, params)
        optimizer = cls(groups, **optimizer_kwargs(task.options["args"]), **decay, **extra)
        scheduler = lr_scheduler(task, optimizer)
        grads = {n: to_torch(g, task.dtype) for n, g in task.options["grads"].items()}
        if cls is torch.optim.LBFGS:
            return lbfgs_steps(task, optimizer, params, grads)
        for _ in range(task.options["steps"]):
            for name, w in params.items():
                w.grad = grads[name].clone()  # the loss gradient, as backward() would leave it
            term = None if penalty is None else penalty(params)
            if term is not None:
                term.backward()  # accumulates into .grad, as a loss with the penalty would
            optimizer.step()
            if scheduler is not None:
                scheduler.step()  # after optimizer.step(), as torch's docs order them
        return {n: to_numpy(w) for n, w in params.items()}

    def lbfgs_penalty(self, task: Task) -> Value:
        """``torch.optim.LBFGS`` with the hand-written penalty in its closure's loss (``task.native``)."""
        if task.quantity != "update":
            raise LookupError(f"{task.api} measures an update, not {task.quantity!r}")
        params = self._params(task)
        optimizer = torch.optim.LBFGS(list(params.values()), **optimizer_kwargs(task.options["args"]))
        grads = {n: to_torch(g, task.dtype) for n, g in task.options["grads"].items()}
        return lbfgs_steps(task, optimizer, params, grads)

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

    # --- program cases (regcompare.program_run, docs/programs.md) -------------------------------------------

    def program(self, task: Task) -> Value:
        """The user's snippet run on ``params`` (or its ``model``), trained ``steps`` steps in torch's idiom:
        ``zero_grad()``, ``loss.backward()`` (the loss Σ g⊙w, so every gradient is the case's g), ``opt.step()``,
        then ``scheduler.step()``; the weights after every step, in the case's layout."""
        params = self._params(task)
        previous = torch.get_default_dtype()
        if task.dtype in ("float32", "float64"):
            torch.set_default_dtype(_TORCH_DTYPES[task.dtype])  # a layer the snippet builds gets the case's dtype
        try:
            names = program_run.run_snippet(task, {"torch": torch, "nn": torch.nn, "params": params})
        finally:
            torch.set_default_dtype(previous)
        bound = _bound(task, names.get("model"), params)
        opt, scheduler, custom = names["opt"], names.get("scheduler"), names.get("step")
        grads = {n: to_torch(g, task.dtype) for n, g in task.options["grads"].items()}

        def weight(name: str) -> torch.Tensor:
            entry = bound[name]
            return entry.param.T if entry.transposed else entry.param

        def loss_fn() -> torch.Tensor:
            return functools.reduce(operator.add, [torch.sum(grads[n] * weight(n)) for n in bound])

        def step() -> None:
            if custom is not None:
                custom(loss_fn)
                return
            opt.zero_grad()
            loss_fn().backward()
            opt.step()

        def read() -> dict[str, np.ndarray]:
            return {n: to_numpy(weight(n)).copy() for n in bound}

        history = program_run.train(task.options["steps"], step, scheduler and scheduler.step, read)
        out: dict[str, np.ndarray] = {n: np.stack(h) for n, h in history.items()}
        return out | {program_run.MAPPING_KEY: np.asarray(program_run.mapping_text(bound) if names.get("model")
                                                           is not None else "")}


def _layout(model: torch.nn.Module) -> list[program_run.LayoutEntry]:
    """A module's trainable parameters in the common (Keras) vocabulary: ``Linear.weight`` is the transposed
    kernel, a BatchNorm's ``weight``/``bias`` are its gamma/beta; any other parameter keeps its own name."""
    entries: list[program_run.LayoutEntry] = []
    seen: set[int] = set()
    for prefix, module in model.named_modules():
        for attr, param in module.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            kind = type(module).__name__
            name, transposed = attr, False
            if isinstance(module, torch.nn.Linear) and attr == "weight":
                name, transposed = "kernel", True
            elif isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                name = {"weight": "gamma", "bias": "beta"}.get(attr, attr)
            where = f"{prefix + '.' if prefix else ''}{kind}.{attr}"
            entries.append(program_run.LayoutEntry(name, where, param, transposed))
    return entries


def _bound(task: Task, model: torch.nn.Module | None, params: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The case's weights as the tensors the program trains: ``params`` itself, or the model's parameters
    set to the case's values (transposed where the layout says)."""
    if model is None:
        return {n: program_run.LayoutEntry(n, n, p) for n, p in params.items()}
    bound = program_run.bind(list(task.weights), _layout(model))
    with torch.no_grad():
        for name, entry in bound.items():
            if entry.param.dtype != _TORCH_DTYPES[task.dtype]:
                raise program_run.ProgramError(f"the model's {entry.where} is {entry.param.dtype}, the case's "
                                               f"dtype {task.dtype}: build the layer in that dtype")
            value = to_torch(task.weights[name], task.dtype)
            entry.param.copy_(value.T if entry.transposed else value)
    return bound


def _d2l_penalty(params: dict[str, torch.Tensor], l1: float, lambd: float) -> torch.Tensor | None:
    """d2l's ``lambd * torch.sum(w.pow(2)) / 2`` plus ``l1 * torch.sum(torch.abs(w))``, the zero terms not written."""
    terms = [lambd * torch.sum(w.pow(2)) / 2 for w in params.values() if lambd]
    terms += [l1 * torch.sum(torch.abs(w)) for w in params.values() if l1]
    return functools.reduce(operator.add, terms) if terms else None


def amp_update(task: Task) -> Value:
    """Mixed precision with ``torch.amp.GradScaler``: float32 master parameters, the model's low-precision copy
    ``w.to(dtype)`` (the cast autocast makes), loss Σ g⊙w plus the d2l penalty on that copy, ``scaler.scale(...)
    .backward()``, ``scaler.step(optimizer)``, ``scaler.update()``. The ``penalty_outside`` variant adds the penalty
    after ``scaler.scale(loss)``."""
    if task.quantity != "update":
        raise LookupError(f"{task.api} measures an update, not {task.quantity!r}")
    args = dict(task.options["args"])
    outside = bool(args.pop("penalty_outside", False))
    low = _TORCH_DTYPES[task.dtype]
    masters = {n: to_torch(w, task.dtype).to(torch.float32).requires_grad_(True) for n, w in task.weights.items()}
    optimizer = optimizer_class(task.options["optimizer"])(list(masters.values()), **optimizer_kwargs(args))
    scaler = torch.amp.GradScaler("cpu", init_scale=task.options["mixed_precision"]["loss_scale"])
    grads = {n: to_torch(g, task.dtype) for n, g in task.options["grads"].items()}
    for _ in range(task.options["steps"]):
        optimizer.zero_grad()
        model = {n: w.to(low) for n, w in masters.items()}
        loss = functools.reduce(operator.add, [torch.sum(grads[n] * w) for n, w in model.items()])
        penalty = _d2l_penalty(model, task.native.get("l1", 0.0), task.native.get("lambd", 0.0))
        if penalty is None:
            scaled = scaler.scale(loss)
        else:
            scaled = scaler.scale(loss) + penalty if outside else scaler.scale(loss + penalty)
        scaled.backward()
        scaler.step(optimizer)
        scaler.update()
    out = {}
    for name, w in masters.items():
        out[name] = to_numpy(w.detach().to(low))
        out[f"{name}.master"] = to_numpy(w)
    return out


def present_rows(grad: np.ndarray) -> np.ndarray:
    """The rows of a table's gradient that are not all zero: the ids an embedding lookup touches."""
    return np.flatnonzero(np.any(grad.reshape(grad.shape[0], -1) != 0, axis=1))


#: Sparse-table APIs whose decay is d2l's penalty in the loss (SparseAdam has no weight_decay argument).
_SPARSE_PENALTY_APIS = ("torch.optim.SparseAdam", "torch.nn.Embedding.sparse.penalty")


def sparse_update(task: Task) -> Value:
    """Each ``sparse`` table as ``torch.nn.Embedding(sparse=True)`` looked up at the rows its gradient touches (loss
    Σ g[rows]⊙E[rows]: backward() leaves a sparse gradient), the other weights as plain parameters. An optimizer
    API (``torch.nn.Embedding.sparse``) passes ``weight_decay``; ``torch.optim.SparseAdam`` has none, so its decay is
    d2l's penalty in the loss, as for ``torch.nn.Embedding.sparse.penalty`` (the penalty written by hand)."""
    if task.quantity != "update":
        raise LookupError(f"{task.api} measures an update, not {task.quantity!r}")
    tables = set(task.options["sparse"])
    grads = {n: to_torch(g, task.dtype) for n, g in task.options["grads"].items()}
    modules: dict[str, torch.nn.Embedding] = {}
    params: dict[str, torch.Tensor] = {}
    for name, w in task.weights.items():
        if name in tables:
            weight = to_torch(w, task.dtype)
            modules[name] = torch.nn.Embedding(*weight.shape, sparse=True, _weight=weight)
            params[name] = modules[name].weight
        else:
            params[name] = to_torch(w, task.dtype).requires_grad_(True)
    ids = {n: torch.from_numpy(present_rows(task.options["grads"][n])) for n in modules}
    in_loss = task.api in _SPARSE_PENALTY_APIS
    decay = {} if in_loss else task.native
    optimizer = optimizer_class(task.options["optimizer"])(list(params.values()),
                                                           **optimizer_kwargs(task.options["args"]), **decay)
    for _ in range(task.options["steps"]):
        optimizer.zero_grad()
        terms = [torch.sum(modules[n](ids[n]) * grads[n][ids[n]]) if n in modules else torch.sum(grads[n] * p)
                 for n, p in params.items()]
        if in_loss:
            penalty = _d2l_penalty(params, task.native.get("l1", 0.0), task.native.get("lambd", 0.0))
            terms += [] if penalty is None else [penalty]
        functools.reduce(operator.add, terms).backward()
        optimizer.step()
    return {n: to_numpy(p) for n, p in params.items()}


def lbfgs_steps(
    task: Task, optimizer: torch.optim.Optimizer, params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor],
) -> Value:
    """``steps`` calls of ``optimizer.step(closure)``: LBFGS evaluates the loss Σ grads⊙w (plus the hand-written
    penalty ``l1·Σ|w| + lambd·Σw²/2`` of ``task.native``, the d2l idiom) again at each inner iteration."""
    lambd, l1 = task.native.get("lambd", 0.0), task.native.get("l1", 0.0)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = functools.reduce(operator.add, [torch.sum(w * grads[n]) for n, w in params.items()])
        for w in params.values():  # a zero coefficient is not written, as a user would not write it
            if lambd:
                loss = loss + lambd * torch.sum(w.pow(2)) / 2
            if l1:
                loss = loss + l1 * torch.sum(torch.abs(w))
        loss.backward()
        return loss

    for _ in range(task.options["steps"]):
        optimizer.step(closure)
    return {n: to_numpy(w) for n, w in params.items()}


def _weight_norm_module(weight: torch.Tensor, dim: int | None) -> torch.nn.Module:
    """A bare module whose only parameter ``weight`` is the case's tensor, reparameterized by torch itself: the
    case's ``dim`` then means an axis of that tensor, with no layer's layout in between."""
    module = torch.nn.Module()
    module.register_parameter("weight", torch.nn.Parameter(weight))
    return torch.nn.utils.parametrizations.weight_norm(module, name="weight", dim=dim)


def weight_norm(task: Task) -> Value:
    """``parametrizations.weight_norm`` on each weight, then ``steps`` real steps of the task's optimizer with
    ``weight_decay`` over the module's parameters (g and v); the loss Σ grads⊙w reaches g and v by autograd."""
    if task.quantity != "update":
        raise LookupError(f"{task.api} measures an update, not {task.quantity!r}")
    dim = task.options["weight_norm"]["dim"]
    modules = {n: _weight_norm_module(to_torch(w, task.dtype), dim) for n, w in task.weights.items()}
    params = [p for m in modules.values() for p in m.parameters()]
    cls = optimizer_class(task.options["optimizer"])
    optimizer = cls(params, **optimizer_kwargs(task.options["args"]), **task.native)
    grads = {n: to_torch(g, task.dtype) for n, g in task.options["grads"].items()}
    for _ in range(task.options["steps"]):
        optimizer.zero_grad()
        functools.reduce(operator.add, [torch.sum(m.weight * grads[n]) for n, m in modules.items()]).backward()
        optimizer.step()
    out: dict[str, np.ndarray] = {}
    for name, module in modules.items():
        g, v = module.parametrizations.weight.original0, module.parametrizations.weight.original1
        with torch.no_grad():
            w = module.weight  # recomputed from the trained g and v
        g_shape = weight_norm_g_shape(tuple(v.shape), dim)
        out |= dict(zip(weight_norm_tensors(name), (to_numpy(g).reshape(g_shape), to_numpy(v), to_numpy(w)),
                        strict=True))
    return out


# --- trajectory: d2l's weight-decay experiment, in both of d2l's styles ------------------------------------------


def _sets(task: Task) -> dict[str, torch.Tensor]:
    return {k: to_torch(task.options[k], task.dtype) for k in ("x_train", "y_train", "x_test", "y_test")}


def _squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d2l's ``squared_loss``: (ŷ − y)²/2 per example."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def trajectory_scratch(task: Task) -> Value:
    """d2l's ``train(lambd)``: ``l = squared_loss(net(X), y) + lambd * l2_penalty(w)``, ``l.sum().backward()``,
    then d2l's ``sgd``: ``param -= lr * param.grad / batch_size`` under ``no_grad``."""
    lambd, o, sets = task.native.get("lambd", 0.0), task.options, _sets(task)
    w = to_torch(task.weights["w"], task.dtype).requires_grad_(True)
    b = to_torch(task.weights["b"], task.dtype).requires_grad_(True)

    def net(x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, w) + b

    train, test = [], []
    for epoch in o["order"]:
        for index in minibatches(epoch, o["batch"]):
            rows = torch.from_numpy(index)
            loss = _squared_loss(net(sets["x_train"][rows]), sets["y_train"][rows]) + lambd * torch.sum(w.pow(2)) / 2
            loss.sum().backward()
            with torch.no_grad():
                for param in (w, b):
                    param -= o["lr"] * param.grad / len(index)
                    param.grad.zero_()
        with torch.no_grad():
            train.append(to_numpy(_squared_loss(net(sets["x_train"]), sets["y_train"]).mean()))
            test.append(to_numpy(_squared_loss(net(sets["x_test"]), sets["y_test"]).mean()))
    return {"train_loss": np.stack(train), "test_loss": np.stack(test), "w_norm": to_numpy(torch.linalg.norm(w))}


def trajectory_concise(task: Task) -> Value:
    """d2l's ``train_concise(wd)``: ``nn.Linear``, ``SGD([{'params': weight, 'weight_decay': wd}, {'params': bias}])``,
    ``nn.MSELoss(reduction='none')`` and ``l.mean().backward()`` -- with the MSE halved, the objective of every
    other framework (d2l's concise MSE has no ½, so its data gradient is twice its from-scratch one)."""
    o, sets = task.options, _sets(task)
    net = torch.nn.Linear(task.weights["w"].shape[0], 1, dtype=_TORCH_DTYPES[task.dtype])
    with torch.no_grad():  # the harness's initial parameters instead of d2l's param.data.normal_()
        net.weight.copy_(to_torch(task.weights["w"], task.dtype).T)
        net.bias.copy_(to_torch(task.weights["b"], task.dtype))
    loss = torch.nn.MSELoss(reduction="none")
    trainer = torch.optim.SGD([{"params": net.weight, **task.native}, {"params": net.bias}], lr=o["lr"])
    train, test = [], []
    for epoch in o["order"]:
        for index in minibatches(epoch, o["batch"]):
            rows = torch.from_numpy(index)
            trainer.zero_grad()
            per_example = loss(net(sets["x_train"][rows]), sets["y_train"][rows]) / 2
            per_example.mean().backward()
            trainer.step()
        with torch.no_grad():
            train.append(to_numpy((loss(net(sets["x_train"]), sets["y_train"]) / 2).mean()))
            test.append(to_numpy((loss(net(sets["x_test"]), sets["y_test"]) / 2).mean()))
    return {"train_loss": np.stack(train), "test_loss": np.stack(test),
            "w_norm": to_numpy(torch.linalg.norm(net.weight))}


TRAJECTORIES = {"torch.handwritten": trajectory_scratch, "torch.optim.SGD": trajectory_concise}


ADAPTER = TorchAdapter
