"""Which frameworks exist and where their adapters live, without importing any framework.

Built-in adapters are listed here; third-party ones register an ``AdapterSpec`` under the entry-point
group ``regcompare.adapters`` (see README). A spec names the module the worker imports; only the
worker process ever imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from regcompare.conventions import Convention, registry


@dataclass(frozen=True)
class AdapterSpec:
    framework: str
    module: str
    """``module`` or ``module:attr``: where the ``Adapter`` subclass to build is (attr default ``ADAPTER``)."""
    install_hint: str
    conventions: tuple[Convention, ...] = ()
    """Records for APIs that the built-in table does not know (third-party adapters)."""


BUILTIN: tuple[AdapterSpec, ...] = (
    AdapterSpec("numpy", "regcompare.adapters.numpy_adapter", "pip install numpy"),
    AdapterSpec("torch", "regcompare.adapters.torch_adapter", "pip install 'regcompare[torch]'"),
    AdapterSpec("tensorflow", "regcompare.adapters.tensorflow_adapter", "pip install 'regcompare[tensorflow]'"),
    AdapterSpec("paddle", "regcompare.adapters.paddle_adapter", "pip install 'regcompare[paddle]'"),
    AdapterSpec("jax", "regcompare.adapters.jax_adapter", "pip install 'regcompare[jax]'"),
    AdapterSpec("keras-torch", "regcompare.adapters.keras_torch_adapter", "pip install 'regcompare[torch]'"),
    AdapterSpec("keras-jax", "regcompare.adapters.keras_jax_adapter", "pip install 'regcompare[jax]'"),
)

ENTRY_POINT_GROUP = "regcompare.adapters"


@cache
def specs() -> dict[str, AdapterSpec]:
    """Every known framework, built-ins first, then entry points in name order."""
    found = {s.framework: s for s in BUILTIN}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        spec = ep.load()
        if not isinstance(spec, AdapterSpec):
            raise TypeError(f"entry point {ep.name!r} in {ENTRY_POINT_GROUP} is not an AdapterSpec")
        found.setdefault(spec.framework, spec)
    return found


@cache
def conventions() -> dict:
    """The registry including third-party records: API id → Convention."""
    return registry(tuple(c for s in specs().values() for c in s.conventions))


def frameworks() -> tuple[str, ...]:
    return tuple(specs())
