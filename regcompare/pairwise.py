"""The framework-vs-framework view: for each case and setting, frameworks × frameworks.

The rest of the report compares every framework with the oracle; a porter asks another question: "if
I move this setting from torch to Keras, do I get the same thing, and what do I write?". Each cell
answers it for two frameworks from their rows (same case, quantity, canonical setting, placement and
dtype): ``same`` (bit for bit), ``same up to rounding`` (within the rows' tolerances), ``coupled vs
decoupled`` or ``precedence`` (one follows documented semantics the other does not), or ``differs``
(a mismatch). Where the two APIs spell the same canonical coefficient with different numbers, the cell
says by which factor (copying torch's ``weight_decay=0.1`` into ``keras.regularizers.L2`` doubles the
decay). The native settings that make every framework equal come from the rows (each called with the
registry's mapping of the same canonical coefficients) and, for optimizer updates, from
``regcompare translate``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regcompare import adapters
from regcompare.jsontext import dumps_sorted

Row = dict[str, Any]

#: Relations, from the most to the least alike.
RELATIONS = ("same", "same up to rounding", "coupled vs decoupled", "precedence", "differs", "not comparable")
#: The dtype a setting is compared in: the most precise one the case runs.
DTYPE_PREFERENCE = ("float64", "float32", "bfloat16", "float16")


@dataclass
class Entry:
    """One API's result for a setting: its values per tensor and how it was judged."""

    framework: str
    api: str
    native: dict[str, Any]
    status: str
    coupling: str
    values: dict[str | None, np.ndarray | None] = field(default_factory=dict)
    tolerance: dict[str, float] | None = None
    precedence: bool = False
    optimizer: str = ""

    @property
    def semantics(self) -> str:
        """What this API computed: the canonical value, its documented decoupled/precedence one, or neither."""
        if self.status == "match":
            return "canonical"
        if self.status == "divergent":
            return "precedence" if self.precedence else "decoupled"
        return self.status

    def setting(self, short: bool = False) -> str:
        args = ", ".join(f"{k}={_num(v)}" for k, v in self.native.items())
        return f"{short_api(self.api) if short else self.api}({args})"


def short_api(api: str) -> str:
    """``keras.regularizers.L2`` → ``L2``; ``torch.optim.Adam.decoupled`` → ``Adam.decoupled``."""
    parts = api.split(".")
    keep = 2 if len(parts) > 2 and parts[-1][:1].islower() else 1
    return ".".join(parts[-keep:])


@dataclass(frozen=True)
class Pair:
    """How API ``b`` relates to API ``a`` for one setting."""

    a: Entry
    b: Entry
    relation: str
    factor: float | None = None
    """b's native coefficient ÷ a's, when both spell the setting with one number and they differ."""
    note: str = ""


@dataclass
class Setting:
    """One case, quantity, canonical setting and placement, in one dtype: the frameworks' APIs side by side."""

    case: str
    quantity: str
    regularizer: dict[str, float]
    placement: str
    dtype: str
    entries: list[Entry]
    translation: list[tuple[str, str]] = field(default_factory=list)
    """(framework, native setting) that reproduce the first coupled optimizer's update, from ``translate``."""

    @property
    def frameworks(self) -> list[str]:
        return list(dict.fromkeys(e.framework for e in self.entries))

    @property
    def id(self) -> str:
        reg = ",".join(f"{k}={v:g}" for k, v in self.regularizer.items() if v)
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"pw-{self.case}-{self.quantity}-{reg}-{self.placement}-{self.dtype}")

    def title(self) -> str:
        reg = ", ".join(f"{k} = {v:g}" for k, v in self.regularizer.items() if v) or "no regularization"
        where = f" · placed {self.placement}" if self.placement else ""
        return f"{self.case} · {self.quantity} · {reg}{where} · {self.dtype}"

    def pairs(self, fa: str, fb: str) -> list[Pair]:
        return [relate(a, b) for a in self.entries if a.framework == fa for b in self.entries
                if b.framework == fb and a is not b and (fa != fb or a.api < b.api)]

    def cell(self, fa: str, fb: str) -> Cell:
        return Cell(self.pairs(fa, fb))

    @property
    def agrees(self) -> bool:
        """Every pair of frameworks gives the same value, up to rounding."""
        together = _all_close(self.entries)
        return self.agrees_pair_by_pair() if together is None else together

    def agrees_pair_by_pair(self) -> bool:
        """``agrees`` from every cell's verdict: what ``_all_close`` computes at once, for settings it cannot stack."""
        return all(self.cell(a, b).verdict in ("same", "same up to rounding", "—")
                   for a in self.frameworks for b in self.frameworks if a < b)


@dataclass(frozen=True)
class Cell:
    """Every API pair of two frameworks for a setting."""

    pairs: list[Pair]

    @property
    def counts(self) -> Counter[str]:
        return Counter(p.relation for p in self.pairs)

    @property
    def verdict(self) -> str:
        """The least alike relation among the pairs that could be compared; ``—`` if none could."""
        found = [r for r in RELATIONS[:-1] if self.counts[r]]
        return found[-1] if found else "—"

    def text(self) -> str:
        """``same up to rounding`` or, when they differ, each relation with how many API pairs have it."""
        found = [r for r in RELATIONS[:-1] if self.counts[r]]
        if not found:
            return "—"
        if set(found) <= {"same", "same up to rounding"}:
            return found[-1]
        n = sum(self.counts[r] for r in found)
        return "; ".join(f"{r} {self.counts[r]}/{n}" for r in found if r not in ("same", "same up to rounding"))

    def factors(self) -> list[str]:
        """``L2(l2=0.25) ≙ SGD(weight_decay=0.5): ×0.5``: the same coefficient spelled by another number."""
        seen = dict.fromkeys(f"{p.b.setting(short=True)} ≙ {p.a.setting(short=True)}: ×{p.factor:g}"
                             for p in self.pairs if p.factor is not None)
        return list(seen)

    def detail(self) -> str:
        return "\n".join(f"{p.a.api} vs {p.b.api}: {p.relation}{(' — ' + p.note) if p.note else ''}"
                         for p in self.pairs)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _array(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    return np.asarray(value, dtype=object).astype(np.float64)


def _single_coefficient(native: dict[str, Any]) -> float | None:
    numbers = [float(v) for v in native.values() if isinstance(v, int | float) and not isinstance(v, bool) and v]
    return numbers[0] if len(numbers) == 1 else None


def coefficient_factor(a: Entry, b: Entry) -> float | None:
    """b's number ÷ a's for the same canonical coefficient, when each API spells it with one nonzero number."""
    x, y = _single_coefficient(a.native), _single_coefficient(b.native)
    if x is None or y is None or math.isclose(x, y, rel_tol=1e-12):
        return None
    return y / x


def _close(a: Entry, b: Entry) -> tuple[bool, bool, float]:
    """(bit for bit, within tolerance, largest relative difference) over the tensors both have."""
    tensors = [t for t in a.values if t in b.values]
    rtol, atol = _band(a, b)
    exact, close, worst = True, True, 0.0
    for t in tensors:
        x, y = a.values[t], b.values[t]
        if x is None or y is None or x.shape != y.shape:
            return False, False, math.inf
        if np.array_equal(x, y, equal_nan=True):
            continue  # bit for bit: close, and no relative difference (the commonest pair; a report has many)
        exact = False
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            close &= bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True))
            rel = np.abs(x - y) / np.maximum(np.abs(x), np.abs(y))
        rel = rel[~np.isnan(rel)]
        worst = max(worst, float(rel.max()) if rel.size else 0.0)
    return exact, close, worst


def _comparable(entry: Entry) -> bool:
    return bool(entry.values) and all(v is not None for v in entry.values.values())


def _band(a: Entry, b: Entry) -> tuple[float, float]:
    """(rtol, atol) of a pair, as ``_close`` takes them: the wider of the two rows' bands."""
    tol = [x for x in (a.tolerance, b.tolerance) if x]
    return max((t["rtol"] for t in tol), default=1e-7), max((t["atol"] for t in tol), default=1e-7)


def _all_close(entries: list[Entry]) -> bool | None:
    """Whether every pair of APIs of two different frameworks is within tolerance (``same`` or ``same up to
    rounding``), for all pairs in one numpy pass; None when the entries' tensors differ in names or shapes, or a
    band is not finite (then each pair goes through ``relate``).

    Every view of a report asks this of every setting (agreeing settings are counted, not shown), so it must not
    cost a ``relate`` per pair: a setting's values are stacked into one matrix and each pair's rows are compared
    with ``numpy.isclose``'s own formula and the pair's band, oriented as ``Setting.pairs`` orients it (``a``
    from the framework that sorts first: isclose scales the band by ``b``)."""
    shown = [e for e in entries if _comparable(e)]
    names = sorted({e.framework for e in shown})
    if len(names) < 2:
        return True  # no pair of two frameworks can be compared: every cell is "—"
    first = shown[0].values
    layout = [(t, v.shape) for t, v in first.items()]  # type: ignore[union-attr]
    for entry in shown[1:]:
        if entry.values.keys() != first.keys() or any(entry.values[t].shape != s for t, s in layout):  # type: ignore[union-attr]
            return None
    # each entry's band; NaN where it has none (a pair takes the wider of its two, 1e-7 if neither has one)
    given = [bool(e.tolerance) for e in shown]
    bands = np.array([(e.tolerance["rtol"], e.tolerance["atol"]) if e.tolerance else (np.nan, np.nan)
                      for e in shown], dtype=np.float64)
    if not np.isfinite(bands[given]).all():
        return None
    rank = np.array([names.index(e.framework) for e in shown])
    left, right = np.nonzero(rank[:, None] < rank[None, :])
    stacked = np.stack([np.concatenate([np.ravel(e.values[t]) for t, _ in layout]) for e in shown])  # type: ignore[arg-type]
    band = np.fmax(bands[left], bands[right])  # fmax: the one band when the other is NaN (none)
    band[np.isnan(band)] = 1e-7
    x, y = stacked[left], stacked[right]
    rtol, atol = band[:, :1], band[:, 1:]
    with np.errstate(invalid="ignore", over="ignore"):
        close = (np.less_equal(np.abs(x - y), atol + rtol * np.abs(y)) & np.isfinite(y)) | (x == y)
        close |= np.isnan(x) & np.isnan(y)
    return bool(close.all())


def relate(a: Entry, b: Entry) -> Pair:
    """How b's result relates to a's for the same canonical setting."""
    factor = coefficient_factor(a, b)
    if not (_comparable(a) and _comparable(b)):
        missing = b if _comparable(a) else a
        return Pair(a, b, "not comparable", factor, f"{missing.api}: {missing.status}")
    exact, close, worst = _close(a, b)
    if exact:
        return Pair(a, b, "same", factor)
    if close:
        return Pair(a, b, "same up to rounding", factor, f"largest relative difference {worst:.2g}")
    kinds = {a.semantics, b.semantics}
    if "precedence" in kinds:
        return Pair(a, b, "precedence", factor, "a parameter regularizer and the optimizer's decay combine differently")
    if kinds == {"canonical", "decoupled"} or (a.coupling != b.coupling and "decoupled" in (a.coupling, b.coupling)):
        return Pair(a, b, "coupled vs decoupled", factor, f"largest relative difference {worst:.2g}")
    return Pair(a, b, "differs", factor, f"largest relative difference {worst:.2g}")


def placement(row: Row) -> str:
    """Where the setting sits, in canonical terms (``[b] + param l2=0.5 on [w]``): the same for a Keras
    kernel_regularizer and a paddle ParamAttr that place the same coefficient on the same tensors."""
    scope, param = row.get("scope"), row.get("param")
    text = "" if scope is None else f"[{','.join(scope)}]"
    if param is not None:
        conv = adapters.conventions().get(param["api"])
        reg = conv.to_canonical(param["native"]).as_dict() if conv else param["native"]
        coeffs = ", ".join(f"{k}={v:g}" for k, v in reg.items() if v)
        where = "" if param.get("scope") is None else f" on [{','.join(param['scope'])}]"
        text += f" + param {coeffs}{where}"
    return text.strip()


def _key(row: Row) -> tuple[str, str, str, str]:
    return (row["case"], row["quantity"], dumps_sorted(row["regularizer"]), placement(row))


def _dtype(rows: list[Row]) -> str:
    present = {r["dtype"] for r in rows}
    return next((d for d in DTYPE_PREFERENCE if d in present), sorted(present)[0])


def _entries(rows: list[Row]) -> list[Entry]:
    entries: dict[tuple[str, str], Entry] = {}
    for row in rows:
        key = (row["framework"], row["api"] + dumps_sorted(row.get("native")))
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = Entry(row["framework"], row["api"], dict(row["native"]), row["status"],
                                         row.get("coupling") or "", tolerance=row.get("tolerance"),
                                         precedence=row.get("param") is not None or row.get("scope") is not None,
                                         optimizer=row.get("optimizer") or "")
        elif row["status"] != "match":
            entry.status = row["status"] if entry.status == "match" else entry.status
        entry.values[row.get("tensor")] = None if row["summary"] else _array(row["raw"])
    return list(entries.values())


def settings(rows: list[Row]) -> list[Setting]:
    """Every case × quantity × canonical setting × placement with rows from two or more APIs."""
    groups: dict[tuple[str, str, str, str], list[Row]] = {}
    for row in rows:
        # the plain call of each API: a variant (torch fused, maximize, ...) is another implementation, judged alone
        if row["status"] != "skipped" and not row.get("variant"):
            groups.setdefault(_key(row), []).append(row)
    out = []
    for (case, quantity, reg, placement), these in groups.items():
        dtype = _dtype(these)
        entries = _entries([r for r in these if r["dtype"] == dtype])
        if len(entries) < 2:
            continue
        setting = Setting(case, quantity, json.loads(reg), placement, dtype, entries)
        setting.translation = translated(setting)
        out.append(setting)
    return out


_ARG = re.compile(r"(\w+)=(\([^)]*\)|[^,()]+)")


def optimizer_args(call: str) -> list[str]:
    """``torch.optim.SGD(lr=0.1, betas=(0.9, 0.999))`` → ``["lr=0.1", "betas=0.9,0.999"]`` for translate."""
    inside = call[call.find("(") + 1: call.rfind(")")] if "(" in call else ""
    return [f"{k}={v.strip('() ').replace(' ', '')}" for k, v in _ARG.findall(inside)]


def translated(setting: Setting) -> list[tuple[str, str]]:
    """For an optimizer update: what every framework writes to reproduce the first coupled API's update."""
    if setting.quantity != "update" or setting.placement:
        return []
    from regcompare.translate import TranslateError, source, translations

    first = next((e for e in setting.entries if e.coupling == "coupled" and e.status == "match"), None)
    if first is None:
        return []
    try:
        src = source(first.api, {**_parse(optimizer_args(first.optimizer)), **first.native})
    except (TranslateError, ValueError):
        return []
    lines = [(first.framework, first.setting() + (f" with {first.optimizer}" if first.optimizer else ""))]
    for t in translations(src):
        lines.append((t.framework, ("= " if t.equivalent else "≠ ") + t.text() + (f" [{t.why}]" if t.why else "")))
    return lines


def _parse(pairs: list[str]) -> dict[str, float | bool]:
    from regcompare.translate import parse_args

    return parse_args(pairs)
