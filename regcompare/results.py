"""results.json (DESIGN.md §5), results.csv and junit.xml, and the atomic writer for all outputs."""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from regcompare import __version__
from regcompare.engine import Run, row_label

SCHEMA = 1
#: Worst first: the status a group of rows is shown with.
SEVERITY = ("error", "mismatch", "unsupported", "divergent", "skipped", "match")


def worst_status(statuses: list[str]) -> str:
    return min(statuses, key=SEVERITY.index) if statuses else "match"


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment(run: Run, seconds: float) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "regcompare": __version__,
        "commit": git_commit(),
        "seconds": round(seconds, 3),
        "frameworks": {fw: info.as_dict() for fw, info in run.frameworks.items()},
    }


def results_document(run: Run, env: Mapping[str, Any]) -> dict[str, Any]:
    known = {"rows": sum(1 for r in run.rows if r["known"]), "stale": run.stale}
    return {"schema": SCHEMA, "environment": dict(env), "summary": run.summary, "known": known, "rows": run.rows}


def to_json(doc: Mapping[str, Any]) -> str:
    # allow_nan=False: non-finite values were already turned into strings; strict JSON for every reader.
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> Any:
        return json.dumps(value) if isinstance(value, dict | list) else value

    frame = pd.DataFrame([{k: cell(v) for k, v in row.items()} for row in rows])
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def to_junit(run: Run) -> str:
    suites = ET.Element("testsuites", name="regcompare")
    by_case: dict[str, ET.Element] = {}
    for row in run.rows:
        suite = by_case.get(row["case"])
        if suite is None:
            suite = by_case[row["case"]] = ET.SubElement(suites, "testsuite", name=row["case"], file=row["file"])
        case = ET.SubElement(suite, "testcase", name=row_label(row), classname=row["case"], file=row["file"])
        props = ET.SubElement(case, "properties")
        for key in ("status", "abs_err", "rel_err", "ulp", "detail"):
            ET.SubElement(props, "property", name=key, value=str(row[key]))
        status, detail = row["status"], row["detail"]
        if row["known"]:
            ET.SubElement(case, "skipped", message=f"known {status}: {row['known']}")
        elif status == "mismatch":
            ET.SubElement(case, "failure", message=detail, type="mismatch").text = detail
        elif status == "error":
            ET.SubElement(case, "error", message=detail, type="error").text = detail
        elif status in ("unsupported", "skipped"):
            ET.SubElement(case, "skipped", message=f"{status}: {detail}")
    for suite in by_case.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
        suite.set("errors", str(sum(c.find("error") is not None for c in cases)))
        suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def write_atomically(out_dir: str | os.PathLike[str], files: Mapping[str, str]) -> None:
    """Replace every output at once: written aside first, then renamed in with signals held back.

    Each file is either the previous run's or this run's, never half of one; an interrupt before
    the renames leaves the last good report untouched.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=out))
    try:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
        held = {signal.SIGINT, signal.SIGTERM}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held) if sys.platform != "win32" else set()
        try:
            for name in files:
                os.replace(staging / name, out / name)
        finally:
            if sys.platform != "win32":
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
