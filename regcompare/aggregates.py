"""What the reports need of the rows, from one streaming pass: counts, the framework × API matrix, the rows
that are not ``match``, aggregated matching rows, ULP bins, training curves and the pairwise view.

A run's rows live on disk (regcompare.store); ``Digest.of`` reads them case by case and keeps only aggregates
and the rows a report lists (not ``match``: bounded by the findings, not by the suite), so a 10,000-case
suite's reports are written in flat memory. The functions over a list of rows (``grid``, ``notable``, ...)
are the same computations for a caller that has the rows in hand.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from regcompare import pairwise
from regcompare.dtypes import DTYPES
from regcompare.results import SEVERITY, worst_status
from regcompare.store import RowStore

Row = dict[str, Any]

#: The per-case list of matching groups is capped; the aggregate per framework and API is not.
MATCH_GROUP_CAP = 300
#: Statuses that fail a run unless a ``known`` entry expects them.
FAILING = ("mismatch", "error")


# --- aggregates shared by both reports ------------------------------------------------------------


def matrix(rows: list[Row]) -> dict[str, dict[str, str]]:
    """framework → API → worst status of its rows."""
    statuses: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        statuses[row["framework"]][row["api"]].append(row["status"])
    return {fw: {api: worst_status(s) for api, s in apis.items()} for fw, apis in statuses.items()}


def is_new(row: Row) -> bool:
    """A mismatch or error that no ``known`` entry expects: a row that makes ``run`` exit 1."""
    return row["status"] in FAILING and not row.get("known")


def notable(rows: list[Row]) -> list[Row]:
    """Rows that are not a plain match: new findings first (one new mismatch must not sit behind a hundred
    known errors), then worst status first, known findings after new ones of the same status, else stable."""
    listed = (r for r in rows if r["status"] != "match")
    return sorted(listed, key=lambda r: (not is_new(r), SEVERITY.index(r["status"]), bool(r.get("known"))))


def new_findings(rows: list[Row]) -> list[Row]:
    """Every new mismatch or error, worst status first, in the suite's order otherwise."""
    return sorted((r for r in rows if is_new(r)), key=lambda r: SEVERITY.index(r["status"]))


def new_failures(rows: list[Row]) -> int:
    """Mismatches and errors that no ``known`` entry expects: what makes ``run`` exit 1."""
    return sum(1 for r in rows if is_new(r))


def why_line(row: Row, limit: int = 160) -> str:
    """The first clause of a row's ``detail``, on one line: what a summary shows of why."""
    text = " ".join(str(row.get("detail") or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stale_entries(doc: Mapping[str, Any]) -> list[str]:
    return list((doc.get("known") or {}).get("stale") or [])


@dataclass
class Cell:
    """One (framework, API[, dtype]) cell of the matrix."""

    counts: Counter[str] = field(default_factory=Counter)
    known: Counter[str] = field(default_factory=Counter)
    """Per status, the rows that a ``known`` entry expects."""

    def add(self, row: Row) -> None:
        self.counts[row["status"]] += 1
        self.known[row["status"]] += bool(row.get("known"))

    @property
    def status(self) -> str:
        return worst_status(list(self.counts))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def notable(self) -> int:
        return self.total - self.counts["match"]

    @property
    def new(self) -> bool:
        """Some mismatch or error here is not expected by a ``known`` entry: the cell is news."""
        status = self.status
        return status in FAILING and self.known[status] < self.counts[status]

    @property
    def all_known(self) -> bool:
        """Every row of the worst status is expected: the cell looks bad but is not news."""
        status = self.status
        return status != "match" and self.known[status] == self.counts[status]


@dataclass
class Grid:
    """The framework × API matrix, with one column per dtype and one for all of them."""

    apis: list[tuple[str, str]]
    dtypes: list[str]
    cells: dict[tuple[str, str, str | None], Cell]

    def cell(self, fw: str, api: str, dtype: str | None = None) -> Cell | None:
        return self.cells.get((fw, api, dtype))


def grid(rows: Iterable[Row]) -> Grid:
    return Digest.of(rows).grid()


def _ulp_value(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)  # float() reads "NaN" and "Infinity" too


@dataclass
class MatchGroup:
    """Matching rows of one framework and API (and case, for the per-case list)."""

    framework: str
    api: str
    case: str = ""
    rows: int = 0
    cases: int = 0
    """Cases with such rows: counted as they change, since a case's rows come together (``Digest.add_case``);
    a set of every name would grow with the suite."""
    dtypes: set[str] = field(default_factory=set)
    quantities: set[str] = field(default_factory=set)
    worst_ulp: float | None = None
    worst_at: str = ""
    worst_rel: float | None = None
    last_case: str | None = field(default=None, repr=False, compare=False)

    def add(self, row: Row) -> None:
        self.rows += 1
        if row["case"] != self.last_case:
            self.cases += 1
            self.last_case = row["case"]
        self.dtypes.add(row["dtype"])
        self.quantities.add(row["quantity"])
        ulp, rel = _ulp_value(row.get("ulp")), _ulp_value(row.get("rel_err"))
        if ulp is not None and (self.worst_ulp is None or ulp > self.worst_ulp):
            self.worst_ulp, self.worst_at = ulp, f"{row['case']} · {row['dtype']} · {row['quantity']}"
        if rel is not None and (self.worst_rel is None or rel > self.worst_rel):
            self.worst_rel = rel

    def dtype_list(self) -> list[str]:
        return [d for d in DTYPES if d in self.dtypes] + sorted(self.dtypes - set(DTYPES))


def match_groups(rows: Iterable[Row]) -> tuple[list[MatchGroup], list[MatchGroup]]:
    """Matching rows per (framework, API), and per (case, framework, API) with the largest ULP first (at most
    ``MATCH_GROUP_CAP`` of those)."""
    return Digest.of(rows).match_groups()


#: ULP bins of the heatmap: upper bound (inclusive) and label.
ULP_BINS: tuple[tuple[float, str], ...] = (
    (0.0, "0"), (1.0, "≤ 1"), (4.0, "≤ 4"), (16.0, "≤ 16"), (256.0, "≤ 256"), (65536.0, "≤ 65536"),
    (float("inf"), "> 65536"),
)
NONFINITE = "∞ / NaN"

def ulp_bin(ulp: float) -> str:
    if not math.isfinite(ulp):  # math, not numpy: one Python float per row
        return NONFINITE
    for bound, label in ULP_BINS:
        if ulp <= bound:
            return label
    raise AssertionError("the last bin is unbounded")


def own_semantics(row: Row) -> bool:
    """Whether the row's ULP figure measures precision: it was judged against what the API means to compute.

    A ``divergent`` row's figure is its distance to the canonical update that it does not follow (decoupled
    decay, another precedence), and so is a mismatch's of such an API: thousands of ULP that say nothing of
    rounding. Those rows are left out of the heatmap (they are in the differences table)."""
    if row["status"] == "divergent":
        return False
    documented_other = row.get("coupling") == "decoupled" or row.get("documented_reference") is not None
    return not (row["status"] == "mismatch" and documented_other)


def ulp_table(rows: Iterable[Row]) -> tuple[list[tuple[str, str]], list[str], dict[tuple[str, str, str], int]]:
    """(framework, dtype) columns, bin labels, and counts of rows with an ULP figure judged by their own semantics."""
    return Digest.of(rows).ulp_table()


def trajectory_runs(rows: Iterable[Row]) -> dict[tuple[str, str], list[Row]]:
    """(case, dtype) → its trajectory rows with curves, float32 preferred (d2l's dtype), else the case's first."""
    return Digest.of(rows).trajectory_runs()


#: The framework-vs-framework view lists at most this many settings where frameworks differ, and this many
#: where they all agree (a 10,000-case suite must still give a small page); the counts are always given.
PAIRWISE_CAP = 120
PAIRWISE_AGREE_CAP = 40


@dataclass(frozen=True)
class PairwiseView:
    """The settings shown in the framework-vs-framework section, and how many there are in all."""

    differ: list[pairwise.Setting]
    agree: list[pairwise.Setting]
    total_differ: int
    total_agree: int


def pairwise_view(rows: Iterable[Row]) -> PairwiseView:
    return Digest.of(rows).pairwise_view()


def case_blocks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """The rows of each case together: a store's blocks as they are; a list grouped by case name (first seen
    first), for a caller whose rows of one case are not next to each other."""
    if isinstance(rows, RowStore):
        yield from rows.cases()
        return
    by_case: dict[str, list[Row]] = {}
    for row in rows:
        by_case.setdefault(row["case"], []).append(row)
    yield from by_case.values()


@dataclass
class Digest:
    """Everything the reports use of a run's rows, from one pass over them, a case at a time."""

    rows: int = 0
    cases: int = 0
    """Cases with rows (one ``add_case`` each)."""
    counts: Counter[str] = field(default_factory=Counter)
    """Rows per status."""
    known: Counter[str] = field(default_factory=Counter)
    """Rows per status that a ``known`` entry expects."""
    listed: list[Row] = field(default_factory=list)
    """Rows that are not ``match``, in plan order."""
    cells: defaultdict[tuple[str, str, str | None], Cell] = field(default_factory=lambda: defaultdict(Cell))
    apis: dict[tuple[str, str], None] = field(default_factory=dict)
    dtypes: set[str] = field(default_factory=set)
    by_api: dict[tuple[str, str], MatchGroup] = field(default_factory=dict)
    by_case_total: int = 0
    ulp_counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    ulp_left_out: int = 0
    """Rows with an ULP figure that follow other documented semantics (left out of the heatmap)."""
    trajectories: dict[tuple[str, str], list[Row]] = field(default_factory=dict)
    translator_rows: list[Row] = field(default_factory=list)
    """Rows of translated programs (regcompare.programs.translator_summary)."""
    differ: list[pairwise.Setting] = field(default_factory=list)
    agree: list[pairwise.Setting] = field(default_factory=list)
    total_differ: int = 0
    total_agree: int = 0
    _by_case: list[tuple[float, int, MatchGroup]] = field(default_factory=list)
    """A heap of the per-case match groups with the largest ULP, at most ``MATCH_GROUP_CAP``."""

    @classmethod
    def of(cls, rows: Iterable[Row]) -> Digest:
        digest = cls()
        for block in case_blocks(rows):
            digest.add_case(block)
        return digest

    def add_case(self, rows: list[Row]) -> None:
        """One case's rows (all of them: the per-case views need the whole case, and the counts of cases count
        each block of rows as one case)."""
        self.cases += len(dict.fromkeys(row["case"] for row in rows))
        groups: dict[tuple[str, str, str], MatchGroup] = {}
        for row in rows:
            self._add(row, groups)
        for group in groups.values():
            self._keep_group(group)
        for setting in pairwise.settings(rows):
            if setting.agrees:
                self.total_agree += 1
                if len(self.agree) < PAIRWISE_AGREE_CAP:
                    self.agree.append(setting)
            else:
                self.total_differ += 1
                if len(self.differ) < PAIRWISE_CAP:
                    self.differ.append(setting)

    def _add(self, row: Row, groups: dict[tuple[str, str, str], MatchGroup]) -> None:
        status, fw, api, dtype = row["status"], row["framework"], row["api"], row["dtype"]
        self.rows += 1
        self.counts[status] += 1
        if row.get("known"):
            self.known[status] += 1
        self.cells[(fw, api, None)].add(row)
        self.cells[(fw, api, dtype)].add(row)
        self.apis[(fw, api)] = None
        self.dtypes.add(dtype)
        if status == "match":
            self.by_api.setdefault((fw, api), MatchGroup(fw, api)).add(row)
            case = row["case"]
            groups.setdefault((case, fw, api), MatchGroup(fw, api, case)).add(row)
        else:
            self.listed.append(row)
        ulp = _ulp_value(row.get("ulp"))
        if ulp is not None:
            if own_semantics(row):
                self.ulp_counts[(fw, dtype, ulp_bin(ulp))] += 1
            else:
                self.ulp_left_out += 1
        if row["quantity"] == "trajectory" and row.get("reference_train_loss") is not None:
            self.trajectories.setdefault((row["case"], dtype), []).append(row)
        if row.get("translator"):
            self.translator_rows.append(row)

    def _keep_group(self, group: MatchGroup) -> None:
        ulp = group.worst_ulp
        rank = 0.0 if ulp is None or math.isnan(ulp) else ulp
        entry = (rank, -self.by_case_total, group)  # the order seen breaks ties: earlier groups first
        self.by_case_total += 1
        if len(self._by_case) < MATCH_GROUP_CAP:
            heapq.heappush(self._by_case, entry)
        else:
            heapq.heappushpop(self._by_case, entry)

    # --- the views ------------------------------------------------------------------------------------

    def notable(self) -> list[Row]:
        return notable(self.listed)

    def new_findings(self) -> list[Row]:
        return new_findings(self.listed)

    @property
    def new_failures(self) -> int:
        return new_failures(self.listed)

    def grid(self) -> Grid:
        # frameworks in the order they first appear, each framework's APIs together
        frameworks = list(dict.fromkeys(fw for fw, _ in self.apis))
        apis = sorted(self.apis, key=lambda k: frameworks.index(k[0]))
        dtypes = [d for d in DTYPES if d in self.dtypes] + sorted(self.dtypes - set(DTYPES))
        return Grid(apis, dtypes, dict(self.cells))

    def match_groups(self) -> tuple[list[MatchGroup], list[MatchGroup]]:
        ranked = sorted(self._by_case, key=lambda entry: (-entry[0], -entry[1]))
        return list(self.by_api.values()), [group for _, _, group in ranked]

    def ulp_table(self) -> tuple[list[tuple[str, str]], list[str], dict[tuple[str, str, str], int]]:
        counts = self.ulp_counts
        frameworks = list(dict.fromkeys(fw for fw, _, _ in counts))
        order = {d: i for i, d in enumerate(DTYPES)}
        columns = sorted({(fw, d) for fw, d, _ in counts}, key=lambda c: (frameworks.index(c[0]), order.get(c[1], 99)))
        return columns, [label for _, label in ULP_BINS] + [NONFINITE], dict(counts)

    def trajectory_runs(self) -> dict[tuple[str, str], list[Row]]:
        chosen: dict[str, str] = {}
        for case, dtype in self.trajectories:
            if case not in chosen or dtype == "float32":
                chosen[case] = dtype
        return {key: rows for key, rows in self.trajectories.items() if chosen[key[0]] == key[1]}

    def pairwise_view(self) -> PairwiseView:
        return PairwiseView(self.differ, self.agree, self.total_differ, self.total_agree)
