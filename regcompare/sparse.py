"""Sparse gradients (docs/case-format.md ``sparse: [names]``): embedding tables whose all-zero gradient rows are absent.

The question each API answers: does the decay touch the rows that are not in this step's gradient? Two answers:

- **dense** (canonical): a sparse gradient is the dense one with zero rows; the decay applies to every row (torch's
  dense optimizers, paddle SGD/Momentum with a SelectedRows gradient, every Keras ``weight_decay``);
- **lazy**: rows absent from the gradient are left as they are this step, decay and moments included (torch
  SparseAdam, paddle Adam ``lazy_mode=True``: both refuse a decay with a sparse gradient).

The case's gradients are the same at every step, so the absent rows are the same rows throughout and the lazy
answer is the rule run on the present rows only. Rows name the absent rows and which of them the API decayed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from regcompare import oracle
from regcompare.plan import grads_of

if TYPE_CHECKING:
    from regcompare.plan import Item


def absent_rows(grad: np.ndarray) -> list[int]:
    """The rows of a 2-D gradient that are all zero: absent from a sparse gradient."""
    return [int(i) for i in np.flatnonzero(~np.any(grad.reshape(grad.shape[0], -1) != 0, axis=1))]


def lazy_update(item: Item, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The lazy answer: the canonical (coupled) update on the rows present in the gradient, absent rows unchanged."""
    call = item.optimizer
    assert call is not None
    grads = grads_of(item.case, item.dtype)[1]
    tables = set(item.case.spec.sparse or ())
    out = {}
    for name, w in inputs.items():
        w64 = w.astype(np.float64)
        rows = np.ones(w.shape[0], bool) if name not in tables else np.any(
            grads[name].reshape(w.shape[0], -1) != 0, axis=1)
        moved = oracle.update({name: w64[rows]}, {name: grads[name][rows]}, item.regularizer, call.family,
                              item.settings(), item.case.spec.steps, "coupled", call.rule_options(own=False))
        result = w64.copy()
        result[rows] = moved[name]
        out[name] = result
    return out


def annotate(item: Item, rows: list[dict[str, Any]], inputs: dict[str, np.ndarray]) -> None:
    """Add to each row of a sparse table which rows were absent from the gradient and which of those the API
    changed (decayed), and the lazy answer next to the canonical dense one."""
    grads = grads_of(item.case, item.dtype)[1]
    lazy = lazy_update(item, inputs)
    for row in rows:
        name = row["tensor"]
        if name not in (item.case.spec.sparse or ()) or name not in inputs:
            continue
        absent = absent_rows(grads[name])
        row["absent_rows"] = absent
        row["lazy_reference"] = lazy[name].tolist()
        if row["raw"] is None:
            continue
        raw, w0 = np.asarray(row["raw"], np.float64), inputs[name].astype(np.float64)
        decayed = [i for i in absent if not np.array_equal(raw[i], w0[i])]
        row["decayed_rows"] = decayed
        if not (item.regularizer.l1 or item.regularizer.l2):
            answer = "no decay in this entry: nothing to tell the two answers apart"
        elif decayed == absent:
            answer = "dense: every row decayed"
        else:
            answer = "lazy: rows absent from the gradient untouched" if not decayed else "some absent rows decayed"
        row["detail"] += f"; rows absent from the gradient {absent}, decayed {decayed} ({answer})"
