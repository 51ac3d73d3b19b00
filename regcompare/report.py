"""The human-facing outputs: report.md (CI job summary) and report.html (one self-contained page)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import jinja2

from regcompare import adapters
from regcompare.engine import row_label
from regcompare.results import SEVERITY, worst_status

#: report.md is read in a CI job summary, which has a size limit: list at most this many rows.
MD_MAX_ROWS = 60


def matrix(rows: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """framework → API → worst status of its rows."""
    statuses: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        statuses[row["framework"]][row["api"]].append(row["status"])
    return {fw: {api: worst_status(s) for api, s in apis.items()} for fw, apis in statuses.items()}


def notable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that are not a plain match, worst first (stable within a status)."""
    return sorted((r for r in rows if r["status"] != "match"), key=lambda r: SEVERITY.index(r["status"]))


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Mapping[str, Any]) -> str:
    rows = doc["rows"]
    lines = ["# regcompare", "", "| " + " | ".join(SEVERITY) + " |", "|" + "---|" * len(SEVERITY)]
    lines.append("| " + " | ".join(str(doc["summary"].get(s, 0)) for s in SEVERITY) + " |")
    lines += ["", "## Worst status by framework and API", "", "| framework | API | status |", "|---|---|---|"]
    for fw, apis in matrix(rows).items():
        lines += [f"| {fw} | `{api}` | {status} |" for api, status in apis.items()]
    listed = notable(rows)
    lines += ["", f"## Rows that are not `match` ({len(listed)})", ""]
    if listed:
        lines += ["| status | case | row | detail |", "|---|---|---|---|"]
        lines += [
            f"| {r['status']} | {_md_cell(r['case'])} | `{_md_cell(row_label(r))}` | {_md_cell(r['detail'])} |"
            for r in listed[:MD_MAX_ROWS]
        ]
        if len(listed) > MD_MAX_ROWS:
            lines.append(f"\n…and {len(listed) - MD_MAX_ROWS} more in results.json.")
    env = doc["environment"]
    fws = ", ".join(f"{fw} {i.get('version') or i['status']}" for fw, i in env["frameworks"].items())
    lines += ["", f"Python {env['python']} · {fws} · regcompare {env['regcompare']}", ""]
    return "\n".join(lines)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("regcompare", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def to_html(doc: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """``sources`` maps a case name to its YAML text, shown beside its non-matching rows."""
    rows = doc["rows"]
    return _ENV.get_template("report.html.j2").render(
        doc=doc, severity=SEVERITY, matrix=matrix(rows), notable=notable(rows), label=row_label,
        conventions=list(adapters.conventions().values()), sources=sources,
    )
