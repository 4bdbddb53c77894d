"""The manual (mkdocs.yml, docs/) builds with ``mkdocs build --strict`` — a broken link, anchor or API
reference fails — and the built site works offline in headless Chromium: every page of the
navigation is reached by clicking through it, no request leaves the machine, and the search box
finds a parameter name (`tau`).

The site is served from a local HTTP server on 127.0.0.1 (the search index is fetched by a web
worker, which a file:// page may not do); every other request is blocked and recorded.
"""

import contextlib
import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from test_report import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, _browser

MKDOCS = Path(sys.executable).parent / "mkdocs"


def navigation(entries) -> list[tuple[str, str]]:
    """``(title, page)`` of every page in mkdocs.yml's ``nav``, sections flattened, in order."""
    pages = []
    for entry in entries:
        ((title, target),) = entry.items()
        pages += navigation(target) if isinstance(target, list) else [(title, target)]
    return pages


NAV = navigation(yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"])


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    """The manual built with --strict into a temporary folder."""
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return site


def test_the_manual_builds_strict_with_every_page_and_figure(built_site):
    for _, page in NAV:
        assert (built_site / page.replace(".md", ".html")).stat().st_size > 5_000, page
    reference = (built_site / "configuration-reference.html").read_text()
    assert "target_neighbours" in reference  # config/README.md's generated tables, served as a page
    assert "select_subset" in (built_site / "api.html").read_text()  # the API, from the docstrings
    for figure in ("active_digits.png", "default_run_test_acc.png"):
        assert (built_site / "figures" / figure).read_bytes()[:4] == b"\x89PNG"
    pages = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").glob("*.md")}
    assert pages | {"configuration-reference.md"} == {page for _, page in NAV}  # no page left out of the nav


def test_the_built_site_asks_for_nothing_outside_it(built_site):
    """Offline by construction: no page loads a font, script or style from another host."""
    for page in built_site.rglob("*.html"):
        text = page.read_text()
        for attribute in ("src=", "href="):
            for quote in ('"', "'"):
                assert f"{attribute}{quote}http" not in text.replace('href="http://127.0.0.1', ""), page.name


@contextlib.contextmanager
def _served(folder: Path):
    """``folder`` served over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def test_every_page_is_reached_through_the_navigation_and_search_finds_tau(built_site):
    sync_playwright = _browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _served(built_site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        blocked = []

        def local_only(route):
            if route.request.url.startswith((base, "data:", "blob:")):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", local_only)
            page.goto(f"{base}/index.html")
            reached = []
            for title, target in NAV:
                # The primary navigation of the sidebar; sections are expanded on wide screens.
                link = page.locator("nav.md-nav--primary a.md-nav__link", has_text=title).first
                link.click()
                page.wait_for_url(f"**/{target.replace('.md', '.html')}")
                assert page.locator("article h1").first.inner_text().strip(), target
                reached.append(target)
            assert reached == [target for _, target in NAV]

            page.goto(f"{base}/index.html")
            search = page.locator("input.md-search__input")  # in the header on a wide screen
            search.click()
            search.press_sequentially("tau", delay=100)  # typed: the search listens to key events
            results = page.locator(".md-search-result__item")
            results.first.wait_for(timeout=20_000)
            assert results.count() > 0
            listed = page.locator(".md-search-result").inner_text()
            assert "tau" in listed.lower()
            hrefs = [results.nth(i).locator("a").first.get_attribute("href") for i in range(results.count())]
            assert any("configuration-reference.html" in h for h in hrefs), hrefs
            page.screenshot(path=str(ARTIFACTS / "docs_search_tau.png"))
        finally:
            browser.close()
    assert not blocked, f"the site asked for outside resources: {blocked[:5]}"
