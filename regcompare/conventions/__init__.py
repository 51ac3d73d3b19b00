"""The conventions registry: one record per API, the only place that knows a framework's factors.

Canonical convention (docs/conventions.md)::

    R(w)  = l1 * sum(|w|) + (l2 / 2) * sum(w**2)
    dR/dw = l1 * sign(w) + l2 * w

Each record says how the API's own arguments carry the canonical coefficients
(``native = factor * canonical``), what the API natively measures, whether its decay is coupled
(in the gradient) or decoupled (applied to the weights directly), and its caveats. Adapters receive
native arguments computed here, the oracle and the comparison read coupling from here, and the
report and ``regcompare conventions`` print this table.

Layout: ``model`` holds the record types; each framework's records are one module
(``torch_records``, ``keras_records``, ``paddle_records``, ``numpy_records``); the update rules
those optimizers implement are ``regcompare.rules``.
"""

from __future__ import annotations

from regcompare.conventions import (
    jax_records,
    keras_backend_records,
    keras_records,
    numpy_records,
    paddle_records,
    torch_records,
)
from regcompare.conventions.model import (
    QUANTITIES,
    Convention,
    Coupling,
    Decay,
    Hyper,
    OptimizerCall,
    Param,
    Placed,
    Placement,
    Precedence,
    Quantity,
    Regularizer,
    Term,
    Variant,
    WeightNorm,
    documented,
    weight_norm_g_shape,
    weight_norm_tensors,
)
from regcompare.conventions.trajectory_records import TRAJECTORIES, TRAJECTORY_OBJECTIVE, Style, Training

CONVENTIONS: tuple[Convention, ...] = (
    *numpy_records.RECORDS, *torch_records.RECORDS, *keras_records.RECORDS, *paddle_records.RECORDS,
    *jax_records.RECORDS, *keras_backend_records.RECORDS,
)


def registry(extra: tuple[Convention, ...] = ()) -> dict[str, Convention]:
    """API id → record; ``extra`` holds third-party adapters' records."""
    table: dict[str, Convention] = {}
    for conv in (*CONVENTIONS, *extra):
        if conv.api in table:
            raise ValueError(f"two conventions for {conv.api}")
        table[conv.api] = conv
    return table


__all__ = [
    "CONVENTIONS", "QUANTITIES", "TRAJECTORIES", "TRAJECTORY_OBJECTIVE", "Convention", "Coupling", "Decay", "Hyper",
    "OptimizerCall", "Param", "Placed", "Placement", "Precedence", "Quantity", "Regularizer", "Style", "Term",
    "Training", "Variant", "WeightNorm", "documented", "registry", "weight_norm_g_shape", "weight_norm_tensors",
]
