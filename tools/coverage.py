"""Coverage of the public regularization and weight-decay APIs: which of them regcompare runs.

    .venv/bin/python tools/coverage.py            # the table and the figure, for README

How they are counted (every framework introspected in its own process, at the pinned versions):
- an optimizer class whose constructor takes a decay argument (``weight_decay``, torch ASGD's ``lambd``, paddle
  Lamb's ``lamb_weight_decay``, Keras Ftrl's ``l1/l2_regularization_strength``): ``torch.optim.*``,
  ``keras.optimizers.*``, ``paddle.optimizer.*``, optax's public functions with ``weight_decay`` or
  ``weight_decay_rate`` (and ``add_decayed_weights``);
- a regularizer or penalty: ``keras.regularizers`` classes, ``tf.nn.l2_loss``, ``paddle.regularizer`` classes,
  ``paddle.ParamAttr`` (its ``regularizer``), ``paddle.static.WeightNormParamAttr``, ``paddle.nn.utils.weight_norm``,
  ``torch.nn.utils.parametrizations.weight_norm``, tf-slim's contrib regularizers when installed.
An API *runs* when a registry record that is executed names it as its API or as an optimizer class it runs with.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from regcompare.conventions import CONVENTIONS

_PROBE = r'''
import inspect, json, sys
fw = sys.argv[1]
found = []
KNOBS = ("weight_decay", "lambd", "lamb_weight_decay", "l1_regularization_strength", "l2_regularization_strength",
         "weight_decay_rate")

def takes_decay(fn):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return any(k in params for k in KNOBS)

def classes(module, prefix, base):
    seen = set()  # keras.regularizers.l2 is L2: one API under two names
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if (not name.startswith("_") and inspect.isclass(obj) and issubclass(obj, base) and obj is not base
                and id(obj) not in seen):
            seen.add(id(obj))
            yield f"{prefix}.{name}", obj

if fw == "torch":
    import torch
    found += [n for n, c in classes(torch.optim, "torch.optim", torch.optim.Optimizer) if takes_decay(c)]
    found.append("torch.nn.utils.parametrizations.weight_norm")
elif fw == "tensorflow":
    import keras, tensorflow as tf
    found += [n for n, c in classes(keras.optimizers, "keras.optimizers", keras.optimizers.Optimizer)
              if takes_decay(c) and n != "keras.optimizers.LossScaleOptimizer"]
    found += [n for n, _ in classes(keras.regularizers, "keras.regularizers", keras.regularizers.Regularizer)]
    found.append("tf.nn.l2_loss")
    try:
        import tf_slim
        found += [f"tf.contrib.layers.{n}" for n in ("l1_regularizer", "l2_regularizer", "l1_l2_regularizer")
                  if hasattr(tf_slim.layers, n)]
    except ImportError:
        pass
elif fw == "paddle":
    import paddle
    found += [n for n, c in classes(paddle.optimizer, "paddle.optimizer", paddle.optimizer.Optimizer)
              if takes_decay(c)]
    found += [f"paddle.regularizer.{n}" for n in ("L1Decay", "L2Decay")]
    found += ["paddle.ParamAttr", "paddle.static.WeightNormParamAttr", "paddle.nn.utils.weight_norm"]
elif fw == "jax":
    import optax
    for name in sorted(dir(optax)):
        obj = getattr(optax, name)
        if not name.startswith("_") and callable(obj) and (takes_decay(obj) or name == "add_decayed_weights"):
            found.append(f"optax.{name}")
print(json.dumps(found))
'''


def public_apis(framework: str) -> list[str] | None:
    """The framework's public decay APIs, or None if it is not installed."""
    done = subprocess.run([sys.executable, "-c", _PROBE, framework], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def runs(api: str) -> bool:
    """Whether an executed record runs ``api`` (as its own API, an alias such as ``torch.optim.Adam.decoupled``,
    a ``paddle.ParamAttr.*`` record, or an optimizer class it is run with)."""
    for conv in CONVENTIONS:
        if not conv.executed:
            continue
        called = {conv.api, *(c.api for c in conv.optimizers)}
        if conv.weight_norm is not None:
            called |= {c.api for c in conv.weight_norm.optimizers}
        if api in called or any(name.startswith(api + ".") for name in called):
            return True
    return False


#: Why a public decay API is not run (printed next to it): no update rule for it in regcompare.rules, or the rule
#: there is another algorithm of the same name. Checked against optax 0.2.8 optax/_src/alias.py.
NOT_RUN = {
    "optax.adafactor": "optax's Adafactor is not torch's (the zoo's rule): an absolute learning_rate (torch: the "
                       "relative step min(lr, 1/√t)), factoring only from min_dim_size_to_factor=128, block-RMS "
                       "clipping, and weight_decay_rate added after the lr scaling (w ← w − lr·u − λw)",
    "optax.adan": "no Adan rule in regcompare.rules",
    "optax.lars": "no LARS rule in regcompare.rules",
    "optax.novograd": "no NovoGrad rule in regcompare.rules",
    "optax.scale_by_novograd": "no NovoGrad rule in regcompare.rules",
    "keras.optimizers.ScheduleFreeAdamW": "no schedule-free rule in regcompare.rules",
    "keras.regularizers.OrthogonalRegularizer": "not an L1/L2 penalty: it penalizes the off-diagonal products of the "
                                                "normalized rows or columns",
}


def main() -> None:
    total = ran = 0
    for framework in ("torch", "tensorflow", "paddle", "jax"):
        apis = public_apis(framework)
        if apis is None:
            print(f"{framework}: not installed")
            continue
        covered = [a for a in apis if runs(a)]
        total, ran = total + len(apis), ran + len(covered)
        missing = sorted(set(apis) - set(covered))
        not_run = "; not run: " + ", ".join(f"{a} ({NOT_RUN[a]})" if a in NOT_RUN else a for a in missing) if missing \
            else ""
        print(f"{framework}: {len(covered)} of {len(apis)} run{not_run}")
    print(f"all: {ran} of {total} public decay APIs run")


if __name__ == "__main__":
    main()
