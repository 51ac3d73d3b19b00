"""results.json (docs/results.md), results.csv and junit.xml, and the atomic writer for all outputs."""

from __future__ import annotations

import functools
import io
import json
import math
import os
import pickle
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

import pandas as pd

from regcompare import __version__
from regcompare.engine import Run, row_label
from regcompare.escape import xml_text
from regcompare.jsontext import dumps, dumps_strict
from regcompare.store import RowStore

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
    """The document of docs/results.md; its ``rows`` are the run's store, read when it is written."""
    known = {"rows": run.store.known, "stale": run.stale}
    return {"schema": SCHEMA, "environment": dict(env), "summary": run.summary, "known": known, "rows": run.rows}


def write_json(doc: Mapping[str, Any], out: TextIO) -> None:
    """results.json, one row per line, written as it goes (a 10,000-case suite never sits in memory
    as one string). Strict JSON: non-finite values were already turned into strings."""
    out.write(json_head(doc))
    write_json_rows(doc["rows"], out, first=True)
    out.write(JSON_TAIL)


def json_head(doc: Mapping[str, Any]) -> str:
    """results.json up to its first row: every key but ``rows`` (which comes last), then ``"rows": [``."""
    head = {k: v for k, v in doc.items() if k != "rows"}
    return json.dumps(head, indent=1, allow_nan=False)[:-2] + ',\n "rows": [\n'


#: results.json after its last row.
JSON_TAIL = "\n ]\n}\n"


def write_json_rows(rows: Iterable[Mapping[str, Any]], out: TextIO, first: bool) -> bool:
    """Rows of results.json, one a line; ``first``: no row has been written before these. Returns whether
    the next row is still the first (no row was written)."""
    for row in rows:
        out.write(("  " if first else ",\n  ") + _row_text(row))
        first = False
    return first


def _row_text(row: Mapping[str, Any]) -> str:
    try:
        return dumps_strict(row)
    except ValueError:  # a figure that is inf or NaN (a tolerance band, a distance): the contract's strings
        return json.dumps(_strict(row), allow_nan=False)


def _strict(value: Any) -> Any:
    """NaN and ±inf anywhere in a row as the strings "NaN", "Infinity", "-Infinity" (docs/results.md)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(v) for v in value]
    return value


def to_json(doc: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    write_json(doc, buffer)
    return buffer.getvalue()


#: Rows per pandas frame when writing the CSV: bounded memory, whatever the suite's size.
CSV_CHUNK = 5000


#: A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: nested values as JSON; text that a spreadsheet would run as a formula gets a
    leading ``'`` (numbers, and their spellings such as "-Infinity", stay as they are)."""
    if isinstance(value, dict | list):
        value = json.dumps(value)
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _is_number(value):
        return "'" + value
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: Types whose values are CSV cells as they are (``csv_cell`` returns them unchanged): most of a row's cells.
_AS_IS = frozenset({float, int, bool, type(None)})


def csv_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``{key: csv_cell(value)}`` for a row, without a call per number, and one JSON text for a list or mapping
    that the row holds twice (a row's ``reconciled`` is its ``raw`` when nothing was rescaled)."""
    out: dict[str, Any] = {}
    texts: dict[int, str] = {}  # id → JSON text; the row keeps each value alive, so an id names one value
    for key, value in row.items():
        kind = type(value)
        if kind in _AS_IS:
            out[key] = value
        elif kind is list or kind is dict:
            text = texts.get(id(value))
            if text is None:
                text = texts[id(value)] = dumps(value)
            out[key] = csv_cell(text)
        else:
            out[key] = csv_cell(value)
    return out


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> None:
    """results.csv with one column per key of any row; nested values as JSON; formulas neutralised.

    Streamed a chunk of rows at a time; a store knows its columns, so it is read once."""
    keys = rows.columns if isinstance(rows, RowStore) else [key for row in rows for key in row]
    frames = CsvFrames(out, keys)
    for row in rows:
        frames.add(row)
    frames.close()


class CsvFrames:
    """results.csv under columns known in advance, written ``CSV_CHUNK`` rows at a time by pandas (bounded memory,
    whatever the suite's size). The output depends on where the frames start (pandas infers each column's type
    per frame), so every writer of results.csv goes through this one."""

    def __init__(self, out: TextIO, keys: Iterable[str]) -> None:
        self.out = out
        self.columns = list(dict.fromkeys(csv_cell(key) for key in keys))
        self._chunk: list[dict[str, Any]] = []
        self._header = True

    def add(self, row: Mapping[str, Any]) -> None:
        self._chunk.append(csv_row(row))
        if len(self._chunk) == CSV_CHUNK:
            self._flush()

    def close(self) -> None:
        """The last frame; with no rows at all, the header alone (as pandas writes it)."""
        if self._chunk or self._header:
            self._flush()

    def _flush(self) -> None:
        pd.DataFrame(self._chunk, columns=self.columns).to_csv(self.out, index=False, header=self._header)
        self._chunk, self._header = [], False


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    write_csv(rows, buffer)
    return buffer.getvalue()


def _attr(value: Any) -> str:
    return _attr_text(str(value))


@functools.lru_cache(maxsize=4096)
def _attr_text(text: str) -> str:
    """An XML attribute value, quoted; cached: statuses, case and file names, figures such as 0.0 repeat a lot."""
    return quoteattr(xml_text(text))


#: The properties of every <testcase>, with their names quoted once.
_PROPERTIES = tuple((key, f"<property name={quoteattr(key)} value=") for key in
                    ("status", "abs_err", "rel_err", "ulp", "detail"))


def _junit_case(row: Mapping[str, Any]) -> str:
    """One <testcase>: mismatch → failure, error → error, unsupported/skipped/known → skipped."""
    props = "".join(f"{start}{_attr(row[key])}/>" for key, start in _PROPERTIES)
    status, detail = row["status"], row["detail"]
    if row["known"]:
        verdict = f"<skipped message={_attr(f'known {status}: ' + row['known'])}/>"
    elif status == "mismatch":
        verdict = f"<failure type=\"mismatch\" message={_attr(detail)}>{escape(xml_text(detail))}</failure>"
    elif status == "error":
        verdict = f"<error type=\"error\" message={_attr(detail)}>{escape(xml_text(detail))}</error>"
    elif status in ("unsupported", "skipped"):
        verdict = f"<skipped message={_attr(f'{status}: {detail}')}/>"
    else:
        verdict = ""
    attrs = f"name={_attr(row_label(row))} classname={_attr(row['case'])} file={_attr(row['file'])}"
    return f"    <testcase {attrs}><properties>{props}</properties>{verdict}</testcase>\n"


def write_junit(run: Run, out: TextIO) -> None:
    """junit.xml, a <testsuite> per case, streamed: no element tree of the whole run."""
    out.write(JUNIT_HEAD)
    for block in run.store.cases():  # one case's rows at a time
        write_junit_block(block, out)
    out.write(JUNIT_TAIL)


JUNIT_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<testsuites name="regcompare">\n'
JUNIT_TAIL = "</testsuites>\n"


def write_junit_block(block: list[dict[str, Any]], out: TextIO) -> None:
    """The <testsuite> elements of one stored block of rows (a case's; more than one case for a list of rows)."""
    by_case: dict[str, list[dict[str, Any]]] = {}
    for row in block:
        by_case.setdefault(row["case"], []).append(row)
    for case, rows in by_case.items():
        _junit_suite(case, rows, out)


def _junit_suite(case: str, rows: list[dict[str, Any]], out: TextIO) -> None:
    """One <testsuite> and its <testcase> elements."""
    counts = {
        "failures": sum(r["status"] == "mismatch" and not r["known"] for r in rows),
        "errors": sum(r["status"] == "error" and not r["known"] for r in rows),
        "skipped": sum(bool(r["known"]) or r["status"] in ("unsupported", "skipped") for r in rows),
    }
    attrs = " ".join(f'{k}="{v}"' for k, v in counts.items())
    out.write(f"  <testsuite name={_attr(case)} file={_attr(rows[0]['file'])} "
              f'tests="{len(rows)}" {attrs}>\n')
    for row in rows:
        out.write(_junit_case(row))
    out.write("  </testsuite>\n")


def to_junit(run: Run) -> str:
    buffer = io.StringIO()
    write_junit(run, buffer)
    return buffer.getvalue()


Writer = Callable[[TextIO], None]


def write_atomically(out_dir: str | os.PathLike[str], files: Mapping[str, str | Writer]) -> None:
    """Replace every output at once: written aside first, then renamed in with signals held back.

    Each file is either the previous run's or this run's, never half of one; an interrupt before
    the renames leaves the last good report untouched. A file is given as its text or as a function
    that writes it to an open file (large outputs are streamed, never held whole in memory).
    """
    with Outputs(out_dir) as outputs:
        outputs.write(files)


def open_report(path: Path) -> TextIO:
    """A report file opened for writing: UTF-8, what cannot be encoded as a backslash escape, newlines as written
    (every writer of a report opens it so: regcompare.spool's follower too, whose files become reports)."""
    return open(path, "w", encoding="utf-8", errors="backslashreplace", newline="")


class Outputs:
    """A run's outputs, written into a staging folder and renamed in all at once when the ``with`` block ends
    without an exception (with one, the staging folder goes and the last good outputs stay).

    ``aside`` hands some files to a forked copy of this process, which writes them while this one goes on: the
    report writing of a large run is single-threaded Python, and a run's workers have ended by then, so a
    second core is free. What an aside writer reads must be readable from both processes at once (the run's
    store reads by position, without a shared file offset: regcompare.store).
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out = Path(out_dir)
        self.names: list[str] = []
        self._children: list[tuple[int, int]] = []  # (pid, read end of its error pipe) of each aside writer

    def __enter__(self) -> Outputs:
        self.out.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.out))
        return self

    def _write(self, name: str, content: str | Writer) -> None:
        with open_report(self.staging / name) as handle:
            if isinstance(content, str):
                handle.write(content)
            else:
                content(handle)

    def write(self, files: Mapping[str, str | Writer]) -> None:
        """Write files now, in this process."""
        self.names += files
        for name, content in files.items():
            self._write(name, content)

    def adopt(self, files: Mapping[str, Path]) -> None:
        """Take files already written elsewhere on the outputs' file system (moved in, not copied)."""
        self.names += files
        for name, path in files.items():
            os.replace(path, self.staging / name)

    def aside(self, files: Mapping[str, str | Writer]) -> None:
        """Write files in a forked process while this one goes on (here, where the platform cannot fork)."""
        if not hasattr(os, "fork"):
            self.write(files)
            return
        self.names += files
        sys.stdout.flush()
        sys.stderr.flush()
        errors_r, errors_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: write, report a failure through the pipe, and end without any cleanup of ours
            code = 0
            try:
                os.close(errors_r)
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles an interrupt, and ends this
                for name, content in files.items():
                    self._write(name, content)
            except BaseException as exc:  # noqa: BLE001 - whatever it is goes to the parent
                code = 1
                failure = exc if isinstance(exc, OSError) else OSError(f"{type(exc).__name__}: {exc}")
                try:
                    os.write(errors_w, pickle.dumps(failure))
                except Exception:  # noqa: BLE001 - an unpicklable error still ends the child with status 1
                    pass
            finally:
                os._exit(code)
        os.close(errors_w)
        self._children.append((pid, errors_r))

    def _join(self) -> None:
        """Wait for the aside writers; the first failure is raised here, as if this process had met it."""
        while self._children:
            pid, errors_r = self._children.pop(0)
            with os.fdopen(errors_r, "rb") as errors:
                failure = errors.read()
            _, status = os.waitpid(pid, 0)
            if failure:
                raise pickle.loads(failure)
            if status != 0:
                raise OSError(f"the process writing the reports aside ended with status {status}")

    def _kill(self) -> None:
        while self._children:
            pid, errors_r = self._children.pop()
            os.close(errors_r)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is not None:
                self._kill()
                return
            self._join()
            held = {signal.SIGINT, signal.SIGTERM}
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, held) if sys.platform != "win32" else set()
            try:
                for name in self.names:
                    os.replace(self.staging / name, self.out / name)
            finally:
                if sys.platform != "win32":
                    signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        finally:
            self._kill()
            shutil.rmtree(self.staging, ignore_errors=True)
