"""``regcompare run|validate|conventions|translate|new`` (docs/cli.md).

Exit status: 0 when no row is ``mismatch`` or ``error``, 1 when some is, 2 for invalid input or
usage (the message on stderr, no traceback), 130 when interrupted (workers stopped, report kept).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

from regcompare import adapters
from regcompare.cases import DEFAULT_MAX_ELEMENTS, Case, CaseError, load_cases
from regcompare.deadline import positive_seconds
from regcompare.engine import STATUSES, Run, run
from regcompare.workers import DEFAULT_START_TIMEOUT, DEFAULT_TASK_TIMEOUT, WorkerPool

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: Rows from which report.html is written by a forked process beside results.json and report.md
#: (regcompare.results.Outputs): its figures take a second or more; forking and waiting, about 10 ms.
ASIDE_ROWS = 1_000


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: {message}")


def _frameworks(text: str | None) -> tuple[str, ...]:
    known = adapters.frameworks()
    if text is None:
        return known
    chosen = tuple(dict.fromkeys(f.strip() for f in text.split(",") if f.strip()))
    unknown = [f for f in chosen if f not in known]
    if unknown or not chosen:
        named = ", ".join(unknown) or "(none given)"
        raise _UsageError(f"--frameworks: unknown framework {named}; known: {', '.join(known)}")
    return chosen


def named_frameworks(cases: list[Case], frameworks: tuple[str, ...]) -> tuple[str, ...]:
    """The frameworks the cases can use: those their ``frameworks`` lists name, every one if a case has no list."""
    named: set[str] = set()
    for case in cases:
        if not case.spec.frameworks:
            return frameworks
        named.update(case.spec.frameworks)
    return tuple(f for f in frameworks if f in named)


def _count(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(text)
    return value


_count.__name__ = "positive integer"


def _out_dir(text: str) -> str:
    """``--out``: a writable folder, made if needed; anything else is refused before any work."""
    if not text:
        raise _UsageError("--out: an empty path; give a folder")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise _UsageError(f"--out: {text} exists and is not a folder")
    parent = path
    while not parent.exists():  # the nearest existing ancestor is where the folder would be made
        parent = parent.parent
    if not parent.is_dir():
        raise _UsageError(f"--out: {text} is under {parent}, which is a file")
    try:
        # Made and written to now, not after the run: os.access cannot tell (root, read-only mounts, /proc).
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise _UsageError(f"--out: {text} is not writable: {exc.strerror or exc}") from None
    return text


def _name_broken_adapters() -> None:
    """Third-party entry points that cannot be used, named on every command (their rows in ``run`` are errors)."""
    for reason in adapters.broken().values():
        print(f"regcompare: {reason}", file=sys.stderr)


def _parser() -> _Parser:
    parser = _Parser(prog="regcompare", description="Cross-framework equivalence of L1/L2 regularization.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_run = sub.add_parser("run", help="run cases and write reports")
    p_run.add_argument("paths", nargs="*", default=["cases"], help="case files or folders (default: cases/)")
    p_run.add_argument("--frameworks", help="comma-separated (default: every one known; missing ones are skipped)")
    p_run.add_argument("--out", default="reports", help="output folder (default: reports/)")
    p_run.add_argument("--timeout", type=positive_seconds, default=DEFAULT_TASK_TIMEOUT,
                       help="seconds a task may take before its worker is killed (default: %(default)s)")
    p_run.add_argument("--import-timeout", type=positive_seconds, default=DEFAULT_START_TIMEOUT,
                       help="seconds a framework's import may take (default: %(default)s)")
    p_run.add_argument("--max-elements", type=_count, default=DEFAULT_MAX_ELEMENTS,
                       help="elements a case may hold: weights, gradients, training data (default: %(default)s)")
    p_run.add_argument("--watch", action="store_true",
                       help="after the run, keep the workers up and re-run each case file that changes (Ctrl-C ends)")
    p_val = sub.add_parser("validate", help="check case files against the schema")
    p_val.add_argument("paths", nargs="+")
    p_val.add_argument("--max-elements", type=_count, default=DEFAULT_MAX_ELEMENTS)
    sub.add_parser("conventions", help="print the conventions table")
    p_new = sub.add_parser("new", help="write a commented case file to start from (cases/NAME.yaml)")
    p_new.add_argument("name", help="the case's name, also its file name")
    p_new.add_argument("--dir", default="cases", help="folder to write it in (default: cases/)")
    p_new.add_argument("--weights", help="a .npy or .npz file: its arrays become the case's weights ({file: ...})")
    p_new.add_argument("--force", action="store_true", help="overwrite an existing file")
    p_tr = sub.add_parser("translate", help="the setting of every other framework that reproduces an optimizer's decay")
    p_tr.add_argument("api", help="e.g. torch.optim.SGD")
    # REMAINDER, then parsed again (``_translate_options``): --optimizer may stand anywhere among name=value pairs.
    p_tr.add_argument("args", nargs=argparse.REMAINDER,
                      help="the API's own arguments, e.g. weight_decay=0.5 momentum=0.9 betas=0.9,0.999")
    p_tr.add_argument("--optimizer", choices=_optimizer_names(), help="for a layer regularizer: the optimizer it meets")
    p_tr.add_argument("--scheduler", help="the source framework's lr scheduler on it, e.g. 'StepLR(step_size=10, "
                      "gamma=0.5)'")
    p_tr.add_argument("--to", help="only these frameworks, comma-separated (e.g. jax,keras-jax)")
    return parser


def _optimizer_names() -> list[str]:
    from regcompare import rules

    return list(rules.NAMES)


def _translate_options(args: argparse.Namespace) -> tuple[list[str], str | None, str | None]:
    """The name=value pairs, ``--optimizer`` and ``--scheduler`` (``--to`` goes back on ``args.to``), wherever
    they stood on the command line."""
    again = _Parser(prog="regcompare translate", add_help=False)
    again.add_argument("--optimizer", choices=_optimizer_names(), default=args.optimizer)
    again.add_argument("--scheduler", default=args.scheduler)
    again.add_argument("--to", default=args.to)
    known, rest = again.parse_known_args(args.args)
    options = [r for r in rest if r.startswith("-")]
    if options:
        raise _UsageError(f"regcompare translate: unknown option {options[0]}; it takes --optimizer, --scheduler, "
                          "--to and name=value")
    args.to = known.to
    if args.to:
        unknown = sorted(set(args.to.split(",")) - set(adapters.frameworks()))
        if unknown:
            raise _UsageError(f"regcompare translate: --to {unknown[0]}: known frameworks are "
                              f"{', '.join(adapters.frameworks())}")
    return rest, known.optimizer, known.scheduler


class _Progress:
    """Tasks done per framework: rich bars on a terminal, plain lines (every 10%) in CI.

    It counts *tasks* (one framework call each) and says so; the summary counts *rows* (a gradient
    task gives one row per tensor), and says how many tasks they came from.
    """

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self._shown: dict[str, int] = {}
        self._bars: Any = None
        self._ids: dict[str, Any] = {}
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bars = Progress(TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("tasks"), TimeElapsedColumn(), transient=True)
            self._bars.start()

    @property
    def tasks(self) -> int:
        return sum(self.totals.values())

    def __call__(self, fw: str, done: int, total: int) -> None:
        self.totals[fw] = total
        if self._bars is not None:
            if fw not in self._ids:
                self._ids[fw] = self._bars.add_task(fw, total=total)
            self._bars.update(self._ids[fw], completed=done)
            return
        step = max(50, total // 10)
        if done == total or done // step > self._shown.get(fw, 0):
            self._shown[fw] = done // step
            print(f"{fw}: {done}/{total} tasks", file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self._bars is not None:
            self._bars.stop()


#: The CLI lists at most this many new findings; report.md lists every one.
CLI_NEW_MAX = 30


def new_findings_lines(rows: Iterable[dict[str, Any]], out: str) -> list[str]:
    """New mismatches and errors first: the case, the API and one line of why each."""
    from regcompare.report import new_findings, why_line

    found = new_findings(rows)
    if not found:
        return []
    lines = [f"NEW FINDINGS ({len(found)}): mismatches and errors no `known` entry expects"]
    for r in found[:CLI_NEW_MAX]:
        where = f"{r['quantity']} {r['dtype']}" + (f" {r['tensor']}" if r.get("tensor") else "")
        lines.append(f"  {r['status']:<8} {r['case']} · {r['api']} · {where}")
        lines.append(f"           {why_line(r, 150)}")
    if len(found) > CLI_NEW_MAX:
        lines.append(f"  …and {len(found) - CLI_NEW_MAX} more: {out}/report.md lists every one")
    return [*lines, ""]


def summary_lines(result: Run, out: str, seconds: float, tasks: int | None = None,
                  listed: Iterable[dict[str, Any]] | None = None) -> list[str]:
    """New findings first, then rows per framework and status (with each framework's full version).

    ``listed``: the rows that are not ``match`` if the caller has them (the report's digest), else the
    run's rows are read once to find the new findings; the counts come from the run's store."""
    lines = new_findings_lines(result.rows if listed is None else listed, out)
    notes = {fw: info.version if info.status == "ok" and info.version else info.status
             for fw, info in result.frameworks.items()}
    width = max([len("framework"), *map(len, result.frameworks)])
    vwidth = max([len("version"), *map(len, notes.values())])
    columns = "  ".join(f"{s:>11}" for s in STATUSES)
    lines.append(f"{'framework':<{width}}  {'version':<{vwidth}}  {'rows':>5}  {columns}")
    for fw in result.frameworks:
        counts = [result.store.counts[(fw, s)] for s in STATUSES]
        cells = "  ".join(f"{c:>11}" for c in counts)
        lines.append(f"{fw:<{width}}  {notes[fw]:<{vwidth}}  {sum(counts):>5}  {cells}")
    total = "  ".join(f"{s} {n}" for s, n in result.summary.items() if n)
    known = result.store.known
    known_note = f" ({known} known findings)" if known else ""
    source = f" from {tasks} tasks" if tasks else ""
    lines.append(f"{len(result.rows)} rows{source} in {seconds:.1f} s: {total or 'none'}{known_note}; "
                 f"reports in {out}/")
    return lines


def cmd_run(args: argparse.Namespace) -> int:
    from regcompare.programs import summary_lines as translator_lines
    from regcompare.programs import translator_summary
    from regcompare.report import to_html, to_markdown
    from regcompare.results import Outputs, environment, results_document
    from regcompare.spool import CSV as SPOOL_CSV
    from regcompare.spool import JUNIT as SPOOL_JUNIT
    from regcompare.spool import Spool
    from regcompare.store import RowStore

    frameworks = _frameworks(args.frameworks)
    pool = WorkerPool(task_timeout=args.timeout, start_timeout=args.import_timeout)
    try:
        # The frameworks' imports take seconds: named ones start while the cases load, the others once the cases
        # say which they use (a worker no task needs is stopped unused, and its framework counts as not run).
        if args.frameworks:
            pool.prestart(frameworks)
        cases = load_cases(args.paths, args.max_elements)
        pool.prestart(named_frameworks(cases, frameworks))
        _out_dir(args.out)
        _name_broken_adapters()
        # The rows go to an unlinked file next to the reports (not a RAM-backed /tmp), gone when the run ends. A
        # process forked now, before the run's threads start, follows that file and writes the reports' rows as
        # the run goes (regcompare.spool).
        store = RowStore(args.out)
        spool = Spool(store, args.out)
    except BaseException:
        pool.close()
        raise
    started = time.monotonic()
    progress = _Progress()

    def interrupt(signum: int, _frame: object) -> None:
        pool.abort()  # before the exception unwinds, so no thread waits on a hung worker
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}

    def close() -> None:
        pool.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    try:
        result = run(cases, frameworks, pool, progress, store=store)
    except BaseException:
        spool.close()
        close()
        raise
    finally:
        progress.stop()
    if not args.watch:
        close()
    seconds = time.monotonic() - started
    try:
        with spool, Outputs(args.out) as outputs:
            digest = spool.finish()  # results.csv, junit.xml and results.json's rows are written by now
            outputs.adopt({name: spool.path(name) for name in (SPOOL_CSV, SPOOL_JUNIT)})
            doc = results_document(result, environment(result, seconds))
            translated = translator_summary(digest.translator_rows)
            if translated:
                doc["translators"] = translated  # per translator: settings tried, equivalent, wrong, refused
            # The page (its figures take a second or more) is written by a forked process beside results.json for
            # a large run. It reads the sources of the cases it shows, not every case's.
            aside = outputs.aside if len(result.rows) >= ASIDE_ROWS else outputs.write
            aside({"report.html": lambda out: out.write(to_html(doc, cases.sources(), digest))})
            outputs.write({"results.json": lambda out: spool.write_json(doc, out),
                           "report.md": to_markdown(doc, digest)})
    except OSError as exc:  # disk full, too many open files, the folder gone: the last reports stay
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"regcompare: could not write the reports to {args.out}: {exc.strerror or exc}{where}; "
              "the previous reports are left as they were", file=sys.stderr)
        if args.watch:
            close()
        return EXIT_FAILED
    print("\n".join(summary_lines(result, args.out, seconds, progress.tasks, digest.listed)))
    for line in translator_lines(translated):
        print(line)
    for entry in result.stale:
        print(f"stale known finding: {entry}", file=sys.stderr)
    if args.watch:
        return _watch(args, frameworks, pool, close)
    return EXIT_FAILED if result.failures else EXIT_OK


def _watch(args: argparse.Namespace, frameworks: tuple[str, ...], pool: WorkerPool, close: Any) -> int:
    """``run --watch`` after its first run: the edit-run loop (regcompare.watch) until Ctrl-C, then a clean exit."""
    from regcompare.watch import watch

    sys.stdout.flush()
    try:
        watch(args.paths, frameworks, pool, args.max_elements)
    except KeyboardInterrupt:
        pass  # the way a watch ends; the handler has already stopped the workers
    finally:
        close()
    print("watch ended: workers stopped", file=sys.stderr)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    cases = load_cases(args.paths, args.max_elements)
    _name_broken_adapters()
    print(f"{len(cases)} case(s) valid")
    return EXIT_OK


def conventions_text(width: int) -> str:
    """The conventions registry, one block per API, every line wrapped to ``width`` columns.

    A six-column table of formulas and defaults is ~300 columns wide; blocks read at any width."""
    import textwrap

    width = max(width, 40)
    lines: list[str] = []
    for c in adapters.conventions().values():
        head = f"{c.api}{'' if c.executed else ' *'}  ({c.framework}; {c.measures}; {c.coupling})"
        lines += textwrap.wrap(head, width, break_on_hyphens=False, break_long_words=False)
        fields = [("formula", c.formula), ("native → canonical", c.mapping()), ("defaults", c.signature())]
        fields += [("caveat", caveat) for caveat in c.caveats]
        for name, text in fields:
            lines += textwrap.wrap(str(text), width, initial_indent=f"  {name + ':':<20}", subsequent_indent=" " * 22,
                                   break_on_hyphens=False)  # a long path may break: width is a promise
        lines.append("")
    lines.append("* documented convention only (not installable here, not executed)")
    return "\n".join(lines)


def cmd_conventions(_: argparse.Namespace) -> int:
    """The conventions, wrapped to the terminal (``COLUMNS`` when output is not a terminal; 100 by default)."""
    import shutil

    print(conventions_text(shutil.get_terminal_size((100, 24)).columns))
    _name_broken_adapters()
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from pathlib import Path

    from regcompare.scaffold import ScaffoldError, write

    try:
        path = write(args.name, Path(args.dir), Path(args.weights) if args.weights else None, args.force)
    except ScaffoldError as exc:
        raise _UsageError(f"regcompare new: {exc}") from None
    print(f"wrote {path}: edit it, then .venv/bin/regcompare run {path}")
    return EXIT_OK


def cmd_translate(args: argparse.Namespace) -> int:
    from regcompare.translate import TranslateError, parsed_source, render, translations

    pairs, family, scheduler = _translate_options(args)
    try:
        src = parsed_source(args.api, pairs, family, scheduler)
    except TranslateError as exc:
        raise _UsageError(f"regcompare translate: {exc}") from None
    found = translations(src)
    print(_explicit(render(src, found), src, found, args.to.split(",") if args.to else None))
    return EXIT_OK


def _explicit(text: str, src: Any, found: list[Any], only: list[str] | None = None) -> str:
    """``translate``'s table with nothing left unsaid: the source's own framework lists the source setting first,
    and a framework where nothing reproduces it says ``none`` with the nearest option."""
    from regcompare.translate import setting_text
    from regcompare.translate import source_schedule_lines as source_schedule

    own = src.conv.framework
    source_line = (f"  = {setting_text(src.conv, src.call, src.conv.to_native(src.reg), src.call.native(src.settings))}"
                   "  [the source itself]")
    source_line += "".join(f"\n      {line}" for line in source_schedule(src))
    blocks: dict[str, list[str]] = {}
    head: list[str] = []
    current: list[str] = head
    for line in text.split("\n"):
        if line.endswith(":") and not line.startswith(" ") and line[:-1] in adapters.frameworks():
            current = blocks.setdefault(line[:-1], [])
        else:
            current.append(line)
    out = list(head)
    for fw in only or adapters.frameworks():
        # translate's own "nothing here" lines give way to the one line below (``none:`` with the nearest option)
        lines = [ln for ln in blocks.get(fw, [])
                 if ln != "  no setting reproduces it" and not ln.startswith("  no equivalent: no ")]
        if fw == own:
            lines.insert(0, source_line)
        elif not any(ln.startswith("  = ") for ln in lines):
            hint = _nearest(fw, src, found)
            if hint is None:
                continue
            lines.insert(0, f"  none: {hint}")
        out += [f"{fw}:", *lines]
    return "\n".join(out)


def _nearest(framework: str, src: Any, found: list[Any]) -> str | None:
    """Why no setting of ``framework`` reproduces the source, and the nearest option; None for a framework with no
    optimizer at all (numpy)."""
    table = [c for c in adapters.conventions().values() if c.framework == framework and c.executed]
    if not any(c.optimizers for c in table):
        return None
    same_rule = [c for c in table if any(call.family == src.call.family for call in c.optimizers)]
    if src.reg.l1 and not any(c.applies_to(src.reg) for c in same_rule):
        idiom = next((c for c in table if c.measures == "penalty" and c.applies_to(src.reg)), None)
        where = f" ({idiom.api}: {idiom.formula})" if idiom else ""
        return (f"no {framework} optimizer applies an L1 term; nearest: add l1·Σ|w| = {src.reg.l1:g}·Σ|w| to the "
                f"loss{where}")
    if any(t.framework == framework for t in found):
        return "no setting of this framework gives the same update; the nearest are marked ≈ or ≠ below"
    calls = [c for conv in table for c in conv.optimizers if c.family == src.call.family]
    if not calls:
        return f"no {framework} optimizer in the registry runs {src.call.family}"

    def missing(call: Any) -> list[tuple[str, Any]]:  # the settings this class fixes to another value
        return [(k, v) for k, v in call.fixed if src.settings.get(k, v) != v]

    best = min(calls, key=lambda c: len(missing(c)))
    keys = ", ".join(f"{k}={src.settings[k]:g}" for k, _ in missing(best))
    nearest = best.call_text(best.native(src.settings | dict(missing(best))))
    return f"no {framework} optimizer takes {keys}; nearest: {nearest}, a different update"


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM is handled like Ctrl-C: workers stopped, outputs untouched


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args = _parser().parse_args(argv)
        command = {"run": cmd_run, "validate": cmd_validate, "conventions": cmd_conventions,
                   "translate": cmd_translate, "new": cmd_new}[args.command]
        code = command(args)
        sys.stdout.flush()  # here, not at exit: a reader that went away is then caught below
        return code
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except CaseError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: workers stopped, previous reports left as they were", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head -1``): what it wanted was printed. Point stdout at /dev/null so the
        # interpreter's final flush raises nothing either (Python docs, "Note on SIGPIPE").
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug of ours: one line for the user, the traceback on request
        if os.environ.get("REGCOMPARE_DEBUG"):
            raise
        print(f"regcompare: internal error: {type(exc).__name__}: {exc} (REGCOMPARE_DEBUG=1 shows the traceback); "
              "the previous reports are left as they were", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
