"""The pytest plugin: case files are test files, each planned item a test (``pytest cases/``).

Registered as the ``pytest11`` entry point ``regcompare`` (``-p regcompare`` when plugin autoload is off).
A ``.yaml``/``.yml`` file is collected when it is under a case root (ini ``regcompare_cases``,
default ``cases``) or named on the command line, and its top-level keys look like a case. Each
``engine.Item`` is one pytest item, ``<case>[<Item.label()>]``.

One engine: loading, planning, workers, oracle, comparison and ``known`` handling are those of
``regcompare run``. Evaluation is batched per (case, framework): the first item of a case that
runs in a framework sends every selected item of that case and framework to the session's
``WorkerPool`` in one ``engine.run_items`` call; the others read the cached rows. The pool is
one per pytest process (per xdist worker), closed at session end, so each framework is imported
once per process. Nothing here imports regcompare's engine before a case file is collected, and
no framework is ever imported in the pytest process.

Outcomes: ``match`` passes; ``mismatch`` and ``error`` fail with the figures; ``divergent`` and
rows explained by the case's ``known:`` xfail with their reason; ``unsupported`` and ``skipped``
skip. A ``known`` entry that explains nothing any more, or a documented divergence that is gone,
fails its items as ``[XPASS(strict)]``. An item with several rows (a gradient: one per tensor)
takes the worst of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from regcompare.deadline import positive_seconds  # stdlib only: loads no engine

if TYPE_CHECKING:
    from regcompare.cases import Case
    from regcompare.engine import Inputs
    from regcompare.engine import Item as EngineItem
    from regcompare.schema import KnownSpec
    from regcompare.workers import WorkerPool

Row = dict[str, Any]

#: Top-level keys only a case file has (schema.CaseSpec minus generic ones such as ``name``, which a CI
#: workflow has too); kept here so deciding costs no import.
CASE_KEYS = frozenset({"weights", "dtypes", "regularizers", "quantities", "grads", "tolerance", "expect", "known"})
_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:", re.MULTILINE)
#: Longest value shown in a failure message; the full values are in --junitxml properties and reports.
MAX_SHOWN = 160


# --- options and collection -------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("regcompare", "regcompare case files")
    group.addoption("--regcompare-frameworks", metavar="LIST",
                    help="comma-separated frameworks to run cases on (default: every one known)")
    group.addoption("--regcompare-timeout", type=positive_seconds, metavar="SECONDS",
                    help="seconds a task may take before its worker is killed (default: regcompare's)")
    parser.addini("regcompare_cases", type="paths", default=[],
                  help="folders whose *.yaml / *.yml case files pytest collects (default: cases)")


def pytest_configure(config: pytest.Config) -> None:
    # xdist registers this mark itself; registering it here too keeps --strict-markers quiet without xdist.
    config.addinivalue_line("markers", "xdist_group(name): run items of one group in one xdist worker")
    config.stash[_STATE] = _State(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    state = parent.config.stash[_STATE]
    if not (state.under_case_root(file_path) or state.given_explicitly(file_path)):
        return None
    if not looks_like_case(file_path):
        return None
    return CaseFile.from_parent(parent, path=file_path)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember what this process will run (after -k/-m), so batches hold no deselected items."""
    for item in session.items:
        if isinstance(item, CaseItem):
            item.selected = True


def pytest_sessionfinish(session: pytest.Session) -> None:
    session.config.stash[_STATE].close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Skips point at the case's line, not at the plugin line that called ``pytest.skip``."""
    report = yield
    if isinstance(item, CaseItem) and report.skipped and isinstance(report.longrepr, tuple):
        report.longrepr = (str(item.path), item.line, report.longrepr[2])
    return report


def looks_like_case(path: Path) -> bool:
    """Its top-level keys include a case key, so a workflow or a config file under a case root is left alone.

    A quick look at the text first; when it finds no case key, the YAML itself decides (quoted ``"weights":``
    or explicit ``? weights`` keys are keys too), so pytest collects what ``regcompare validate`` reads. A file
    that cannot be read or parsed, or is too large to read, is collected: loading it reports why, as validate does.
    """
    from regcompare.cases import MAX_FILE_BYTES  # loads no framework and no engine

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return True
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True
    if text.lstrip().startswith("{") or any(key in CASE_KEYS for key in _TOP_LEVEL_KEY.findall(text)):
        return True
    return _case_keys_in_yaml(text)


def _case_keys_in_yaml(text: str) -> bool:
    import yaml

    try:  # compose, not load: aliases stay unexpanded, so this costs what the text costs
        node = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return bool(text.strip())
    if not isinstance(node, yaml.MappingNode):
        return False
    return any(isinstance(key, yaml.ScalarNode) and key.value in CASE_KEYS for key, _ in node.value)


# --- session state ------------------------------------------------------------------------------------


class _State:
    """Per pytest process: which files are cases, the frameworks, and the one worker pool."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        roots = config.getini("regcompare_cases") or [config.rootpath / "cases"]
        self.roots = [Path(r).resolve() for r in roots]
        self.explicit = {_arg_path(config, arg) for arg in config.args}
        self.case_files: dict[str, str] = {}
        """Case name → file: names key the inputs and the workers' weights, so they must be unique."""
        self._pool: WorkerPool | None = None
        self._inputs: Inputs | None = None
        self._frameworks: tuple[str, ...] | None = None

    def under_case_root(self, path: Path) -> bool:
        resolved = path.resolve()
        return any(resolved.is_relative_to(root) for root in self.roots)

    def given_explicitly(self, path: Path) -> bool:
        return path.resolve() in self.explicit

    @property
    def frameworks(self) -> tuple[str, ...]:
        if self._frameworks is None:
            self._frameworks = _frameworks(self.config.getoption("regcompare_frameworks"))
        return self._frameworks

    @property
    def pool(self) -> WorkerPool:
        if self._pool is None:
            from regcompare.workers import DEFAULT_TASK_TIMEOUT, WorkerPool

            self._pool = WorkerPool(task_timeout=self.config.getoption("regcompare_timeout") or DEFAULT_TASK_TIMEOUT)
        return self._pool

    @property
    def inputs(self) -> Inputs:
        if self._inputs is None:
            from regcompare.engine import Inputs

            self._inputs = Inputs()
        return self._inputs

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


_STATE = pytest.StashKey[_State]()


def _arg_path(config: pytest.Config, arg: str) -> Path:
    return (config.invocation_params.dir / arg.split("::")[0]).resolve()


def _frameworks(text: str | None) -> tuple[str, ...]:
    from regcompare import adapters

    known = adapters.frameworks()
    if not text:
        return known
    chosen = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in known]
    if unknown or not chosen:
        named = ", ".join(unknown) or "(none given)"
        raise pytest.UsageError(f"--regcompare-frameworks: unknown framework {named}; known: {', '.join(known)}")
    return chosen


# --- collectors and items -----------------------------------------------------------------------------


class CaseFile(pytest.File):
    """One case file: its items in framework order, so a framework's items of a case are contiguous."""

    case: Case

    def collect(self) -> Iterator[CaseItem | BrokenFrameworkItem]:
        from regcompare.cases import CaseError, Problem, load_case
        from regcompare.engine import plan_case

        state = self.config.stash[_STATE]
        try:
            self.case = load_case(_shown_path(self.path))
        except CaseError as exc:
            raise self.CollectError(str(exc)) from None  # CollectError prints its message only: no traceback
        first = state.case_files.setdefault(self.case.name, str(self.path))
        if first != str(self.path):
            again = Problem(_shown_path(self.path), self.case.line, "name", f"duplicate case name '{self.case.name}' "
                            f"(also in {_shown_path(Path(first))})")
            raise self.CollectError(str(again))
        order = {fw: i for i, fw in enumerate(state.frameworks)}
        planned = sorted(plan_case(self.case, state.frameworks), key=lambda it: order[it.framework])
        self.items = list(self._items(planned))
        yield from self.items
        yield from self._broken_items(state.frameworks)

    def _broken_items(self, frameworks: tuple[str, ...]) -> Iterator[BrokenFrameworkItem]:
        """A framework whose entry point cannot be used has no records to plan with: one failing item per
        case says so (as ``regcompare run`` gives it ``error`` rows), so it can never pass by having no items."""
        from regcompare import adapters

        broken = adapters.broken()
        wanted = self.case.spec.frameworks or frameworks
        for fw in frameworks:
            if fw in broken and fw in wanted:
                yield BrokenFrameworkItem.from_parent(self, name=f"{self.case.name}[{fw}]", reason=broken[fw])

    def _items(self, planned: list[EngineItem]) -> Iterator[CaseItem]:
        seen: set[str] = set()
        for engine_item in planned:
            label = engine_item.label()
            name, n = f"{self.case.name}[{label}]", 1
            while name in seen:  # labels round native arguments (:g); keep ids unique all the same
                n += 1
                name = f"{self.case.name}[{label}#{n}]"
            seen.add(name)
            yield CaseItem.from_parent(self, name=name, engine_item=engine_item)

    def evaluate(self, framework: str, wanted: list[CaseItem]) -> None:
        """Rows for every item of ``framework`` that this process runs, plus ``wanted``, in one batch."""
        from regcompare.engine import judge, run_items

        state = self.config.stash[_STATE]
        if self.case.spec.programs is not None:
            self._evaluate_programs()
            return
        batch = [it for it in self.items if it.framework == framework and it.rows is None and it.selected]
        batch += [it for it in wanted if it.framework == framework and it.rows is None and it not in batch]
        if not batch:
            return
        outcomes = run_items([it.engine_item for it in batch], state.pool, state.inputs)
        for it, outcome in zip(batch, outcomes, strict=True):
            exact = state.inputs.exact(self.case, it.engine_item.dtype)
            it.rows = judge(it.engine_item, outcome, exact)

    def _evaluate_programs(self) -> None:
        """A program case's sides are judged pairwise: every side runs, then each item gets its pairs' rows."""
        from regcompare.engine import run_items
        from regcompare.programs import judge_case

        state = self.config.stash[_STATE]
        engine_items = [it.engine_item for it in self.items]
        outcomes = run_items(engine_items, state.pool, state.inputs)
        for it, rows in zip(self.items, judge_case(engine_items, outcomes, state.inputs.exact), strict=True):
            it.rows = rows

    def ensure(self, items: list[CaseItem]) -> None:
        for framework in dict.fromkeys(it.framework for it in items if it.rows is None):
            self.evaluate(framework, items)


def _shown_path(path: Path) -> str:
    """Relative to the working directory when below it, as ``regcompare run`` names files."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class CaseItem(pytest.Item):
    def __init__(self, *, engine_item: EngineItem, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine_item = engine_item
        self.rows: list[Row] | None = None
        self.selected = False
        self.line = _line_of(engine_item)
        # loadgroup sends a framework's items to one xdist worker: one import of it per worker.
        self.add_marker(pytest.mark.xdist_group(engine_item.framework))

    @property
    def case_file(self) -> CaseFile:
        assert isinstance(self.parent, CaseFile)
        return self.parent

    @property
    def framework(self) -> str:
        return self.engine_item.framework

    def runtest(self) -> None:
        rows, stale = self._judged()
        _record(self, rows)
        verdict = decide(rows, stale)
        where = f"{_shown_path(self.path)}:{self.line}: in case '{self.engine_item.case.name}'"
        verdict.act(where)

    def _judged(self) -> tuple[list[Row], list[str]]:
        """This item's rows with ``known`` applied, and the stale ``known`` entries that select them."""
        case_file = self.case_file
        case_file.ensure([self])
        assert self.rows is not None
        known = case_file.case.spec.known
        relevant = [i for i, entry in enumerate(known) if any(entry.selects(r) for r in self.rows)]
        # Whether an entry is stale depends on every row it selects, in any framework: judge those too.
        needed = [it for it in case_file.items if any(_may_select(known[i], it) for i in relevant)]
        case_file.ensure(needed)
        from regcompare.engine import apply_known  # the engine loads only once a case file is collected

        rows = [r for it in dict.fromkeys([self, *needed]) for r in it.rows or []]
        return self.rows, apply_known(case_file.case, rows, relevant)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, RowFailure):
            return str(excinfo.value)  # the finding, not the harness's traceback
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line - 1, self.name


class BrokenFrameworkItem(pytest.Item):
    """A framework named by an entry point that cannot be used (``adapters.broken``): fails with why."""

    def __init__(self, *, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reason = reason

    def runtest(self) -> None:
        raise RowFailure(f"{_shown_path(self.path)}: {self.reason}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        if isinstance(excinfo.value, RowFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        assert isinstance(self.parent, CaseFile)
        return self.path, self.parent.case.line - 1, self.name


def _line_of(item: EngineItem) -> int:
    """The line of the regularizer (or ``expect`` entry) this item comes from; the case's line otherwise."""
    from regcompare.engine import placed_of

    if item.quantity == "program":
        return item.line
    case, reg = item.case, item.regularizer
    for i, spec in enumerate(case.spec.regularizers):
        # Placed entries (scope/param) may share coefficients: the placement tells them apart.
        placed = placed_of(spec)
        same_place = placed.plain if item.placed is None else item.placed == placed
        if (spec.l1, spec.l2) == (reg.l1, reg.l2) and same_place:
            return case.line_of("regularizers", i)
    for i, exp in enumerate(case.spec.expect):
        if exp.api == item.api and dict(exp.native) == dict(item.native):
            return case.line_of("expect", i)
    return case.line


def _may_select(entry: KnownSpec, item: CaseItem) -> bool:
    """Whether ``entry`` can select a row of ``item``, before it has rows (tensor assumed to match)."""
    e = item.engine_item
    probe = {"framework": e.framework, "api": e.api, "quantity": e.quantity, "dtype": e.dtype, "tensor": entry.tensor}
    return entry.selects(probe)


# --- verdicts -----------------------------------------------------------------------------------------


class RowFailure(Exception):
    """A finding that fails the item; its message is the whole report (see ``CaseItem.repr_failure``)."""


#: Worst first: an item takes the first kind any of its rows has.
KINDS = ("fail", "xpass", "xfail", "skip", "pass")


@dataclass
class Verdict:
    kind: str = "pass"
    messages: list[str] = field(default_factory=list)

    def add(self, kind: str, message: str) -> None:
        if KINDS.index(kind) < KINDS.index(self.kind):
            self.kind, self.messages = kind, []
        if kind == self.kind and message not in self.messages:
            self.messages.append(message)

    def act(self, where: str) -> None:
        if self.kind in ("fail", "xpass"):
            # The finding first (the short summary shows the first line), the place last, as in a traceback.
            raise RowFailure("\n".join([*self.messages, where]))
        if self.kind == "xfail":
            pytest.xfail(self._reason())
        if self.kind == "skip":
            pytest.skip(self._reason())

    def _reason(self) -> str:
        """One line: per-tensor details differ only in their figures, which --junitxml properties keep."""
        more = len(self.messages) - 1
        return self.messages[0] + (f" (+{more} more row{'s' if more > 1 else ''})" if more else "")


def decide(rows: list[Row], stale: list[str]) -> Verdict:
    """The item's outcome from its rows and the stale ``known`` entries selecting it."""
    verdict = Verdict()
    for row in rows:
        status = row["status"]
        if row["known"]:
            verdict.add("xfail", f"known {status}: {row['known']}")
        elif status in ("mismatch", "error"):
            verdict.add("fail", describe(row))
        elif status == "divergent":
            verdict.add("xfail", f"divergent: {row['detail']}")
        elif status in ("unsupported", "skipped"):
            verdict.add("skip", f"{status}: {row['detail']}")
    for entry in stale:
        verdict.add("xpass", f"[XPASS(strict)] stale known finding: {entry}")
    return verdict


def _of_tensor(row: Row) -> str:
    return f" (tensor {row['tensor']})" if row.get("tensor") else ""


def describe(row: Row) -> str:
    """A failing row in a few lines: what was seen, what was allowed."""
    lines = [f"{row['status']}{_of_tensor(row)}: {row['detail']}"]
    for key in ("raw", "reconciled", "reference", "expected"):
        if key != "expected" or row.get(key) is not None:
            lines.append(f"  {key:<10} {_shown(row.get(key), row.get('summary'), key)}")
    tol = row.get("tolerance") or {}
    errors = "  ".join(f"{k} {_shown(row.get(k))}" for k in ("abs_err", "rel_err", "ulp"))
    lines.append(f"  errors     {errors}  (tolerance rtol={tol.get('rtol')} atol={tol.get('atol')})")
    return "\n".join(lines)


def _shown(value: Any, summary: dict[str, Any] | None = None, key: str = "") -> str:
    if value is None and summary is not None:
        at_worst = summary.get(f"{key}_at_worst") if key in ("raw", "reference") else None
        worst = f", {at_worst} at {summary.get('worst_index')}" if at_worst is not None else ""
        return f"<shape {summary.get('shape')}{worst}>"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _record(item: CaseItem, rows: list[Row]) -> None:
    """Per-item figures for --junitxml (user_properties travel from xdist workers to the controller)."""
    e = item.engine_item
    props: list[tuple[str, object]] = [
        ("case", e.case.name), ("file", e.case.file), ("line", str(item.line)), ("framework", e.framework),
        ("api", e.api), ("quantity", e.quantity), ("dtype", e.dtype), ("native", json.dumps(e.native)),
    ]
    from regcompare.escape import xml_text  # pytest escapes property values, not names: a tensor name may be anything

    for row in rows:
        prefix = f"{xml_text(row['tensor'])}." if row.get("tensor") else ""
        for key in ("status", "detail", "raw", "reconciled", "reference", "abs_err", "rel_err", "ulp", "known"):
            if row.get(key) is not None:
                props.append((prefix + key, _shown(row[key]) if key in ("raw", "reconciled", "reference") else
                              str(row[key])))
    item.user_properties.extend(props)
