"""report.html in a real browser: Debian's headless Chromium through selenium (no browser download).

Locally the test skips, with the reason, when Chromium or its driver is missing (`make browser`
installs them); in CI (CI=true) a missing browser is a failure.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regcompare import report
from tests.test_report import make_doc, sources_of

ROOT = Path(__file__).parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = ROOT / "reports" / "report-screenshot.png"
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
            return f"{path} is missing: run `make browser` (tools/install-chromium.sh)"
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


def test_screenshot(driver: Any) -> None:
    reset(driver)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1600, min(height, 6000))
    assert driver.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000


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
