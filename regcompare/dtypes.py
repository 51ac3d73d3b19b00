"""The four floating dtypes, as numpy sees them (bfloat16 through ml_dtypes), and a case's tolerance override."""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple, Protocol

import ml_dtypes
import numpy as np

DtypeName = Literal["float16", "bfloat16", "float32", "float64"]
DTYPES: tuple[DtypeName, ...] = ("float16", "bfloat16", "float32", "float64")

_NUMPY: dict[str, type] = {
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
}


class Tolerance(NamedTuple):
    rtol: float
    atol: float


#: torch.testing.assert_close's defaults: the tolerance of one operation. Rows are judged by the error model
#: (regcompare.errormodel) instead, which follows from what was computed; this table stays for the comparison's
#: own tests and for anyone who wants torch.testing's figures.
DEFAULT_TOLERANCE: dict[str, Tolerance] = {
    "float16": Tolerance(1e-3, 1e-5),
    "bfloat16": Tolerance(1.6e-2, 1e-5),
    "float32": Tolerance(1.3e-6, 1e-5),
    "float64": Tolerance(1e-7, 1e-7),
}


class _Override(Protocol):
    rtol: float | None
    atol: float | None


def tolerance_for(dtype: str, default: Tolerance, override: _Override | None, kind: str) -> tuple[Tolerance, str]:
    """A case's ``tolerance`` entry for a dtype over a default, and where the figures came from."""
    if override is None:
        return default, f"{dtype} {kind}"
    rtol = default.rtol if override.rtol is None else override.rtol
    atol = default.atol if override.atol is None else override.atol
    return Tolerance(rtol, atol), f"{dtype}, set by the case"


def numpy_dtype(name: str) -> np.dtype:
    return np.dtype(_NUMPY[name])


@functools.cache  # built once per dtype: every comparison asks for it
def finfo(name: str) -> ml_dtypes.finfo:
    return ml_dtypes.finfo(_NUMPY[name])


def cast(values: np.ndarray, name: str) -> np.ndarray:
    """Round float64 values to the dtype (round to nearest even, overflow to inf)."""
    with np.errstate(over="ignore"):
        return np.asarray(values, np.float64).astype(_NUMPY[name])


def ulp(values: np.ndarray, name: str) -> np.ndarray:
    """The spacing of the dtype at each value (float64), subnormals included; inf/nan give nan."""
    info = finfo(name)
    values = np.asarray(values, np.float64)
    _, exponent = np.frexp(values)  # values = m * 2**exponent with 0.5 <= |m| < 1
    exponent = np.where(values == 0, int(info.minexp), exponent.astype(np.int64) - 1)  # frexp(0) says 0
    unbiased = np.maximum(exponent, int(info.minexp))
    spacing = np.ldexp(1.0, unbiased - int(info.nmant))
    return np.where(np.isfinite(values), spacing, np.nan)
