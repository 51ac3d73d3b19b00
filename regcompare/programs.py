"""Program cases: the user's own optimizer code per framework, compared pairwise (docs/programs.md).

A case with ``programs`` gives, per framework, a snippet that builds ``opt`` from ``params``; ``translate`` adds each
translator's version of the torch snippet (regcompare.translators). Planning makes one ``ProgramItem`` per side
and dtype; each runs in its framework's worker (``Adapter.program``) and returns every weight after every step.
Judging waits for all sides of a case, then compares:

* every framework's program with every other's;
* each translated program with the torch program it was translated from;
* every side with the float64 oracle, when the case also states a canonical setting (``optimizer`` and
  ``regularizers``: the first entry, coupled, as in an ``update`` case).

A pair is one row per tensor: ``raw`` is this side's final weights, ``reference`` the other side's; ``against``
names the other side, ``apart_from_step`` the first step at which they differ, ``step_abs_err`` the largest
difference after each step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from regcompare import oracle, program_run, translators
from regcompare.cases import Case
from regcompare.compare import Verdict, compare
from regcompare.conventions import Regularizer
from regcompare.workers import Outcome

ORACLE = "oracle"


@dataclass
class ProgramItem:
    """One side of a program case in one dtype: a framework's own snippet, or a translator's version of torch's."""

    case: Case
    framework: str
    dtype: str
    source: str
    translator: str | None = None
    skip: str = ""
    refused: str = ""
    """Why the translator gave no program (the row is ``skipped``; the translator's summary counts it refused)."""
    quantity: str = "program"
    native: dict[str, float] = field(default_factory=dict)

    @property
    def api(self) -> str:
        """``program`` for the user's own snippet, the translator's name for a translated one."""
        return self.translator or "program"

    @property
    def side(self) -> str:
        """``torch``, or ``paddle<paconvert>`` for a translated program."""
        return self.framework if self.translator is None else f"{self.framework}<{self.translator}>"

    @property
    def line(self) -> int:
        return self.case.line_of("programs", self.framework) if self.translator is None else \
            self.case.line_of("translate")

    def label(self) -> str:
        return f"{self.side}-program-{self.dtype}"

    def options(self) -> dict[str, Any]:
        """A program task's options: the snippet, where it comes from, the per-step gradients and the steps."""
        from regcompare.plan import grads_of  # planning helpers; plan imports this module lazily

        try:
            grads = grads_of(self.case, self.dtype)[0]
        except ValueError:
            grads = {}
        return {"source": self.source, "side": self.side, "file": self.case.file, "grads": grads,
                "steps": self.case.spec.steps}


def is_program_case(case: Case) -> bool:
    return case.spec.programs is not None


def plan_case(case: Case, frameworks: tuple[str, ...]) -> list[ProgramItem]:
    """Every side of a program case in each dtype: the programs of ``frameworks``, then the translations."""
    programs = case.spec.programs or {}
    excluded = set(frameworks) - set(case.spec.frameworks or frameworks)
    items: list[ProgramItem] = []
    for dtype in case.spec.dtypes:
        items += [ProgramItem(case, fw, dtype, source) for fw, source in programs.items() if fw in frameworks]
        for name in case.spec.translate:
            for t in translators.translate(name, programs["torch"], frameworks):
                items.append(ProgramItem(case, t.framework, dtype, t.source, name, refused=t.refused))
    for item in items:
        if item.refused:
            item.skip = f"{item.translator} refused: {item.refused}"
        elif item.framework in excluded:
            item.skip = "excluded by the case's `frameworks`"
    return items


def problems(spec: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong with a case's ``programs``/``translate`` (checked at load time, with the key's line)."""
    from regcompare import adapters

    found: list[tuple[tuple[str | int, ...], str]] = []
    programs = spec.programs or {}
    if spec.translate and "torch" not in programs:
        found.append((("translate",), "translators translate the torch program: give `programs.torch`"))
    if not programs:
        found.append((("programs",), "give at least one framework's snippet"))
    known = adapters.frameworks()
    for fw, source in programs.items():
        if fw not in known:
            found.append((("programs", fw), f"unknown framework '{fw}'; known: {', '.join(known)}"))
            continue
        try:
            compile(source, f"programs.{fw}", "exec")
        except SyntaxError as exc:
            found.append((("programs", fw), f"line {exc.lineno} of the snippet: {exc.msg}"))
    for i, known_entry in enumerate(spec.known):
        if known_entry.api not in (None, "program", *translators.NAMES):
            found.append((("known", i, "api"), f"a program case's rows have api 'program' or a translator's name "
                          f"({', '.join(translators.NAMES)}), not '{known_entry.api}'"))
    if len(programs) + len(spec.translate) < 2 and canonical_setting_of(spec) is None:
        found.append((("programs",), "nothing to compare: give two frameworks' programs, a translator, or "
                      "`optimizer` and `regularizers` for the oracle"))
    return found


def canonical_setting_of(spec: Any) -> Regularizer | None:
    if spec.optimizer is None or not spec.regularizers:
        return None
    first = spec.regularizers[0]
    return Regularizer(first.l1, first.l2)


# --- judging -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """What one side gave: each weight after every step (case layout), or why nothing."""

    name: str
    framework: str
    api: str
    outcome: Outcome
    history: dict[str, np.ndarray] | None
    mapping: str = ""
    refused: str = ""


def _side(item: ProgramItem, outcome: Outcome) -> Side:
    if outcome.status != "ok":
        return Side(item.side, item.framework, item.api, outcome, None, refused=item.refused)
    value = dict(outcome.value)
    mapping = str(value.pop(program_run.MAPPING_KEY, ""))
    return Side(item.side, item.framework, item.api, outcome, value, mapping)


def canonical_setting(case: Case) -> Regularizer | None:
    """The canonical regularizer a program case states besides its programs (with ``optimizer``), else None."""
    return canonical_setting_of(case.spec)


def oracle_side(case: Case, dtype: str, inputs: dict[str, np.ndarray]) -> Side | None:
    """The float64 reference after every step for the case's canonical setting (coupled decay)."""
    from regcompare.plan import grads_of, settings_of

    reg = canonical_setting(case)
    opt = case.spec.optimizer
    if reg is None or opt is None:
        return None
    grads = grads_of(case, dtype)[1]
    after = [oracle.update(inputs, grads, reg, opt.name, settings_of(case), k, "coupled")
             for k in range(1, case.spec.steps + 1)]
    history = {n: np.stack([a[n] for a in after]) for n in inputs}
    return Side(ORACLE, ORACLE, ORACLE, Outcome("ok"), history)


def pairs(sides: list[Side], oracle_: Side | None) -> list[tuple[Side, Side]]:
    """Own programs with each other, each translation with the torch program, every side with the oracle."""
    own = [s for s in sides if s.api == "program"]
    out = [(a, b) for i, a in enumerate(own) for b in own[i + 1:]]
    torch_side = next((s for s in own if s.framework == "torch"), None)
    out += [(s, torch_side) for s in sides if s.api != "program" and torch_side is not None]
    if oracle_ is not None:
        out += [(s, oracle_) for s in sides if not s.refused]
    return out


def judge_case(
    items: list[ProgramItem], outcomes: list[Outcome], inputs_of: Callable[[Case, str], dict[str, np.ndarray]]
) -> list[list[dict[str, Any]]]:
    """The rows of a program case's items (all sides of one case), each pair's rows given to its first side."""
    from regcompare.dtypes import DEFAULT_TOLERANCE, tolerance_for

    rows: list[list[dict[str, Any]]] = [[] for _ in items]
    by_dtype: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_dtype.setdefault(item.dtype, []).append(i)
    for dtype, unordered in by_dtype.items():
        case = items[unordered[0]].case
        indices = sorted(unordered, key=lambda i: _order(items[i]))  # pairs face the same way, however planned
        sides = [_side(items[i], outcomes[i]) for i in indices]
        index_of = {s.name: i for s, i in zip(sides, indices, strict=True)}
        # Two frameworks' runs against each other: torch.testing's per-dtype table (or the case's override), not
        # the error model, which bounds one implementation against the float64 reference.
        tol, source = tolerance_for(dtype, DEFAULT_TOLERANCE[dtype], case.spec.tolerance.get(dtype), "default")
        start = inputs_of(case, dtype)
        oracle_ = oracle_side(case, dtype, start)
        for a, b in pairs(sides, oracle_):
            rows[index_of[a.name]] += pair_rows(case, dtype, a, b, tol, source, start)
    return rows


def _order(item: ProgramItem) -> tuple[int, int, str]:
    """The case's own order: its programs as written, then the translations."""
    written = list(item.case.spec.programs or {})
    position = written.index(item.framework) if item.framework in written else len(written)
    return (item.translator is not None, position, item.translator or "")


def _stepwise(a: np.ndarray, b: np.ndarray, dtype: str, tol: Any, source: str) -> tuple[int | None, list[float]]:
    """The first step (1-based) at which a and b differ beyond tolerance, and the largest |a − b| per step."""
    first, errors = None, []
    for k in range(a.shape[0]):
        verdict = compare(a[k], b[k].astype(np.float64), dtype, tol, source)
        errors.append(float(verdict.abs_err) if verdict.abs_err is not None else float("nan"))
        if not verdict.ok and first is None:
            first = k + 1
    return first, errors


def _where(index: tuple[int, ...]) -> str:
    step, rest = index[0] + 1, index[1:]
    return f" after step {step}" + (f" at index {rest}" if rest else "")


def pair_rows(
    case: Case, dtype: str, a: Side, b: Side, tol: Any, source: str, start: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """One row per tensor: a's weights against b's, step by step (``start``: the weights before the first)."""
    from regcompare.judge import _figure, _listed

    names = list(case.weights)
    out = []
    for name in names:
        status, detail, verdict, first, errors = _pair_status(a, b, name, dtype, tol, source, start[name])
        raw = None if a.history is None or name not in a.history else a.history[name][-1]
        ref = None if b.history is None or name not in b.history else b.history[name][-1]
        reg = canonical_setting(case) or Regularizer()
        out.append({
            "case": case.name, "file": case.file, "line": case.line_of("programs"),
            "framework": a.framework, "api": a.api, "quantity": "update", "dtype": dtype,
            "regularizer": reg.as_dict(), "native": {}, "tensor": name,
            "raw": (listed := _listed(raw)), "reconciled": listed, "reference": _listed(ref), "expected": None,
            "abs_err": _figure(verdict and verdict.abs_err), "rel_err": _figure(verdict and verdict.rel_err),
            "ulp": _figure(verdict and verdict.ulp), "tolerance": {"rtol": tol.rtol, "atol": tol.atol},
            "summary": None, "status": status, "detail": detail, "known": None,
            # program keys: the pair, where they part, and the layouts used
            "program": a.name, "against": b.name, "translator": None if a.api == "program" else a.api,
            "steps": case.spec.steps, "apart_from_step": first, "step_abs_err": errors or None,
            "mapping": {s.name: s.mapping for s in (a, b) if s.mapping} or None,
        })
    return out


def update_error(x: np.ndarray, y: np.ndarray, start: np.ndarray) -> float:
    """How far apart two runs are after their steps, relative to how far the reference moved: ``max|x − y| /
    max|y − start|`` (3.77 is a 377% update error)."""
    moved = float(np.max(np.abs(y - start))) if y.size else 0.0
    apart = float(np.max(np.abs(x - y))) if x.size else 0.0
    return apart / moved if moved else (0.0 if apart == 0 else float("inf"))


def _pair_status(
    a: Side, b: Side, name: str, dtype: str, tol: Any, source: str, start: np.ndarray
) -> tuple[str, str, Verdict | None, int | None, list[float]]:
    for side in (a, b):
        if side.history is None:
            status = side.outcome.status if side.outcome.status in ("error", "unsupported", "skipped") else "error"
            return status, f"{side.name}: {side.outcome.detail}", None, None, []
    assert a.history is not None and b.history is not None
    if name not in a.history or name not in b.history:
        return "error", f"no value for {name!r} from {a.name if name not in a.history else b.name}", None, None, []
    x, y = a.history[name], b.history[name].astype(np.float64)
    verdict = compare(x, y, dtype, tol, source, _where)
    first, errors = _stepwise(x, y, dtype, tol, source)
    if verdict.ok:
        return "match", f"{a.name} = {b.name} after each of {x.shape[0]} steps; {verdict.detail}", verdict, None, errors
    steps = x.shape[0]
    error = update_error(x[-1].astype(np.float64), y[-1], start)
    size = f"the update differs by {error:.0%} of {b.name}'s" if np.isfinite(error) else f"{b.name}'s did not move"
    return ("mismatch", f"{a.name} ≠ {b.name} from step {first} (largest |Δ| {errors[first - 1]:.3g} then); after "
            f"{steps} steps {size}; worst {verdict.detail}", verdict, first, errors)


# --- per translator -----------------------------------------------------------------------------------------


def translator_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per translator: settings tried (one per case, translated program and dtype), how many equal the torch
    program in every tensor (equivalent), how many differ or crash (wrong), how many it refused; one example row
    of each kind."""
    settings: dict[str, dict[tuple[str, str, str], list[dict[str, Any]]]] = {}
    for row in rows:
        if row.get("translator") and row.get("against") != ORACLE:
            key = (row["case"], row["program"], row["dtype"])
            settings.setdefault(row["translator"], {}).setdefault(key, []).append(row)
    out = {}
    for name, found in settings.items():
        kinds: dict[str, list[dict[str, Any]]] = {"equivalent": [], "wrong": [], "refused": []}
        for these in found.values():
            kinds[_kind(these)].append(these[0] if _kind(these) != "wrong" else _worst(these))
        out[name] = {"tried": len(found)} | {k: len(v) for k, v in kinds.items()} | {
            "examples": {k: _example(v[0]) for k, v in kinds.items() if v}}
    return out


def _kind(rows: list[dict[str, Any]]) -> str:
    if any(r["status"] == "skipped" and " refused: " in r["detail"] for r in rows):
        return "refused"
    return "equivalent" if all(r["status"] == "match" for r in rows) else "wrong"


def _worst(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return next((r for r in rows if r["status"] != "match"), rows[0])


def _example(row: dict[str, Any]) -> dict[str, Any]:
    return {"case": row["case"], "program": row["program"], "tensor": row["tensor"], "status": row["status"],
            "detail": row["detail"], "known": row.get("known")}


def summary_lines(summary: dict[str, dict[str, Any]]) -> list[str]:
    """The CLI's lines: ``paconvert: 13 settings tried, 7 equivalent, 6 wrong, 0 refused``, then one example each."""
    lines = []
    for name, s in summary.items():
        lines.append(f"{name}: {s['tried']} settings tried, {s['equivalent']} equivalent, {s['wrong']} wrong, "
                     f"{s['refused']} refused")
        for kind, ex in s["examples"].items():
            lines.append(f"  e.g. {kind}: {ex['case']} {ex['program']}[{ex['tensor']}]: {ex['detail'][:160]}")
    return lines
