"""The five outputs stay byte for byte what they were for the same rows (issue 19: the report writing is made
faster without changing any output).

tests/data/report_rows.json.gz holds 376 real rows of a ``regcompare run``: ten shipped cases chosen so that
every status, known and built-in findings, translated programs, a trajectory, a summarized tensor, placed
regularizers, variants and optimizer updates occur, and three of bench/suites.py's small cases (four
frameworks; one known mismatch made new so the new-findings paths run). tests/data/report_outputs.json holds
the SHA-256 of each output written from them by the writers before the issue-19 speed-ups (main at 64c9f9d).
The conventions registry is left out of report.html here (it is data that changes with the rules, not with the
rows). To see what changed after a failure, write the outputs at both commits and diff them:
``python tests/test_report_outputs.py OUT_DIR``; ``--update`` rewrites the hashes (only for an intended change).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from regcompare import report
from regcompare.engine import Run
from regcompare.programs import translator_summary
from regcompare.report import Digest, to_html, to_markdown
from regcompare.results import results_document, write_atomically, write_csv, write_json, write_junit
from regcompare.workers import FrameworkInfo

DATA = Path(__file__).parent / "data"
ROWS = DATA / "report_rows.json.gz"
HASHES = DATA / "report_outputs.json"
OUTPUTS = ("results.json", "results.csv", "junit.xml", "report.md", "report.html")


def rows() -> list[dict[str, Any]]:
    with gzip.open(ROWS, "rt", encoding="utf-8") as handle:
        loaded: list[dict[str, Any]] = json.load(handle)
    return loaded


def write_outputs(out: Path) -> None:
    """The five outputs of the fixture's rows, as ``regcompare run`` writes them (fixed environment, no registry)."""
    these = rows()
    frameworks = {fw: FrameworkInfo("ok", f"{fw}-1.0") for fw in dict.fromkeys(r["framework"] for r in these)}
    run = Run(these, frameworks, ["cases/x.yaml:3: known[0]: no longer happens"])
    env = {"python": "3", "platform": "test", "regcompare": "0", "commit": None, "seconds": 1.0,
           "frameworks": {fw: info.as_dict() for fw, info in frameworks.items()}}
    doc = results_document(run, env)
    digest = Digest.of(run.rows)
    translated = translator_summary(digest.translator_rows)
    if translated:
        doc["translators"] = translated
    sources = {case: f"name: {case}\n" for case in dict.fromkeys(r["case"] for r in these)}
    registry = report.adapters
    report.adapters = SimpleNamespace(conventions=dict)  # type: ignore[assignment]
    try:
        html = to_html(doc, sources, digest)
    finally:
        report.adapters = registry
    write_atomically(out, {
        "results.json": lambda handle: write_json(doc, handle),
        "results.csv": lambda handle: write_csv(run.rows, handle),
        "report.md": to_markdown(doc, digest),
        "report.html": html,
        "junit.xml": lambda handle: write_junit(run, handle),
    })


def hashes(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in OUTPUTS}


def test_outputs_are_byte_identical(tmp_path: Path) -> None:
    write_outputs(tmp_path)
    expected = json.loads(HASHES.read_text())
    got = hashes(tmp_path)
    if importlib.util.find_spec("matplotlib") is None:  # the page's figures need it; the golden page has them
        del expected["report.html"], got["report.html"]
    changed = [name for name in expected if got[name] != expected[name]]
    assert not changed, f"these outputs changed for the same rows: {changed}"


def test_the_fixture_covers_what_the_writers_branch_on() -> None:
    these = rows()
    statuses = {r["status"] for r in these}
    assert statuses == {"match", "mismatch", "error", "unsupported", "divergent", "skipped"}
    assert any(r["known"] for r in these) and any(r["status"] == "mismatch" and not r["known"] for r in these)
    for key in ("translator", "summary", "param", "scope", "variant", "finding"):
        assert any(r.get(key) is not None and r.get(key) is not False for r in these), key
    assert any(r["quantity"] == "trajectory" for r in these)


if __name__ == "__main__":
    target = Path(sys.argv[-1] if len(sys.argv) > 1 and not sys.argv[-1].startswith("-") else "/tmp/report-outputs")
    write_outputs(target)
    if "--update" in sys.argv:
        HASHES.write_text(json.dumps(hashes(target), indent=1) + "\n")
    print(json.dumps(hashes(target), indent=1))


def test_the_reused_json_encoder_writes_what_json_dumps_writes() -> None:
    """results.json and results.csv encode with one C encoder built once (regcompare.jsontext)."""
    import math

    import pytest

    from regcompare import jsontext

    values: list[Any] = [
        {"raw": [0.1, -0.0, 1e-310, 1.7976931348623157e308, 3, True, None], "native": {"lambd": 0.01}},
        {"detail": "× é \u2028 \" \\ \x07", "nested": {"a": [[1.0, 2.5], []], "b": {}}},
        [math.nan, math.inf, -math.inf], "text", 1.5, [],
    ]
    for value in values:
        assert jsontext.dumps(value) == json.dumps(value)
        assert jsontext.dumps_sorted(value) == json.dumps(value, sort_keys=True)
        if "nan" not in json.dumps(value).lower():
            assert jsontext.dumps_strict(value) == json.dumps(value, allow_nan=False)
    with pytest.raises(ValueError):
        jsontext.dumps_strict({"x": [math.nan]})
