"""The first hour: every YAML block of the README and of docs/ validates and (the cheap ones) runs clean
through the real frameworks; links resolve; the install and clean-up paths do what the README says."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

from regcompare.cases import load_case
from tests.conftest import ROOT, run_cli

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```yaml\n(.*?)^```", re.M | re.S)
#: Quantities too slow for a test run of every block (a 100-epoch training run per framework): validated only.
SLOW = {"trajectory"}
#: What a block's `{file: ...}` weights hold: the README's and docs' examples use the 2×2 seed tensor.
FILE_WEIGHT = np.array([[1.0, -2.0], [-3.0, 4.0]])


def blocks() -> list[tuple[str, str]]:
    """(document:line, text) of every ```yaml block."""
    found = []
    for doc in DOCUMENTS:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            found.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return found


def test_there_are_blocks_to_check() -> None:
    where = [w for w, _ in blocks()]
    assert any(w.startswith("README.md") for w in where)
    assert sum(w.startswith("docs/case-format.md") for w in where) >= 6


def write_block(folder: Path, text: str) -> Path:
    """The block as a case file; numpy files it names are written next to it, as a user would have them."""
    name = yaml.safe_load(text)["name"]
    for file in re.findall(r"\{file: ([\w.-]+\.npy)", text):
        np.save(folder / file, FILE_WEIGHT)
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("where", "text"), blocks(), ids=[w for w, _ in blocks()])
def test_block_validates(where: str, text: str, tmp_path: Path) -> None:
    load_case(str(write_block(tmp_path, text)))  # raises CaseError, naming the line, if the block is wrong


@pytest.fixture(scope="module")
def run_of_blocks(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Every cheap block, in one run over every installed framework (one worker per framework)."""
    folder = tmp_path_factory.mktemp("blocks")
    for _, text in blocks():
        if not SLOW & set(yaml.safe_load(text).get("quantities", [])):
            write_block(folder, text)
    out = folder / "out"
    done = run_cli("run", str(folder), "--out", str(out))
    doc = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return done, doc


def test_cheap_blocks_run_clean(run_of_blocks: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    done, doc = run_of_blocks
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert doc["known"]["stale"] == []
    assert not [r for r in doc["rows"] if r["status"] in ("mismatch", "error") and not r["known"]]
    ran = {fw for fw, info in doc["environment"]["frameworks"].items() if info["status"] == "ok"}
    assert {"numpy", "torch"} <= ran  # the real frameworks, not only the oracle


def test_readme_example_checks_its_golden_and_known_entry(
    run_of_blocks: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    _, doc = run_of_blocks
    rows = [r for r in doc["rows"] if r["case"] == "my-layer"]
    golden = [r for r in rows if r["expected"] is not None]
    # keras.regularizers.L2(l2=1) over w = [[1,-2],[-3,4]] and b = [0.5]*3: Σw² = 30 + 0.75
    assert golden and all(r["expected"] == 30.75 and r["status"] == "match" for r in golden)
    if doc["environment"]["frameworks"].get("paddle", {}).get("status") == "ok":
        assert any(r["known"] for r in rows if r["framework"] == "paddle")


def test_case_format_lists_every_optimizer_rule_and_its_keys() -> None:
    """The optimizer table of docs/case-format.md follows regcompare.rules as rules are added."""
    from regcompare import rules

    text = (ROOT / "docs" / "case-format.md").read_text(encoding="utf-8")
    table = text[text.index("| `optimizer.name` |"):]
    table = table[:table.index("\n\n")]
    for name in rules.NAMES:
        row = next((line for line in table.splitlines() if f"`{name}`" in line), None)
        assert row, f"docs/case-format.md: no row for optimizer {name!r}"
        for setting in rules.settings_of(name):
            assert f"`{setting.key}`" in row, f"{name}: {setting.key} not documented"


def test_links_to_docs_resolve() -> None:
    for doc in DOCUMENTS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to missing {target}"


def test_no_citation_of_a_file_outside_the_repository() -> None:
    """DESIGN.md is not in the repository: the contracts are cited from docs/."""
    for path in [*ROOT.glob("regcompare/**/*.py"), *ROOT.glob("tests/*.py"), *DOCUMENTS]:
        if path.name != "test_docs.py":
            assert "DESIGN.md" not in path.read_text(encoding="utf-8"), path


# --- installing and cleaning up ----------------------------------------------------------------------


def test_extras_do_not_pin_exact_versions_but_constraints_do() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    frameworks = {"torch", "tensorflow", "paddle"}
    for extra in frameworks:
        for requirement in project["optional-dependencies"][extra]:
            version = requirement.split(";")[0]  # the environment marker may compare with ==
            assert "==" not in version and ">=" in version, requirement
    pins = (ROOT / "constraints.txt").read_text()
    for package in ("torch", "tensorflow_cpu", "paddlepaddle"):
        assert re.search(rf"^{package}==\d", pins, re.M), package


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_uses_pytorch_cpu_index_and_lets_it_be_overridden() -> None:
    def install(*args: str) -> str:
        done = subprocess.run(["make", "-n", "-B", "install", *args], cwd=ROOT, capture_output=True, text=True,
                              env={k: v for k, v in os.environ.items() if k != "TORCH_INDEX_URL"}, timeout=60)
        assert done.returncode == 0, done.stderr
        return next(line for line in done.stdout.splitlines() if "pip install" in line)

    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in install()
    assert "-c constraints.txt" in install()
    assert "--extra-index-url" not in install("TORCH_INDEX_URL=")
    assert "--extra-index-url https://mirror.test/cpu" in install("TORCH_INDEX_URL=https://mirror.test/cpu")
    assert "TORCH_INDEX_URL" in (ROOT / "README.md").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_removes_everything_it_and_the_tools_made(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path)
    made = [".venv/bin/python", "reports/report.html", "reports/report-screenshot.png", "reports/repro/report.md",
            "reports/bench.json", ".pytest_cache/v", ".ruff_cache/x", ".hypothesis/e", "regcompare/__pycache__/a.pyc",
            "regcompare.egg-info/PKG-INFO", "build/lib/x"]
    for name in [*made, "reports/.gitkeep", "cases/mine.yaml"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    done = subprocess.run(["make", "clean"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["Makefile", "cases/mine.yaml", "reports/.gitkeep"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_browser_step_without_apt_says_what_is_missing(tmp_path: Path) -> None:
    """No chromium, no chromedriver, no apt-get on PATH: make says so and goes on (exit 0)."""
    (tmp_path / "bin").mkdir()
    for tool in ("bash", "sh", "echo"):
        found = shutil.which(tool)
        if found:
            (tmp_path / "bin" / tool).symlink_to(found)
    done = subprocess.run([shutil.which("make") or "make", "-s", "browser"], cwd=ROOT, capture_output=True,
                          text=True, env={"PATH": str(tmp_path / "bin")}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "chromium and chromedriver are missing and there is no apt-get here" in done.stdout
    assert "CHROMIUM and CHROMEDRIVER" in done.stdout and "CI runs them" in done.stdout


def test_browser_tests_write_nothing_into_reports(tmp_path: Path) -> None:
    """`make test` runs the browser tests: their screenshots go to a temporary folder, not the user's reports/."""
    before = sorted(p.name for p in (ROOT / "reports").iterdir())
    env = {k: v for k, v in os.environ.items() if k != "REGCOMPARE_SCREENSHOTS"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests/test_report_browser.py::test_screenshot", f"--basetemp={tmp_path}"],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:]
    assert sorted(p.name for p in (ROOT / "reports").iterdir()) == before
    if "skipped" not in done.stdout:
        assert list(tmp_path.rglob("report-1600.png"))
