"""``regcompare run|validate|conventions`` (DESIGN.md §4).

Exit status: 0 when no row is ``mismatch`` or ``error``, 1 when some is, 2 for invalid input or
usage (the message on stderr, no traceback), 130 when interrupted (workers stopped, report kept).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

from regcompare import adapters
from regcompare.cases import DEFAULT_MAX_ELEMENTS, CaseError, load_cases
from regcompare.engine import STATUSES, Run, run
from regcompare.workers import DEFAULT_TASK_TIMEOUT, WorkerPool

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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


def _parser() -> _Parser:
    parser = _Parser(prog="regcompare", description="Cross-framework equivalence of L1/L2 regularization.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p_run = sub.add_parser("run", help="run cases and write reports")
    p_run.add_argument("paths", nargs="*", default=["cases"], help="case files or folders (default: cases/)")
    p_run.add_argument("--frameworks", help="comma-separated (default: every one known; missing ones are skipped)")
    p_run.add_argument("--out", default="reports", help="output folder (default: reports/)")
    p_run.add_argument("--timeout", type=float, default=DEFAULT_TASK_TIMEOUT,
                       help="seconds a task may take before its worker is killed (default: %(default)s)")
    p_run.add_argument("--max-elements", type=int, default=DEFAULT_MAX_ELEMENTS,
                       help="largest tensor a case may generate (default: %(default)s)")
    p_val = sub.add_parser("validate", help="check case files against the schema")
    p_val.add_argument("paths", nargs="+")
    p_val.add_argument("--max-elements", type=int, default=DEFAULT_MAX_ELEMENTS)
    sub.add_parser("conventions", help="print the conventions table")
    p_tr = sub.add_parser("translate", help="the setting of every other framework that reproduces an optimizer's decay")
    p_tr.add_argument("api", help="e.g. torch.optim.SGD")
    # REMAINDER, then parsed again (``_translate_options``): --optimizer may stand anywhere among name=value pairs.
    p_tr.add_argument("args", nargs=argparse.REMAINDER,
                      help="the API's own arguments, e.g. weight_decay=0.5 momentum=0.9 betas=0.9,0.999")
    p_tr.add_argument("--optimizer", choices=_optimizer_names(), help="for a layer regularizer: the optimizer it meets")
    return parser


def _optimizer_names() -> list[str]:
    from regcompare import rules

    return list(rules.NAMES)


def _translate_options(args: argparse.Namespace) -> tuple[list[str], str | None]:
    """The name=value pairs and ``--optimizer``, wherever it stood on the command line."""
    again = _Parser(prog="regcompare translate", add_help=False)
    again.add_argument("--optimizer", choices=_optimizer_names(), default=args.optimizer)
    known, rest = again.parse_known_args(args.args)
    options = [r for r in rest if r.startswith("-")]
    if options:
        raise _UsageError(f"regcompare translate: unknown option {options[0]}; it takes --optimizer and name=value")
    return rest, known.optimizer


def _progress_printer() -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """Rich progress bars on a terminal; plain lines (every 10%) in CI."""
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bars = Progress(TextColumn("{task.description:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        transient=True)
        ids: dict[str, Any] = {}
        bars.start()

        def update(fw: str, done: int, total: int) -> None:
            if fw not in ids:
                ids[fw] = bars.add_task(fw, total=total)
            bars.update(ids[fw], completed=done)

        return update, bars.stop

    shown: dict[str, int] = {}

    def plain(fw: str, done: int, total: int) -> None:
        step = max(50, total // 10)
        if done == total or done // step > shown.get(fw, 0):
            shown[fw] = done // step
            print(f"{fw}: {done}/{total}", file=sys.stderr, flush=True)

    return plain, lambda: None


def _print_summary(result: Run, out: str, seconds: float) -> None:
    width = max(len(fw) for fw in result.frameworks) if result.frameworks else 8
    print(f"{'framework':<{width}}  status   rows  " + "  ".join(f"{s:>11}" for s in STATUSES))
    for fw, info in result.frameworks.items():
        counts = [sum(1 for r in result.rows if r["framework"] == fw and r["status"] == s) for s in STATUSES]
        note = info.version if info.status == "ok" else info.status
        print(f"{fw:<{width}}  {note[:7]:<7} {sum(counts):>5}  " + "  ".join(f"{c:>11}" for c in counts))
    total = "  ".join(f"{s} {n}" for s, n in result.summary.items() if n)
    known = sum(1 for r in result.rows if r["known"])
    known_note = f" ({known} known findings)" if known else ""
    print(f"{len(result.rows)} rows in {seconds:.1f} s: {total or 'none'}{known_note}; reports in {out}/")


def cmd_run(args: argparse.Namespace) -> int:
    from regcompare.programs import summary_lines, translator_summary
    from regcompare.report import to_html, to_markdown
    from regcompare.results import environment, results_document, write_atomically, write_csv, write_json, write_junit

    frameworks = _frameworks(args.frameworks)
    cases = load_cases(args.paths, args.max_elements)
    started = time.monotonic()
    pool = WorkerPool(task_timeout=args.timeout)
    update, stop = _progress_printer()

    def interrupt(signum: int, _frame: object) -> None:
        pool.abort()  # before the exception unwinds, so no thread waits on a hung worker
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = run(cases, frameworks, pool, update)
    finally:
        stop()
        pool.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    seconds = time.monotonic() - started
    doc = results_document(result, environment(result, seconds))
    translated = translator_summary(result.rows)
    if translated:
        doc["translators"] = translated  # per translator: settings tried, equivalent, wrong, refused
    write_atomically(args.out, {
        "results.json": lambda out: write_json(doc, out),
        "results.csv": lambda out: write_csv(result.rows, out),
        "report.md": to_markdown(doc),
        "report.html": to_html(doc, {c.name: c.source for c in cases}),
        "junit.xml": lambda out: write_junit(result, out),
    })
    _print_summary(result, args.out, seconds)
    for line in summary_lines(translated):
        print(line)
    for entry in result.stale:
        print(f"stale known finding: {entry}", file=sys.stderr)
    return EXIT_FAILED if result.failures else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    cases = load_cases(args.paths, args.max_elements)
    print(f"{len(cases)} case(s) valid")
    return EXIT_OK


def cmd_conventions(_: argparse.Namespace) -> int:
    from tabulate import tabulate

    table = [
        [c.api + ("" if c.executed else " *"), c.measures, c.formula, c.mapping(), c.coupling, c.signature()]
        for c in adapters.conventions().values()
    ]
    print(tabulate(table, headers=["API", "measures", "formula", "native → canonical", "coupling", "defaults"]))
    print("\n* documented convention only (not installable here, not executed)")
    return EXIT_OK


def cmd_translate(args: argparse.Namespace) -> int:
    from regcompare.translate import TranslateError, parsed_source, render, translations

    pairs, family = _translate_options(args)
    try:
        src = parsed_source(args.api, pairs, family)
    except TranslateError as exc:
        raise _UsageError(f"regcompare translate: {exc}") from None
    found = translations(src)
    print(_explicit(render(src, found), src, found))
    return EXIT_OK


def _explicit(text: str, src: Any, found: list[Any]) -> str:
    """``translate``'s table with nothing left unsaid: the source's own framework lists the source setting first,
    and a framework where nothing reproduces it says ``none`` with the nearest option."""
    from regcompare.translate import setting_text

    own = src.conv.framework
    source_line = (f"  = {setting_text(src.conv, src.call, src.conv.to_native(src.reg), src.call.native(src.settings))}"
                   "  [the source itself]")
    blocks: dict[str, list[str]] = {}
    head: list[str] = []
    current: list[str] = head
    for line in text.split("\n"):
        if line.endswith(":") and not line.startswith(" ") and line[:-1] in adapters.frameworks():
            current = blocks.setdefault(line[:-1], [])
        else:
            current.append(line)
    out = list(head)
    for fw in adapters.frameworks():
        lines = [ln for ln in blocks.get(fw, []) if ln != "  no setting reproduces it"]
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
    if src.reg.l1 and not any(c.optimizers and c.applies_to(src.reg) for c in table):
        idiom = next((c for c in table if c.measures == "penalty" and c.applies_to(src.reg)), None)
        where = f" ({idiom.api}: {idiom.formula})" if idiom else ""
        return (f"no {framework} optimizer applies an L1 term; nearest: add l1·Σ|w| = {src.reg.l1:g}·Σ|w| to the "
                f"loss{where}")
    if any(t.framework == framework for t in found):
        return "no setting of this framework gives the same update; the nearest are marked ≠ below"
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
                   "translate": cmd_translate}[args.command]
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


if __name__ == "__main__":
    sys.exit(main())
