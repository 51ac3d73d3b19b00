"""The human-facing outputs: report.md (CI job summary) and report.html (one self-contained page).

Both are views of the results document (docs/results.md); nothing here computes a framework value.
The page must stay small for large suites, so rows that are not ``match`` are listed in full and
``match`` rows are aggregated (per framework and API, plus a capped list per case); every row is
in results.json.
"""

from __future__ import annotations

import io
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup, escape

from regcompare import adapters, pairwise
from regcompare.aggregates import (
    FAILING,
    MATCH_GROUP_CAP,
    NONFINITE,
    PAIRWISE_AGREE_CAP,
    PAIRWISE_CAP,
    ULP_BINS,
    Cell,
    Digest,
    Grid,
    MatchGroup,
    PairwiseView,
    grid,
    is_new,
    match_groups,
    matrix,
    new_failures,
    new_findings,
    notable,
    own_semantics,
    pairwise_view,
    stale_entries,
    trajectory_runs,
    ulp_bin,
    ulp_table,
    why_line,
)
from regcompare.engine import row_label
from regcompare.results import SEVERITY

#: The aggregates live in regcompare.aggregates; their names stay importable from here.
__all__ = [
    "FAILING", "MATCH_GROUP_CAP", "NONFINITE", "PAIRWISE_AGREE_CAP", "PAIRWISE_CAP", "SEVERITY", "ULP_BINS", "Cell",
    "Digest", "Grid", "MatchGroup", "PairwiseView", "figures", "grid", "is_new", "match_groups", "matrix",
    "new_failures", "new_findings", "notable", "own_semantics", "pairwise_view", "stale_entries", "to_html",
    "to_markdown", "trajectory_curves", "trajectory_runs", "ulp_bin", "ulp_heatmap", "ulp_table", "verdict",
    "why_line",
]

Row = dict[str, Any]
Rows = Iterable[Row] | Digest
"""What a view takes: the rows, or the digest of them that the caller already made (one pass for all views)."""


def _digest(rows: Rows) -> Digest:
    return rows if isinstance(rows, Digest) else Digest.of(rows)

#: report.md is read in a CI job summary, which has a size limit (1 MiB): list at most this many rows…
MD_MAX_ROWS = 60
#: …and stop adding rows once the summary is this long.
MD_MAX_CHARS = 60_000
#: Tensors with more elements, or longer as text, are shown as a summary (shape, worst element and its index).
INLINE_ELEMENTS = 6
INLINE_CHARS = 40


# --- formatting -------------------------------------------------------------------------------------


def slug(text: str) -> str:
    """An HTML id fragment (case names and API ids are free text)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def number(value: Any) -> str:
    """Shortest text that round-trips (a float32 result shows as 0.099999994, not 0.1)."""
    if value is None:
        return ""
    if isinstance(value, str):  # results.json spells non-finite numbers as strings
        return {"Infinity": "∞", "-Infinity": "−∞"}.get(value, value)
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def figure_of_merit(value: Any) -> str:
    """Errors are read for their size, not their last digit."""
    if value is None:
        return ""
    if isinstance(value, str):
        return number(value)
    return "0" if value == 0 else f"{float(value):.3g}"


def sort_key(value: Any) -> str:
    """``data-v`` for the page's sorter: a JavaScript ``Number()`` string, or empty for no value."""
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(float(value))


def as_array(value: Any) -> np.ndarray:
    """A results.json value (numbers, nested lists, "NaN"/"Infinity" strings) as float64."""
    return np.asarray(value, dtype=object).astype(np.float64)


def worst_index(raw: np.ndarray, ref: np.ndarray) -> tuple[int, ...]:
    """Where raw is furthest from the reference; a NaN or ∞ where the other side differs is worst."""
    with np.errstate(invalid="ignore"):
        same = (raw == ref) | (np.isnan(raw) & np.isnan(ref))
        gap = np.where(same, 0.0, np.abs(raw - ref))
    gap = np.where(np.isnan(gap), np.inf, gap)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(gap)), gap.shape))


def inline(array: np.ndarray) -> str:
    if array.ndim == 0:
        return number(float(array))
    return "[" + ", ".join(inline(a) for a in array) + "]"


@dataclass(frozen=True)
class Shown:
    """One value column of a row: its text, its sort key, and for a summarized tensor where the text is from."""

    text: str
    key: str
    note: str = ""


def shown_values(row: Row) -> dict[str, Shown]:
    """raw, reconciled, reference: inline when small, else shape and the worst element."""
    summary = row.get("summary")
    if summary:  # too large even for results.json: the engine kept only the worst element
        return _shown_from_summary(row, summary)
    out: dict[str, Shown] = {}
    ref = None if row["reference"] is None else as_array(row["reference"])
    raw = None if row["raw"] is None else as_array(row["raw"])
    where = None
    if ref is not None and raw is not None and ref.ndim and raw.shape == ref.shape:
        where = worst_index(raw, ref)
    for key in ("raw", "reconciled", "reference"):
        out[key] = _shown(row[key], where)
    if row["reconciled"] == row["raw"] and row["raw"] is not None:
        out["reconciled"] = Shown("= raw", out["raw"].key)  # no rescaling: say so instead of repeating it
    return out


def _largest(array: np.ndarray) -> float:
    magnitudes = np.abs(array[~np.isnan(array)])
    return float(magnitudes.max()) if magnitudes.size else float("nan")


def _shown(value: Any, where: tuple[int, ...] | None) -> Shown:
    if value is None:
        return Shown("", "")
    array = as_array(value)
    if array.ndim == 0:
        return Shown(number(value), sort_key(value))
    # sorting a tensor column sorts by its worst element (or its largest one when there is no worst)
    key = sort_key(float(array[where]) if where is not None else _largest(array))
    text = inline(array) if array.size <= INLINE_ELEMENTS else ""
    if text and len(text) <= INLINE_CHARS:
        return Shown(text, key)
    shape = "×".join(map(str, array.shape))
    if where is None:
        return Shown("", key, f"{shape} tensor")
    return Shown(number(float(array[where])), key, f"{shape}, worst at {list(where)}")


def _shown_from_summary(row: Row, summary: Mapping[str, Any]) -> dict[str, Shown]:
    shape = "×".join(map(str, summary.get("shape", [])))
    where = summary.get("worst_index")

    def one(key: str) -> Shown:
        value = summary.get(key)
        if where is None or value is None:
            present = key == "reference_at_worst" or row["raw"] is not None
            return Shown("", "", f"{shape} tensor" if present else "")
        return Shown(number(value), sort_key(value), f"{shape}, worst at {list(where)}")

    raw = one("raw_at_worst")
    reconciled = Shown("= raw", raw.key) if raw.text else raw
    return {"raw": raw, "reconciled": reconciled, "reference": one("reference_at_worst")}


def breakable(text: str) -> Markup:
    """Escaped text that may wrap after dots and underscores (API ids, case names) instead of widening a column."""
    return Markup(re.sub(r"([._])", r"\1<wbr>", str(escape(text))))


def native_text(native: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={number(v)}" for k, v in native.items())


def native_cell(row: Row) -> str:
    """The API's arguments and, for a placed regularizer, where it sits: two rows that differ only in
    ``scope`` or ``param`` must not look identical."""
    parts = [native_text(row["native"])]
    if row.get("scope") is not None:
        parts.append(f"scope [{', '.join(row['scope'])}]")
    param = row.get("param")
    if param:
        where = "" if param.get("scope") is None else f" on [{', '.join(param['scope'])}]"
        parts.append(f"param {param['api']}({native_text(param['native'])}){where}")
    return " · ".join(p for p in parts if p)


def tolerance_text(tol: Mapping[str, Any] | None) -> str:
    """The band in a few words; a band a precision finding widened names it (regcompare.errormodel)."""
    if not tol:
        return ""
    text = f"rtol {number(tol['rtol'])} · atol {number(tol['atol'])}"
    return f"{text} · widened by {tol['finding']}" if tol.get("finding") else text


#: How the reproduce command starts: the checkout's virtual environment (``make install`` creates it), which
#: works from the checkout whether or not it is activated; a bare ``python -m regcompare`` does not.
RERUN = ".venv/bin/regcompare"


def command(row: Row) -> str:
    """The one command that reruns this row (its case, its framework), without touching reports/."""
    return (f"{RERUN} run {shlex.quote(row['file'])} --frameworks {shlex.quote(row['framework'])}"
            " --out reports/repro")


# --- the page's view of rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowView:
    """Everything the differences table shows for one row, formatted once."""

    id: str
    row: Row
    values: dict[str, Shown]
    native: str
    tolerance: str
    command: str
    case_anchor: str
    why: str
    """The first 150 characters of ``detail``: always visible; the rest is in the row's expandable details."""

    @property
    def new(self) -> bool:
        return is_new(self.row)

    @property
    def expected(self) -> str:
        """The case's golden raw value (``expect``), shown like raw: inline when small."""
        return _shown(self.row.get("expected"), None).text or "tensor"

    @property
    def where(self) -> str:
        """framework · quantity · dtype · tensor: under the API, so the table needs no column for each."""
        r = self.row
        return " · ".join(x for x in (r["framework"], r["quantity"], r["dtype"], r.get("tensor")) if x)


def row_views(rows: list[Row], prefix: str = "r") -> list[RowView]:
    return [
        RowView(f"{prefix}{i}", r, shown_values(r), native_cell(r), tolerance_text(r.get("tolerance")),
                command(r), "case-" + slug(r["case"]), why_line(r, 150))
        for i, r in enumerate(rows)
    ]


def first_anchors(views: list[RowView]) -> dict[tuple[str, str], str]:
    """(framework, API) → id of its first listed row: where a matrix cell links with JavaScript off."""
    anchors: dict[tuple[str, str], str] = {}
    for v in views:
        anchors.setdefault((v.row["framework"], v.row["api"]), v.id)
    return anchors


# --- pictures -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    caption: str
    svg: Markup | None
    """Inline SVG; None with ``caption`` saying why (matplotlib missing, nothing to draw)."""


MATPLOTLIB_HINT = "Plots need matplotlib: pip install 'regcompare[report]'."


def ulp_heatmap(rows: Rows) -> Figure:
    title = "Error in ULP by framework and dtype"
    digest = _digest(rows)
    columns, bins, counts = digest.ulp_table()
    if not columns:
        return Figure("ulp", title, "No row has an ULP figure yet.", None)
    try:
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        return Figure("ulp", title, MATPLOTLIB_HINT, None)
    grid_ = np.array([[counts.get((fw, d, b), 0) for fw, d in columns] for b in bins], dtype=float)
    fig = MplFigure(figsize=(1.0 + 0.62 * len(columns), 3.4), layout="constrained")
    ax = fig.add_subplot()
    # log colour scale: one bad row must stay visible next to thousands of exact ones
    # pcolormesh, not imshow: vector cells instead of an embedded PNG
    ax.pcolormesh(np.log1p(grid_), cmap="Blues", vmin=0, edgecolors="white", linewidth=1)
    ax.invert_yaxis()
    for (y, x), n in np.ndenumerate(grid_):
        if n:
            colour = "white" if np.log1p(n) > 0.6 * np.log1p(grid_.max()) else "#123"  # readable on dark cells
            ax.text(x + 0.5, y + 0.5, f"{int(n)}", ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(np.arange(len(columns)) + 0.5, [f"{fw}\n{d}" for fw, d in columns], fontsize=8)
    ax.set_yticks(np.arange(len(bins)) + 0.5, bins, fontsize=8)
    ax.set_ylabel("worst-element error (ULP of the dtype)", fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    left_out = digest.ulp_left_out
    caption = ("Rows per ULP bin: every row with an error figure that was judged against the API's own semantics. "
               "The bottom rows are where a framework leaves the last bits: look there first."
               + (f" {left_out} row{'s' if left_out != 1 else ''} that follow other documented semantics "
                  "(decoupled decay, precedence) are left out: their figure is the distance between two "
                  "conventions, not rounding." if left_out else ""))
    return Figure("ulp", title, caption, svg_markup(fig))


def svg_markup(fig: Any) -> Markup:
    """A matplotlib figure as an inline <svg> element: text kept as text, no date, stable ids."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "regcompare"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    svg = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: not allowed inside HTML
    return Markup(svg.replace("<svg ", '<svg role="img" class="plot" ', 1))  # matplotlib escapes its text


# --- training curves (quantity ``trajectory``) ----------------------------------------------------------------

#: One colour per framework (the oracle is the thick grey line under them); style: scratch solid, concise dashed.
FRAMEWORK_COLOURS = {"numpy": "#4d4d4d", "torch": "#d62728", "tensorflow": "#ff7f0e", "paddle": "#1f77b4"}
ORACLE_COLOUR = "#bbbbbb"


def _lambdas(rows: list[Row]) -> list[float]:
    return sorted({float(r["lambda"]) for r in rows})


def _conclusion(case: str, rows: list[Row]) -> str:
    """The seed's conclusion in numbers, from the oracle: the final test loss and ‖w‖ per λ."""
    parts = []
    for lam in _lambdas(rows):
        ref = next(r for r in rows if float(r["lambda"]) == lam)
        parts.append(f"λ = {lam:g}: final test loss {ref['reference_test_loss'][-1]:.3g}, ‖w‖ {ref['reference']:.3g}")
    return f"{case}: " + "; ".join(parts)


def _curve_panel(ax: Any, rows: list[Row], key: str, title: str) -> None:
    """One loss against epoch, log scale: the oracle thick, every framework's run thin on top of it."""
    epochs = np.arange(1, rows[0]["epochs"] + 1)
    ax.plot(epochs, rows[0][f"reference_{key}"], color=ORACLE_COLOUR, linewidth=5, label="oracle (float64)")
    for i, row in enumerate(r for r in rows if r[key] is not None):
        ax.plot(epochs, row[key], color=FRAMEWORK_COLOURS.get(row["framework"], "black"), linewidth=1,
                linestyle="-" if row.get("style") == "scratch" else "--", marker="ox+^vsd<>"[i % 9], markersize=3,
                markevery=(i, 9), label=f"{row['framework']} {row['api']}")  # staggered marks: each run visible
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("epoch", fontsize=8)
    ax.tick_params(labelsize=7)


def _norm_panel(ax: Any, rows: list[Row]) -> None:
    """The final ‖w‖ of every run (bars) against the oracle's (a vertical line)."""
    shown = [r for r in rows if r["raw"] is not None]
    names = [r["api"] for r in shown]
    ax.barh(range(len(shown)), [float(r["raw"]) for r in shown],
            color=[FRAMEWORK_COLOURS.get(r["framework"], "black") for r in shown])
    ax.axvline(float(rows[0]["reference"]), color=ORACLE_COLOUR, linewidth=3)
    for y, row in enumerate(shown):
        ax.text(float(row["raw"]), y, f" {float(row['raw']):.6g}", va="center", fontsize=6)
    ax.set_yticks(range(len(shown)), names, fontsize=6)
    ax.invert_yaxis()
    ax.set_title("final ‖w‖", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.margins(x=0.35)


def _share_scales(axes: Any) -> None:
    """One loss scale for every loss panel and one ‖w‖ scale for every bar panel: the λ = 0 test loss staying
    high and ‖w‖ shrinking under λ = 3 must be visible as heights and lengths, not only in tick labels."""
    losses = [ax for row in axes for ax in row[:2]]
    low = min(ax.get_ylim()[0] for ax in losses)
    high = max(ax.get_ylim()[1] for ax in losses)
    for ax in losses:
        ax.set_ylim(low, high)
    widest = max(row[2].get_xlim()[1] for row in axes)
    for row in axes:
        row[2].set_xlim(0, widest)


def trajectory_curves(rows: Rows) -> Figure:
    title = "Training curves: train and test loss per epoch, every framework on the oracle"
    runs = _digest(rows).trajectory_runs()
    if not runs:
        return Figure("trajectory", title, "No case runs the `trajectory` quantity.", None)
    try:
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        return Figure("trajectory", title, MATPLOTLIB_HINT, None)
    panels = [(key, lam) for key in runs for lam in _lambdas(runs[key])]
    fig = MplFigure(figsize=(11, 2.9 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), 3, squeeze=False, width_ratios=(1, 1, 0.9))
    for (ax_train, ax_test, ax_norm), ((case, dtype), lam) in zip(axes, panels, strict=True):
        these = [r for r in runs[(case, dtype)] if float(r["lambda"]) == lam]
        _curve_panel(ax_train, these, "train_loss", f"train loss, λ = {lam:g} ({dtype})")
        _curve_panel(ax_test, these, "test_loss", f"test loss, λ = {lam:g} ({dtype})")
        _norm_panel(ax_norm, these)
        ax_train.set_ylabel(case, fontsize=7)
    _share_scales(axes)
    axes[0][0].legend(fontsize=6, loc="lower left")
    conclusions = " ".join(_conclusion(case, runs[(case, dtype)]) + "." for case, dtype in runs)
    caption = (f"{conclusions} Each run is one line (solid: from scratch; dashed: concise), drawn over the float64 "
               "oracle (thick grey); where they coincide, the framework traced the oracle's curve. The rows below "
               "give each run's worst deviation.")
    return Figure("trajectory", title, caption, svg_markup(fig))


#: Picture builders, in page order.
FIGURES: tuple[Callable[[Rows], Figure], ...] = (ulp_heatmap, trajectory_curves)


def figures(rows: Rows) -> list[Figure]:
    digest = _digest(rows)
    return [build(digest) for build in FIGURES]


# --- conventions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """A plain-language note on one family of divergences, with the APIs it is about."""

    title: str
    text: str
    apis: tuple[str, ...]


NOTES: tuple[Note, ...] = (
    Note(
        "The ½ in l2_loss",
        "tf.nn.l2_loss(w) is ½·Σw², like the canonical l2/2·Σw², but keras.regularizers.L2(c) is c·Σw² with no ½: "
        "L2(c) is canonical l2 = 2c, and its gradient is 2c·w. Copying a Keras coefficient into a torch or paddle "
        "weight_decay therefore halves the regularization; copying a weight_decay into L2 doubles it.",
        ("tf.nn.l2_loss", "keras.regularizers.L2", "keras.regularizers.L1L2", "tf.contrib.layers.l2_regularizer"),
    ),
    Note(
        "Coupled vs decoupled decay",
        "Coupled decay (torch.optim.SGD's weight_decay, paddle's L2Decay) adds l2·w to the gradient, so it goes "
        "through momentum and Adam's moments: it is exactly the gradient of the canonical penalty. Decoupled decay "
        "(AdamW in torch and paddle, weight_decay of every Keras optimizer) shrinks the weights directly, "
        "w ← w − ηλw, outside the moments. With plain SGD the two agree; with momentum or Adam they give different "
        "weights, and regcompare reports the decoupled ones as divergent (matching their own semantics), not as "
        "mismatches.",
        ("torch.optim.SGD", "torch.optim.AdamW", "paddle.regularizer.L2Decay", "paddle.optimizer.AdamW"),
    ),
    Note(
        "Precedence",
        "In paddle a regularizer given to a parameter (ParamAttr(regularizer=…)) replaces the optimizer's "
        "weight_decay for that parameter; they do not add up. A float weight_decay in a paddle optimizer means "
        "L2Decay(weight_decay). In Keras a layer's kernel_regularizer adds to the loss and the optimizer's "
        "weight_decay acts on top of it: both apply.",
        ("paddle.ParamAttr.L2Decay", "paddle.ParamAttr.L1Decay", "paddle.optimizer.SGD"),
    ),
)


# --- report.html ------------------------------------------------------------------------------------


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("regcompare", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(number=number, fom=figure_of_merit, slug=slug, sortkey=sort_key, breakable=breakable,
                    short=lambda text, n=90: text if len(text) <= n else text[: n - 1] + "…")


def to_html(doc: Mapping[str, Any], sources: Mapping[str, str], digest: Digest | None = None) -> str:
    """``sources`` maps a case name to its YAML text, shown for cases with rows that are not ``match``.

    ``digest``: the rows' digest if the caller made it already (else one pass over ``doc["rows"]`` makes it)."""
    digest = digest or Digest.of(doc["rows"])
    listed = row_views(digest.notable())
    by_api, by_case = digest.match_groups()
    cases_listed = list(dict.fromkeys(v.row["case"] for v in listed))
    registry, stale = adapters.conventions(), stale_entries(doc)
    return _ENV.get_template("report.html.j2").render(
        doc=doc, severity=SEVERITY, summary=_summary_counts(doc, digest), known_counts=digest.known,
        verdict=verdict(digest, stale), stale=stale, grid=digest.grid(), anchors=first_anchors(listed),
        listed=listed, new=[v for v in listed if v.new], match_by_api=by_api, match_by_case=by_case,
        match_groups_total=digest.by_case_total, figures=figures(digest), total_rows=digest.rows,
        total_cases=digest.cases, conventions=list(registry.values()),
        notes=[(n, [a for a in n.apis if a in registry]) for n in NOTES],
        sources={c: capped_source(sources[c]) for c in cases_listed if c in sources},
        filters=_filter_choices(listed), pairwise=digest.pairwise_view(), relations=pairwise.RELATIONS,
    )


def _summary_counts(doc: Mapping[str, Any], digest: Digest) -> dict[str, int]:
    return {s: int(doc.get("summary", {}).get(s, digest.counts[s])) for s in SEVERITY}


def _filter_choices(listed: list[RowView]) -> dict[str, list[str]]:
    def distinct(key: str) -> list[str]:
        return sorted({v.row[key] for v in listed})

    return {"framework": distinct("framework"), "api": distinct("api"), "dtype": distinct("dtype"),
            "case": distinct("case"), "status": [s for s in SEVERITY if any(v.row["status"] == s for v in listed)]}


# --- report.md ----------------------------------------------------------------------------------------


# Escaping, in one place: whatever a name or a reason holds (newlines, `|`, `#`, raw HTML, control
# characters), report.md shows it as text and report.html embeds at most SOURCE_CAP characters of a case file.

#: Characters CommonMark/GFM give a meaning inside a table cell or list item; each is backslash-escaped.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&!])")
_MD_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
#: Characters of a case file embedded in report.html; the rest is replaced by a note (a case file may be 16 MiB).
SOURCE_CAP = 64 * 1024


def _md_plain(value: Any, limit: int) -> str:
    text = _MD_LINE_BREAKS.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_cell(value: Any, limit: int = 200) -> str:
    """Text for a table cell or list item: one line, markdown and HTML shown as written, never interpreted."""
    text = _MD_SPECIAL.sub(r"\\\1", _md_plain(value, limit))
    # A list item's text that starts like a list marker ("- x", "1. x") would open a nested list.
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", re.sub(r"^([-+])(?=\s)", r"\\\1", text))


def _md_code(value: Any, limit: int = 200) -> str:
    """A code span around any text: a fence longer than any run of backticks in it; ``|`` escaped for GFM tables."""
    text = _md_plain(value, limit).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def capped_source(text: str) -> str:
    """A case file's text for report.html, cut at ``SOURCE_CAP`` characters with a note saying so."""
    if len(text) <= SOURCE_CAP:
        return text
    return text[:SOURCE_CAP] + f"\n# … {len(text) - SOURCE_CAP:,} more characters not shown here; see the file itself\n"


def verdict(rows: Rows, stale: list[str]) -> tuple[bool, str]:
    """Whether the run passes (``run`` exits 0) and why, in one line."""
    digest = _digest(rows)
    failures = digest.new_failures
    if failures or stale:
        parts = [f"{failures} new mismatch/error row{'' if failures == 1 else 's'}"] if failures else []
        parts += [f"{len(stale)} stale known entr{'y' if len(stale) == 1 else 'ies'}"] if stale else []
        return False, "FAILED: " + ", ".join(parts)
    known = sum(n for status, n in digest.known.items() if status != "match")
    return True, "PASSED: no new mismatch or error" + (f" ({known} known findings)" if known else "")


def _md_matrix(digest: Digest) -> list[str]:
    table = digest.grid()
    lines = ["| framework | API | worst | not match / rows |", "|---|---|---|---|"]
    for fw, api in table.apis:
        cell = table.cells[(fw, api, None)]
        mark = " (known)" if cell.all_known else " (**NEW**)" if cell.new else ""
        lines.append(f"| {_md_cell(fw)} | {_md_code(api)} | {cell.status}{mark} | {cell.notable} / {cell.total} |")
    return lines


def _md_rows(listed: list[Row]) -> list[str]:
    """Known and other findings (not new ones): bounded, the rest is in results.json and report.html."""
    lines = ["| status | case | row | detail |", "|---|---|---|---|"]
    size = 0
    for shown, r in enumerate(listed):
        if shown >= MD_MAX_ROWS or size > MD_MAX_CHARS:
            lines.append(f"\n…and {len(listed) - shown} more in results.json and report.html.")
            break
        status = f"{r['status']} (known: {_md_cell(r['known'], 120)})" if r.get("known") else r["status"]
        line = f"| {status} | {_md_cell(r['case'])} | {_md_code(row_label(r))} | {_md_cell(r['detail'])} |"
        size += len(line)
        lines.append(line)
    return lines


#: New findings are never cut from report.md; past this many, each one's why is shortened to keep the
#: CI summary under its size limit (1 MiB: 5,000 new findings at ~200 characters each).
MD_NEW_FULL = 200


def _md_new(found: list[Row]) -> list[str]:
    """Every new finding: the case, the API, the row and one line of why."""
    lines = ["| status | case | API | row | why |", "|---|---|---|---|---|"]
    for i, r in enumerate(found):
        why = why_line(r, 200 if i < MD_NEW_FULL else 80)
        lines.append(f"| **{r['status']}** | {_md_cell(r['case'])} | {_md_code(r['api'])} | "
                     f"{_md_code(row_label(r))} | {_md_cell(why, 200)} |")
    return lines


def _md_translators(summary: Mapping[str, Any]) -> list[str]:
    """Per translator of the program cases: settings tried, equivalent, wrong, refused, one example of each."""
    if not summary:
        return []
    lines = ["", "## Translators", "", "| translator | tried | equivalent | wrong | refused |", "|---|---|---|---|---|"]
    lines += [f"| {_md_cell(name, 60)} | {s['tried']} | {s['equivalent']} | {s['wrong']} | {s['refused']} |"
              for name, s in summary.items()]
    for name, s in summary.items():
        lines += [f"- {_md_cell(name, 60)}, {kind}: {_md_cell(ex['case'], 120)} {_md_cell(ex['program'], 60)}"
                  f"[{_md_cell(str(ex['tensor']), 60)}]: {_md_cell(ex['detail'], 300)}"
                  for kind, ex in s["examples"].items()]
    return lines


def to_markdown(doc: Mapping[str, Any], digest: Digest | None = None) -> str:
    """report.md; ``digest`` as for ``to_html``."""
    digest, stale = digest or Digest.of(doc["rows"]), stale_entries(doc)
    counts, known = _summary_counts(doc, digest), digest.known
    passed, why = verdict(digest, stale)
    head, _, rest = why.partition(":")
    lines = ["# regcompare", "", f"{'✅' if passed else '❌'} **{head}**:{rest}", ""]
    lines += ["| " + " | ".join(SEVERITY) + " |", "|" + "---|" * len(SEVERITY)]
    lines.append("| " + " | ".join(f"{counts[s]}" + (f" ({known[s]} known)" if known[s] else "") for s in SEVERITY)
                 + " |")
    found = digest.new_findings()
    if found:
        lines += ["", f"## New findings ({len(found)})", "", "Mismatches and errors no `known` entry expects: "
                  "these fail the run. Rerun one with the command in report.html.", "", *_md_new(found)]
    if stale:
        lines += ["", f"## Stale known entries ({len(stale)})", ""]
        lines += [f"- {_md_cell(entry, 400)}" for entry in stale]
    lines += _md_translators(doc.get("translators") or {})
    lines += ["", "## Worst status by framework and API", "", *_md_matrix(digest)]
    others = [r for r in digest.notable() if not is_new(r)]
    title = "Other rows that are not `match`" if found else "Rows that are not `match`"
    lines += ["", f"## {title} ({len(others)})", ""]
    if others:
        lines += _md_rows(others)
    env = doc["environment"]
    fws = _md_cell(", ".join(f"{fw} {i.get('version') or i['status']}" for fw, i in env["frameworks"].items()), 2000)
    commit = f" · commit {env['commit']}" if env.get("commit") else ""
    lines += ["", f"Python {env['python']} · {fws} · regcompare {env['regcompare']}{commit}", ""]
    return "\n".join(lines)
