"""A test adapter with injected faults, for ``bench/trust.py``'s detection table (found through the real
``regcompare.adapters`` entry-point group when ``bench/faults`` is on the path).

Each API is the update rule of ``regcompare.rules`` run in the task's own dtype (each op rounded there: a correct
low-precision implementation) with one fault injected:

- ``faults.scale2``: the decay coefficient doubled (a convention's factor 2 lost, as ``L2(c)`` read as c/2·Σw²);
- ``faults.decay_after``: the decay applied after the momentum/moments instead of through them;
- ``faults.skip16``: one block of 16 elements never updated (a fused kernel that skips a vector block);
- ``faults.ulp_drift``: every step ends one ULP too high, compounding over the steps;
- ``faults.eps_placement``: Adam's ε added to the raw √v instead of √v̂ (adam only);
- ``faults.none``: no fault at all, the control: the same low-precision implementation must be a ``match``, or
  the detection table would be measuring the implementation's own rounding instead of the faults.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from regcompare import rules
from regcompare.adapters import AdapterSpec
from regcompare.adapters.base import Adapter, Task, Value
from regcompare.conventions import Convention, Decay, OptimizerCall, Regularizer
from regcompare.conventions.model import arg, hyper
from regcompare.dtypes import cast, numpy_dtype, ulp

FAULTS = ("scale2", "decay_after", "skip16", "ulp_drift", "eps_placement", "none")
_SGD = (hyper("lr", "lr", 0.1), hyper("momentum", "momentum", 0.0), hyper("dampening", "dampening", 0.0),
        hyper("nesterov", "nesterov", False))
_ADAM = (hyper("lr", "lr", 1e-3), hyper("beta1", "beta1", 0.9), hyper("beta2", "beta2", 0.999),
         hyper("eps", "eps", 1e-8))


def _calls(fault: str) -> tuple[OptimizerCall, ...]:
    adam = OptimizerCall(f"faults.{fault}.Adam", "adam", _ADAM)
    return (adam,) if fault == "eps_placement" else (OptimizerCall(f"faults.{fault}.SGD", "sgd", _SGD), adam)


def _convention(fault: str) -> Convention:
    return Convention(
        f"faults.{fault}", "faults", "update", ("update",), (arg("weight_decay", "l2"),),
        f"coupled weight_decay with the fault {fault!r} injected", "coupled",
        "the rule module in the task's dtype, one fault injected (bench/faults)", optimizers=_calls(fault),
        role="optimizer",
    )


def _run(fault: str, task: Task, w0: np.ndarray, dw: np.ndarray) -> np.ndarray:
    o = task.options
    family = "adam" if o["optimizer"].endswith(".Adam") else "sgd"
    mod = rules.module(family)
    settings: dict[str, Any] = rules.canonical(family, dict(o["args"]))
    if fault == "eps_placement":
        settings["eps_on"] = "v"
    l2 = task.native.get("weight_decay", 0.0)
    d = numpy_dtype(task.dtype)
    # 16-bit types computed in float32 and the weights stored in the dtype after each step (opmath, torch's
    # for-loop path): numpy's own float16 arithmetic rounds ε = 1e-8 to 0, and its NaNs would "catch" every fault.
    work = np.dtype(np.float32) if task.dtype in ("float16", "bfloat16") else d
    coupled = 2 * l2 if fault == "scale2" else (0.0 if fault == "decay_after" else l2)
    decay = Decay(Regularizer(0.0, coupled))
    lr = float(settings["lr"])
    w, g, state = w0.astype(work), dw.astype(d).astype(work), {}
    frozen = slice(16, 32) if w.size >= 32 else slice(0, 16)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for t in range(1, int(o["steps"]) + 1):
            new = (w + rules.step_once(mod, w, g, decay, settings, t, lr, state, False)).astype(work)
            if fault == "decay_after":
                new = (new - (lr * l2) * w).astype(work)
            new = cast(new.astype(np.float64), task.dtype).astype(work)
            if fault == "skip16":
                new.reshape(-1)[frozen] = w.reshape(-1)[frozen]
            if fault == "ulp_drift":
                wide = new.astype(np.float64)
                new = cast(wide + ulp(wide, task.dtype), task.dtype).astype(work)
            w = new
    return w.astype(d)


class Faults(Adapter):
    framework = "faults"

    def __init__(self) -> None:
        super().__init__()
        self.apis = {f"faults.{f}": self.update for f in FAULTS}

    def version(self) -> str:
        return "0.1"

    def update(self, task: Task) -> Value:
        fault = task.api.split(".", 1)[1]
        return {n: _run(fault, task, w, task.options["grads"][n]) for n, w in task.weights.items()}


ADAPTER = Faults
SPEC = AdapterSpec("faults", "trust_faults", "a test adapter of bench/trust.py", tuple(_convention(f) for f in FAULTS))
