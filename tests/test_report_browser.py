"""The compliance pages in a real browser: Debian's Chromium, headless, driven by Selenium through Debian's
chromium-driver (the Makefile installs both with apt-get).  One test with a subtest per page and check, so
that one browser session (module-scoped) serves them all whatever the test workers.

Each product's page and the catalog page, in a 1280x800 window: nothing is wider than the window, every
link of the summary lands on its evidence section, and loading the page makes no request besides the
file itself (Chrome's performance log records every request the page makes: Network.requestWillBeSent).
ChromeDriver's capabilities and logs: https://developer.chrome.com/docs/chromedriver/capabilities and
https://developer.chrome.com/docs/chromedriver/logging/performance-log; the viewport is set with the
DevTools protocol's Emulation.setDeviceMetricsOverride
(https://chromedevtools.github.io/devtools-protocol/tot/Emulation/#method-setDeviceMetricsOverride).

``REPORT_SCREENSHOT=docs/compliance-report.png`` makes the test of the web server's page save the top of
it there (the picture in the README).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from generator.compliance import pdf
from products.registry import REGISTRY

WIDTH, HEIGHT = 1280, 800
PAGES = [*REGISTRY, "catalog"]
NO_BROWSER = ("Chromium or chromedriver is not installed: `make test` installs Debian's chromium and "
              "chromium-driver with apt-get, which failed or is not available here")


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (`make venv`)")
    from selenium.webdriver.chrome.service import Service

    exe, driver = pdf.chromium(), shutil.which("chromedriver")
    if not exe or not driver:
        pytest.skip(NO_BROWSER)
    options = webdriver.ChromeOptions()
    options.binary_location = exe
    profile = tempfile.mkdtemp(prefix="hipaa-catalog-browser-test-")
    for flag in (*pdf.FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    session = webdriver.Chrome(service=Service(driver), options=options)
    try:
        session.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
        yield session
    finally:
        session.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _page(report_build: Path, name: str) -> Path:
    return report_build / "index.html" if name == "catalog" else next(report_build.glob(f"{name}/*/compliance.html"))


def _open(browser, page: Path) -> list[str]:
    """Load ``page``; the URLs of every request loading it made."""
    browser.get("about:blank")
    browser.get_log("performance")   # drop what came before
    browser.get(page.as_uri())
    sent = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            sent.append(message["params"]["request"]["url"])
    return sent


def test_the_pages_in_a_real_browser(browser, report_build, subtests):
    """One test, so that one browser session (and one worker) serves every page; a subtest per check."""
    for name in PAGES:
        with subtests.test("fits 1280 pixels and makes no request", page=name):
            _fits_and_makes_no_request(browser, _page(report_build, name), shoot=name == "healthcare-web-server")
    for name in REGISTRY:
        with subtests.test("every summary link lands on its evidence section", page=name):
            _summary_links_land(browser, _page(report_build, name))
    with subtests.test("every catalog link lands on the product's evidence section"):
        _catalog_links_land(browser, _page(report_build, "catalog"))


def _fits_and_makes_no_request(browser, page: Path, shoot: bool) -> None:
    sent = _open(browser, page)
    assert [u for u in sent if u != page.as_uri()] == []
    width, client, inner = browser.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]")
    assert inner == WIDTH and width <= client, f"{page}: {width} px wide in a {client} px window"
    wide = browser.execute_script(
        "return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
        "document.documentElement.clientWidth + 1).map(e => e.tagName + ' ' + e.textContent.slice(0, 60))")
    assert wide == []
    text = page.read_text()
    assert "default-src 'none'" in text and "@media print" in text
    if shoot and os.environ.get("REPORT_SCREENSHOT"):
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "clip": {"x": 0, "y": 0, "width": WIDTH, "height": HEIGHT, "scale": 0.6}})
        Path(os.environ["REPORT_SCREENSHOT"]).write_bytes(base64.b64decode(shot["data"]))


def _summary_links_land(browser, page: Path) -> None:
    _open(browser, page)
    results = browser.execute_script("""
        const out = [];
        for (const a of document.querySelectorAll('table.summary a[href^="#"]')) {
          // at the top, and not already at the link's fragment (clicking to the fragment one is at does not
          // scroll): a fresh click.  Only then is the fragment dropped, each history change costing the
          // browser a few milliseconds
          if (location.hash === a.getAttribute('href')) history.replaceState(null, '', location.pathname);
          window.scrollTo(0, 0);
          a.click();
          const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
          const top = target ? target.getBoundingClientRect().top : null;
          out.push([a.textContent, a.getAttribute('href'), location.hash, target ? target.tagName : null,
                    target ? (target.cells ? target.cells[0] : target).textContent.trim() : null,
                    top !== null && top > -1 && top < window.innerHeight]);
        }
        return out;""")
    assert len(results) >= len(REGISTRY), results
    # scroll positions are whole pixels: a target scrolled to the top may sit a fraction above it
    for text, href, landed, tag, first_word, visible in results:
        assert landed == href, (text, href, landed)
        assert tag in ("H3", "TR") and first_word == text, (text, href, tag, first_word)   # its rule's section
        assert visible, (text, href)


def _catalog_links_land(browser, page: Path) -> None:
    _open(browser, page)
    links = browser.execute_script(
        "return [...document.querySelectorAll('table.summary a')].map(a => [a.textContent, a.href])")
    assert links
    # each product's page is loaded once; its fragments are then gone to in that page, as a link to the
    # page's own URL with another fragment goes (a navigation within the document)
    pages: dict[str, list[tuple[str, str]]] = {}
    for text, url in sorted(links, key=lambda x: x[1]):
        page, _, fragment = url.partition("#")
        pages.setdefault(page, []).append((text, "#" + fragment))
    for page, targets in pages.items():
        browser.get(page)
        landed = browser.execute_script("""
            return arguments[0].map(([text, fragment]) => {
              if (location.hash === fragment) history.replaceState(null, '', location.pathname);
              window.scrollTo(0, 0);
              location.hash = fragment;
              const t = document.getElementById(decodeURIComponent(location.hash.slice(1)));
              const r = t ? t.getBoundingClientRect() : null;
              return [t ? (t.cells ? t.cells[0] : t).textContent.trim() : null,
                      !!r && r.top > -1 && r.top < window.innerHeight];
            });""", targets)
        for (text, fragment), got in zip(targets, landed):
            assert got == [text, True], page + fragment


def test_a_page_prints_to_pdf(report_build):
    if not pdf.chromium():
        pytest.skip(NO_BROWSER)
    out = pdf.print_pdf(_page(report_build, "catalog"), report_build / "index.pdf")
    assert out.read_bytes()[:5] == b"%PDF-"
