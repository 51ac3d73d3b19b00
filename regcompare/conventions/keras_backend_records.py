"""keras-torch and keras-jax: the Keras 3 records of ``keras_records`` on Keras' torch and jax backends.

The same Keras code runs on every backend (keras/src/regularizers/regularizers.py, keras/src/optimizers/), so the
records are derived rather than copied: the same mapping, formula, defaults and caveats, under the ids
``<tensorflow id>@torch`` and ``@jax`` (a registry id names one framework's API; the call is the same Keras call).
Only the autodiff differs, and training runs (``trajectory``) are d2l's TensorFlow code, so they are not derived.
"""

from __future__ import annotations

from dataclasses import replace

from regcompare.conventions import keras_records
from regcompare.conventions.model import Convention

#: framework → (id suffix, how its gradient is taken).
BACKENDS = {
    "keras-torch": ("@torch", "torch.autograd.grad (KERAS_BACKEND=torch)"),
    "keras-jax": ("@jax", "jax.grad, through keras.StatelessScope for a layer's losses (KERAS_BACKEND=jax)"),
}

#: Measured on the pinned Keras 3.15 (cases/optimizers/adam.yaml, float64): only the tensorflow backend rounds them.
NO_F32_BETAS = ("In float64, Adam's bias corrections use the exact betas here (matching the float64 reference); "
                "on the tensorflow backend they are float32-rounded, about 7e-6 relative per step.")


def _on(conv: Convention, framework: str) -> Convention:
    suffix, autodiff = BACKENDS[framework]
    placement = conv.placement
    if placement is not None:
        placement = replace(placement, param_apis=tuple(a + suffix for a in placement.param_apis))
    caveats = tuple(c for c in conv.caveats if c != keras_records.KERAS_F64)
    if len(caveats) < len(conv.caveats):
        caveats += (NO_F32_BETAS,)
    return replace(
        conv, api=conv.api + suffix, framework=framework, placement=placement, caveats=caveats,
        quantities=tuple(q for q in conv.quantities if q != "trajectory"),
        how=conv.how.replace("tf.GradientTape", autodiff) + f"; Keras on its {framework[6:]} backend",
    )


#: The Keras APIs of the tensorflow worker that are Keras' own regularizers and optimizers (not tf.nn or tf.contrib,
#: not the mixed-precision and embedding records, whose adapters are TensorFlow code, nor documentation records).
KERAS = tuple(c for c in keras_records.RECORDS if c.api.startswith(("keras.regularizers.", "keras.optimizers."))
              and c.special is None and c.quantities and c.executed)

RECORDS: tuple[Convention, ...] = tuple(_on(c, fw) for fw in BACKENDS for c in KERAS)
