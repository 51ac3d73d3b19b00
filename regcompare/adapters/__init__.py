"""Which frameworks exist and where their adapters live, without importing any framework.

Built-in adapters are listed here; third-party ones register an ``AdapterSpec`` under the entry-point
group ``regcompare.adapters`` (see README). A spec names the module the worker imports; only the
worker process ever imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points

from regcompare.conventions import Convention, registry


@dataclass(frozen=True)
class AdapterSpec:
    framework: str
    module: str
    """``module`` or ``module:attr``: where the ``Adapter`` subclass to build is (attr default ``ADAPTER``)."""
    install_hint: str
    conventions: tuple[Convention, ...] = ()
    """Records for APIs that the built-in table does not know (third-party adapters)."""
    package: str = ""
    """The framework's top-level package: only its absence makes the framework ``missing`` (rows ``skipped``);
    any other import failure is an ``error``. Default: the top-level package of ``module``."""
    broken: str = ""
    """Why a third-party entry point could not be used (it failed to load, is not an ``AdapterSpec``, or its
    records clash with others); such a framework never starts, and its rows are ``error`` with this reason."""


BUILTIN: tuple[AdapterSpec, ...] = (
    AdapterSpec("numpy", "regcompare.adapters.numpy_adapter", "pip install numpy", package="numpy"),
    AdapterSpec("torch", "regcompare.adapters.torch_adapter", "pip install 'regcompare[torch]'", package="torch"),
    AdapterSpec("tensorflow", "regcompare.adapters.tensorflow_adapter", "pip install 'regcompare[tensorflow]'",
                package="tensorflow"),
    AdapterSpec("paddle", "regcompare.adapters.paddle_adapter", "pip install 'regcompare[paddle]'",
                package="paddle"),
)

ENTRY_POINT_GROUP = "regcompare.adapters"


@cache
def specs() -> dict[str, AdapterSpec]:
    """Every known framework, built-ins first, then entry points in name order. An entry point that cannot be
    used is kept as a ``broken`` spec under its entry-point name: named everywhere, never silently dropped."""
    found = {s.framework: s for s in BUILTIN}
    records: tuple[Convention, ...] = ()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        spec = _entry_point_spec(ep)
        if not spec.broken:
            try:
                registry((*records, *spec.conventions))
            except ValueError as exc:  # two records for one API: the built-in table or an earlier entry point
                spec = _broken(ep.name, f"its records clash: {exc}")
            else:
                records += spec.conventions
        found.setdefault(spec.framework, spec)
    return found


def _entry_point_spec(ep: EntryPoint) -> AdapterSpec:
    try:
        spec = ep.load()
    except Exception as exc:  # noqa: BLE001 — a third-party package's failure is that framework's, not ours
        return _broken(ep.name, f"entry point {ep.value} failed to load: {type(exc).__name__}: {exc}")
    if not isinstance(spec, AdapterSpec):
        return _broken(ep.name, f"entry point {ep.value} is a {type(spec).__name__}, not a regcompare AdapterSpec")
    return spec


def _broken(name: str, reason: str) -> AdapterSpec:
    return AdapterSpec(name, "", "", broken=f"{ENTRY_POINT_GROUP} entry point '{name}': {reason}")


def broken() -> dict[str, str]:
    """Frameworks whose entry point cannot be used, with why."""
    return {name: spec.broken for name, spec in specs().items() if spec.broken}


@cache
def conventions() -> dict:
    """The registry including third-party records: API id → Convention."""
    return registry(tuple(c for s in specs().values() for c in s.conventions))


def frameworks() -> tuple[str, ...]:
    return tuple(specs())
