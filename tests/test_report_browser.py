"""report.html in a real browser: headless Chromium through selenium (no browser download).

Chromium and its driver are Debian's (`make browser`), or any found on PATH, or the ones CHROMIUM and
CHROMEDRIVER point at. Locally the tests skip, with the reason, when they are missing; in CI (CI=true)
a missing browser is a failure. Screenshots go to pytest's temporary folder, or to the folder
REGCOMPARE_SCREENSHOTS names (CI uploads it) — never into the user's reports/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regcompare import report
from tests.test_report import make_doc, sources_of


def _binary(variable: str, *names: str) -> str:
    """The environment's choice, else the first of ``names`` on PATH, else Debian's path (reported as missing)."""
    found = os.environ.get(variable) or next(filter(None, map(shutil.which, names)), None)
    return found or f"/usr/bin/{names[0]}"


CHROMIUM = _binary("CHROMIUM", "chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = _binary("CHROMEDRIVER", "chromedriver")
#: Widths the page must read at: a laptop and a desktop screen.
WIDTHS = (1280, 1920)
#: No network, no first-run or background work: the page must render from the file alone.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
    "--window-size=1600,1200",
)


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[dev]'"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            return (f"{path} is missing: run `make browser` (apt), or install chromium and chromedriver and set "
                    "CHROMIUM and CHROMEDRIVER")
    return None


def _driver(profile: str, javascript: bool = True) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser_ready() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return make_doc(n_match=300, n_cases=30, stale=("cases/x.yaml:9: known[0]: expected mismatch, rows are: match",))


@pytest.fixture(scope="module")
def page_file(doc: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(report.to_html(doc, sources_of(doc)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def driver(browser_ready: None, page_file: Path) -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="regcompare-chromium-") as profile:
        drv = _driver(profile)
        try:
            drv.get(page_file.as_uri())
            yield drv
        finally:
            drv.quit()


def visible_rows(driver: Any) -> list[Any]:
    return [tr for tr in driver.find_elements("css selector", "#diff-table tbody tr") if tr.is_displayed()]


def reset(driver: Any) -> None:
    driver.find_element("css selector", "#filters button[type=reset]").click()
    driver.execute_script("window.scrollTo(0, 0)")


def notable(doc: dict[str, Any], **where: Any) -> int:
    return sum(1 for r in doc["rows"] if r["status"] != "match" and all(r.get(k) == v for k, v in where.items()))


def test_table_and_matrix_render(driver: Any, doc: dict[str, Any]) -> None:
    assert len(visible_rows(driver)) == notable(doc) == 8
    cells = driver.find_elements("css selector", "#matrix-table td.cell")
    pairs = {(r["framework"], r["api"]) for r in doc["rows"]}
    assert len(cells) == len(pairs) + len({(r["framework"], r["api"], r["dtype"]) for r in doc["rows"]}) == 11
    assert driver.find_element("id", "fig-ulp").find_element("css selector", "svg").size["height"] > 100
    assert driver.find_element("id", "stale").is_displayed()
    assert driver.find_element("id", "shown-count").text == "8 of 8"


def test_nothing_is_fetched_and_no_script_error(driver: Any) -> None:
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors


def test_case_text_is_shown_not_run(driver: Any) -> None:
    assert driver.execute_script("return window.__xss") is None
    yaml_block = driver.find_element("css selector", "#cases pre.yaml")
    assert "<script>window.__xss = 1</script>" in yaml_block.text


def test_status_filter(driver: Any, doc: dict[str, Any]) -> None:
    reset(driver)
    driver.find_element("css selector", "#filters input[name=status][value=mismatch]").click()
    assert len(visible_rows(driver)) == notable(doc) - notable(doc, status="mismatch") == 3
    reset(driver)
    driver.find_element("css selector", ".card[data-only-status=mismatch]").click()
    shown = visible_rows(driver)
    assert len(shown) == notable(doc, status="mismatch") == 5
    assert {tr.get_attribute("data-status") for tr in shown} == {"mismatch"}


def test_known_filter_and_framework_filter(driver: Any, doc: dict[str, Any]) -> None:
    from selenium.webdriver.support.ui import Select

    reset(driver)
    Select(driver.find_element("css selector", "#filters select[name=finding]")).select_by_value("known")
    assert len(visible_rows(driver)) == sum(1 for r in doc["rows"] if r["known"]) == 3
    Select(driver.find_element("css selector", "#filters select[name=finding]")).select_by_value("new")
    Select(driver.find_element("css selector", "#filters select[name=framework]")).select_by_value("torch")
    assert len(visible_rows(driver)) == 2  # torch's error and its large-tensor mismatch
    reset(driver)
    driver.find_element("css selector", "#filters input[name=case]").send_keys("huge")
    assert [tr.get_attribute("data-case") for tr in visible_rows(driver)] == ["huge"]


def test_matrix_cell_filters_its_rows(driver: Any, doc: dict[str, Any]) -> None:
    reset(driver)
    driver.find_element("css selector", '#matrix-table a[data-api="paddle.handwritten"][data-dtype=""]').click()
    assert len(visible_rows(driver)) == notable(doc, api="paddle.handwritten") == 2


def test_sort_by_ulp(driver: Any) -> None:
    reset(driver)
    header = driver.find_element("xpath", "//table[@id='diff-table']//th[button[text()='ULP']]")
    column = len(header.find_elements("xpath", "preceding-sibling::th")) + 1

    def ulps() -> list[str]:
        cells = driver.find_elements("css selector", f"#diff-table tbody tr td:nth-child({column})")
        return [c.get_attribute("data-v") for c in cells]

    header.find_element("tag name", "button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    ascending = ulps()
    numbers = [float(v) for v in ascending if v]
    assert numbers == sorted(numbers) and ascending[-1] == ""  # empty cells (no ULP) last
    header.find_element("tag name", "button").click()
    assert header.get_attribute("aria-sort") == "descending"
    descending = [float(v) for v in ulps() if v]
    assert descending == sorted(descending, reverse=True) and descending[0] == float("inf")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("REGCOMPARE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_screenshot(driver: Any, shots: Path) -> None:
    reset(driver)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1600, min(height, 6000))
    assert driver.save_screenshot(str(shots / "report-1600.png"))
    assert (shots / "report-1600.png").stat().st_size > 20_000
    driver.set_window_size(1600, 1200)


def _box(driver: Any, element: Any) -> dict[str, float]:
    return driver.execute_script("const r = arguments[0].getBoundingClientRect();"
                                 "return {left: r.left, right: r.right, width: r.width, height: r.height};", element)


@pytest.mark.parametrize("width", WIDTHS)
def test_differences_read_at_laptop_and_desktop_width(driver: Any, doc: dict[str, Any], width: int,
                                                      shots: Path) -> None:
    """The why of every row is visible, on screen, in lines of words (not a letter per line), the table
    fits the window (no horizontal scrolling), and rows stay compact; the details open on a click."""
    driver.set_window_size(width, 1000)
    reset(driver)
    try:
        inner = driver.execute_script("return window.innerWidth")
        assert driver.execute_script("return document.documentElement.scrollWidth") <= inner
        table = driver.find_element("id", "diff-table")
        assert _box(driver, table)["right"] <= inner
        rows = visible_rows(driver)
        assert len(rows) == notable(doc)
        for tr in rows:
            why = tr.find_element("css selector", "summary.why-text")
            assert why.is_displayed() and why.text.strip()
            box = _box(driver, why)
            assert box["width"] >= 280 and box["right"] <= inner
            assert _box(driver, tr)["height"] <= 140  # compact: a few lines, not 200 px of whitespace
        first = rows[0]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", first)
        first.find_element("css selector", "summary.why-text").click()
        command = first.find_element("css selector", "code.cmd")
        assert command.is_displayed() and command.text.startswith(".venv/bin/regcompare run ")
        assert driver.save_screenshot(str(shots / f"differences-{width}.png"))
        first.find_element("css selector", "summary.why-text").click()
        # the conventions' caveats likewise: the table fits, each first caveat visible
        conventions = driver.find_element("id", "conventions-table")
        assert _box(driver, conventions)["right"] <= inner
        caveat = conventions.find_element("css selector", "td.caveats summary")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", caveat)
        assert caveat.is_displayed() and _box(driver, caveat)["width"] >= 150
    finally:
        driver.set_window_size(1600, 1200)


@pytest.mark.parametrize("width", WIDTHS)
def test_new_findings_first_and_the_badge_links_there(driver: Any, doc: dict[str, Any], width: int,
                                                      shots: Path) -> None:
    driver.set_window_size(width, 1000)
    reset(driver)
    try:
        new = driver.find_element("id", "new")
        assert _box(driver, new)["height"] > 0
        top = driver.execute_script("return arguments[0].getBoundingClientRect().top", new)
        assert top < 1000  # on the first screen
        shown = [tr.get_attribute("data-case") for tr in new.find_elements("css selector", "tbody tr")]
        assert shown and len(shown) == sum(1 for r in doc["rows"] if r["status"] in ("mismatch", "error")
                                           and not r["known"])
        for why in new.find_elements("css selector", "summary.why-text"):
            assert why.is_displayed() and _box(driver, why)["width"] >= 280
        assert driver.save_screenshot(str(shots / f"top-{width}.png"))
        driver.find_element("id", "verdict").click()
        assert driver.execute_script("return location.hash") == "#new"
    finally:
        driver.set_window_size(1600, 1200)


def test_pairwise_view_renders(driver: Any, shots: Path) -> None:
    reset(driver)
    section = driver.find_element("id", "pairwise")
    driver.execute_script("arguments[0].scrollIntoView()", section)
    assert section.is_displayed()
    assert driver.save_screenshot(str(shots / "pairwise-1600.png"))


def test_readable_without_javascript(browser_ready: None, page_file: Path, doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="regcompare-chromium-") as profile:
        drv = _driver(profile, javascript=False)
        try:
            drv.get(page_file.as_uri())
            assert len(visible_rows(drv)) == notable(doc)
            assert not drv.find_element("id", "filters").is_displayed()  # controls that would do nothing
            assert drv.find_element("id", "matrix-table").is_displayed()
        finally:
            drv.quit()
