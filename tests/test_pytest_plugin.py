"""The pytest plugin (regcompare/pytest_plugin.py): case files as pytest items, outcomes, xdist.

Small temp cases run on numpy and the fakes of tests/fakes (fast); one run covers the real cases/.
Runs that need a fresh interpreter (xdist, import checks) use ``runpytest_subprocess``.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from regcompare import workers
from regcompare.pytest_plugin import decide, looks_like_case

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parent.parent

MIXED = """\
name: mixed
weights:
  w: [[1, -2], [-3, 4]]
dtypes: [float32, float64]
regularizers:
  - {l2: 1.0}
quantities: [penalty]
"""
# fake-wrong doubles float32 penalties (mismatch) and has no float64 kernel (unsupported).
FRAMEWORKS = "--regcompare-frameworks=numpy,fake-wrong"
KNOWN = """\
known:
  - status: mismatch
    framework: fake-wrong
    reason: "fake-wrong doubles every penalty"
  - status: error
    framework: numpy
    dtype: float64
    reason: "a numpy finding that has gone away"
"""
GRADIENT = """\
name: grad
weights:
  a: [1.0, -2.0]
  b: [0.5]
regularizers:
  - {l1: 0.5}
quantities: [gradient]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nregcompare_cases = cases\n")
    pytester.makeconftest(RECORDER)
    (pytester.path / "cases").mkdir()
    return pytester


def write(pytester: pytest.Pytester, relpath: str, text: str) -> Path:
    path = pytester.path / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


#: Records every item's outcome category (passed, failed, skipped, xfailed, ...) in outcomes.json, in the
#: process that reports (the xdist controller, not its workers), so serial and parallel runs compare.
RECORDER = """
import json

outcomes = {}
configs = []


def pytest_configure(config):
    configs.append(config)


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        config = configs[-1]
        outcomes[report.nodeid.split("@")[0]] = config.hook.pytest_report_teststatus(report=report, config=config)[0]


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        with open("outcomes.json", "w") as out:
            json.dump(outcomes, out)
"""


def outcomes_by_id(pytester: pytest.Pytester) -> dict[str, str]:
    return json.loads((pytester.path / "outcomes.json").read_text())


# --- outcomes ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fakes")
def test_verdicts_map_to_outcomes_with_readable_ids_and_no_traceback(project: pytest.Pytester) -> None:
    write(project, "cases/mixed.yaml", MIXED)
    result = project.runpytest(FRAMEWORKS, "-rA")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    assert outcomes_by_id(project) == {
        "cases/mixed.yaml::mixed[numpy-numpy.handwritten(l1=0,l2=1)-penalty-float32]": "passed",
        "cases/mixed.yaml::mixed[numpy-numpy.handwritten(l1=0,l2=1)-penalty-float64]": "passed",
        "cases/mixed.yaml::mixed[fake-wrong-fake-wrong.penalty(l2=1)-penalty-float32]": "failed",
        "cases/mixed.yaml::mixed[fake-wrong-fake-wrong.penalty(l2=1)-penalty-float64]": "skipped",
    }
    result.stdout.fnmatch_lines([
        "mismatch: *",
        "  raw        30.0",
        "  reconciled 30.0",
        "  reference  15.0",
        "  errors     abs_err 15.0  rel_err 1.0  ulp * (tolerance rtol=* atol=*)",
        "cases/mixed.yaml:6: in case 'mixed'",  # the regularizer's line
        "SKIPPED [[]1[]] cases/mixed.yaml:6: unsupported: *no float64 kernel*",
    ])
    assert "Traceback" not in result.stdout.str() and "pytest_plugin.py" not in result.stdout.str()


@pytest.mark.usefixtures("fakes")
def test_known_findings_xfail_and_a_stale_entry_fails_its_items(project: pytest.Pytester) -> None:
    write(project, "cases/mixed.yaml", MIXED + KNOWN)
    result = project.runpytest(FRAMEWORKS, "-rA")
    # fake-wrong float32: known mismatch → xfail; float64 unsupported is not what known[0] names → skip.
    # numpy float64: known[1] expects an error that no longer happens → XPASS(strict), a failure.
    result.assert_outcomes(passed=1, xfailed=1, skipped=1, failed=1)
    result.stdout.fnmatch_lines([
        "XFAIL cases/mixed.yaml::mixed[fake-wrong-fake-wrong.penalty(l2=1)-penalty-float32]"
        " - known mismatch: fake-wrong doubles every penalty",
    ])
    result.stdout.fnmatch_lines([
        "[[]XPASS(strict)[]] stale known finding: cases/mixed.yaml:12: known[[]1[]]: expected error*but the rows it "
        "selects are: match",
    ])
    assert outcomes_by_id(project)["cases/mixed.yaml::mixed[numpy-numpy.handwritten(l1=0,l2=1)-penalty-float64]"] == (
        "failed")


def test_a_gradient_item_takes_its_worst_row(project: pytest.Pytester) -> None:
    known = "known:\n  - {status: mismatch, framework: numpy, tensor: b, reason: only b}\n"
    write(project, "cases/grad.yaml", GRADIENT + known)
    result = project.runpytest("--regcompare-frameworks=numpy", "-rA")
    # One item, two rows (a: match, b: match); the entry naming b explains nothing → the item fails.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*stale known finding*known[[]0[]]*only b*"])


@pytest.mark.parametrize(("statuses", "known", "kind"), [
    (["match", "match"], [None, None], "pass"),
    (["match", "unsupported"], [None, None], "skip"),
    (["match", "mismatch"], [None, "why"], "xfail"),
    (["divergent", "match"], [None, None], "xfail"),
    (["unsupported", "mismatch"], [None, "why"], "xfail"),
    (["mismatch", "mismatch"], ["why", None], "fail"),
    (["error", "match"], [None, None], "fail"),
])
def test_decide_takes_the_worst_row(statuses: list[str], known: list[str | None], kind: str) -> None:
    rows = [{"status": s, "known": k, "detail": "d", "tensor": t} for s, k, t in zip(statuses, known, "ab", strict=True)]
    assert decide(rows, []).kind == kind


def test_decide_reports_stale_entries() -> None:
    match = [{"status": "match", "known": None, "detail": "ok"}]
    assert decide(match, ["f.yaml:3: known[0]: gone"]).kind == "xpass"
    assert decide(match, []).kind == "pass"


def update_row(status: str, reference: list[float], decoupled: list[float]) -> dict:
    return {"status": status, "known": None, "detail": "d", "tensor": "w", "api": "keras.optimizers.SGD",
            "dtype": "float32", "coupling": "decoupled", "reference": reference, "decoupled_reference": decoupled,
            "tolerance": {"rtol": 1.3e-6, "atol": 1e-5}}


def test_divergent_xfails_and_a_vanished_divergence_fails() -> None:
    # The engine judges a vanished divergence (tests/test_update.py): a decoupled API matching the coupled
    # update where the two differ is a `mismatch`, so here it fails like any other mismatch.
    assert decide([update_row("match", [0.9, 1.8], [0.9, 1.8])], []).kind == "pass"
    assert decide([update_row("divergent", [0.9, 1.8], [0.8, 1.7])], []).kind == "xfail"
    assert decide([update_row("mismatch", [0.9, 1.8], [0.8, 1.7])], []).kind == "fail"


# --- collection ---------------------------------------------------------------------------------------


def test_schema_errors_are_collection_errors_naming_file_line_key(project: pytest.Pytester) -> None:
    write(project, "cases/bad.yaml", "name: bad\nweights:\n  w: [1, 2]\nregularizers:\n  - {l3: 1.0}\n")
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["cases/bad.yaml:5: regularizers[[]0[]].l3: unknown key (did you mean 'l2'?)"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_timeout_is_a_usage_error_naming_the_option(project: pytest.Pytester, value: str) -> None:
    write(project, "cases/grad.yaml", GRADIENT)
    result = project.runpytest("--regcompare-frameworks=numpy", f"--regcompare-timeout={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--regcompare-timeout*invalid positive number of seconds value*{value}*"])


def test_a_framework_whose_entry_point_is_broken_fails_its_case_rather_than_vanishing(
        project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    broken_eps = Path(__file__).parent / "fakes_broken"
    monkeypatch.syspath_prepend(str(broken_eps))
    from regcompare import adapters

    adapters.specs.cache_clear()
    adapters.conventions.cache_clear()
    try:
        write(project, "cases/grad.yaml", GRADIENT)
        result = project.runpytest("--regcompare-frameworks=numpy,fake-not-a-spec", "-rA")
    finally:
        adapters.specs.cache_clear()
        adapters.conventions.cache_clear()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*grad*fake-not-a-spec*", "*grad.yaml: regcompare.adapters entry point 'fake-not-a-spec'*"])
    assert "Traceback" not in result.stdout.str()


def test_duplicate_case_names_are_collection_errors(project: pytest.Pytester) -> None:
    write(project, "cases/a.yaml", MIXED)
    write(project, "cases/b.yaml", MIXED)
    result = project.runpytest("--regcompare-frameworks=numpy", "--co")
    result.stdout.fnmatch_lines(["cases/b.yaml:1: name: duplicate case name 'mixed' (also in cases/a.yaml)"])


def test_only_yaml_under_a_case_root_or_named_explicitly_is_collected(project: pytest.Pytester) -> None:
    write(project, "cases/mixed.yaml", MIXED)
    write(project, ".github/workflows/ci.yml", "name: ci\non: push\njobs: {}\n")
    write(project, "tests/data.yaml", GRADIENT)  # case-shaped, but not under a case root
    write(project, "cases/notes.yaml", "title: not a case\nitems: [1, 2]\n")
    listed = project.runpytest("--regcompare-frameworks=numpy", "--co", "-q", ".")
    assert [ln for ln in listed.outlines if "::" in ln] == [
        "cases/mixed.yaml::mixed[numpy-numpy.handwritten(l1=0,l2=1)-penalty-float32]",
        "cases/mixed.yaml::mixed[numpy-numpy.handwritten(l1=0,l2=1)-penalty-float64]",
    ]
    explicit = project.runpytest("--regcompare-frameworks=numpy", "--co", "-q", "tests/data.yaml")
    explicit.stdout.fnmatch_lines(["tests/data.yaml::grad[[]numpy-numpy.handwritten(l1=0.5,l2=0)-gradient-float32[]]"])


def test_looks_like_case(tmp_path: Path) -> None:
    cases = {"weights: {w: [1]}\n": True, "# c\nregularizers: []\n": True, "{weights: {w: [1]}}": True,
             "name: ci\non: push\njobs: {}\n": False, "a:\n  weights: 1\n": False, "": False}
    for i, (text, expected) in enumerate(cases.items()):
        path = tmp_path / f"{i}.yaml"
        path.write_text(text)
        assert looks_like_case(path) is expected, text


def test_one_worker_per_framework_for_the_whole_session(project: pytest.Pytester, monkeypatch) -> None:
    started: list[str] = []
    original = workers.Worker.__init__

    @functools.wraps(original)
    def counting(self, spec, *args, **kwargs) -> None:
        started.append(spec.framework)
        original(self, spec, *args, **kwargs)

    monkeypatch.setattr(workers.Worker, "__init__", counting)
    write(project, "cases/mixed.yaml", MIXED)
    write(project, "cases/grad.yaml", GRADIENT)
    project.runpytest("--regcompare-frameworks=numpy").assert_outcomes(passed=3)
    assert started == ["numpy"]


CHECK_MODULES = """
    import sys

    def test_modules():
        assert not set(sys.modules) & {{{forbidden}}}
"""


def test_the_plugin_costs_no_import_when_no_yaml_is_collected(project: pytest.Pytester) -> None:
    project.makepyfile(test_bare=CHECK_MODULES.format(forbidden='"regcompare.engine", "regcompare.workers", "numpy"'))
    project.runpytest_subprocess("test_bare.py").assert_outcomes(passed=1)


def test_no_framework_is_imported_in_the_pytest_process(project: pytest.Pytester) -> None:
    write(project, "cases/mixed.yaml", MIXED)
    project.makepyfile(test_after=CHECK_MODULES.format(forbidden='"torch", "tensorflow", "paddle"'))
    # cases first, then the check, in one process
    after = project.runpytest_subprocess("--regcompare-frameworks=numpy,torch", "cases", "test_after.py")
    after.assert_outcomes(passed=5)


# --- xdist and JUnit ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fakes")
def test_two_popen_gateways_give_the_serial_outcomes_and_junit_has_one_testcase_per_item(
    project: pytest.Pytester,
) -> None:
    """The multi-machine path (README: ``--tx ssh=host//python=...``) with two local gateways; ``-n 2`` is the same."""
    write(project, "cases/mixed.yaml", MIXED + KNOWN)
    write(project, "cases/grad.yaml", GRADIENT)
    project.runpytest_subprocess(FRAMEWORKS, "-p", "no:xdist")
    serial = outcomes_by_id(project)
    junit = project.path / "junit.xml"
    gateway = f"popen//python={sys.executable}"
    parallel = project.runpytest_subprocess(FRAMEWORKS, "-d", "--tx", gateway, "--tx", gateway, "--dist", "loadgroup",
                                            f"--junitxml={junit}")
    parallel.stdout.fnmatch_lines(["*2 workers [[]5 items[]]*"])
    assert outcomes_by_id(project) == serial and len(serial) == 5
    assert sorted(serial.values()) == ["failed", "passed", "passed", "skipped", "xfailed"]
    testcases = ET.parse(junit).getroot().iter("testcase")
    props = {tc.get("name"): {p.get("name"): p.get("value") for p in tc.iter("property")} for tc in testcases}
    assert len(props) == 5
    failed = props["mixed[fake-wrong-fake-wrong.penalty(l2=1)-penalty-float32]"]
    assert failed["known"] == "fake-wrong doubles every penalty"
    assert (failed["raw"], failed["reference"], failed["abs_err"]) == ("30.0", "15.0", "15.0")
    assert props["grad[numpy-numpy.handwritten(l1=0.5,l2=0)-gradient-float32]"]["b.status"] == "match"


def test_the_repository_cases_pass_under_xdist(tmp_path: Path) -> None:
    """`pytest -n 2 --dist loadgroup cases/` on this repository, on numpy to stay quick (the other frameworks'
    known entries then select nothing the run has, and are not judged): known findings xfail, nothing
    fails, and JUnit holds one testcase per item."""
    from regcompare.cases import load_cases
    from regcompare.engine import plan_case

    frameworks = ("numpy",)
    items = sum(len(plan_case(c, frameworks)) for c in load_cases([str(ROOT / "cases")]))
    junit = tmp_path / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "cases", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider",
         f"--regcompare-frameworks={','.join(frameworks)}", f"--junitxml={junit}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    root = ET.parse(junit).getroot()
    assert len(list(root.iter("testcase"))) == items
    suite = next(root.iter("testsuite"))
    assert suite.get("failures") == suite.get("errors") == "0"
    assert " xfailed" in done.stdout.splitlines()[-1]
