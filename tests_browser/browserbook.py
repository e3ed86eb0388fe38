"""Helpers and fixtures for the browser tests: the built book (`_build/html`) opened in headless
Chromium through Playwright.

One local HTTP server and one browser serve every test of the session. Each page is opened once at
desktop width (`visit`); the tests read what that visit recorded. `BOOK_HTML` points the tests at
another build. Screenshots go to `browser/` beside it (`_build/browser/`).
"""
import functools
import http.server
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import chromium

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html")).resolve()
SHOTS = HTML.parent / "browser"  # _build/browser beside _build/html
DESKTOP = {"width": 1280, "height": 900}
LOAD_TIMEOUT_MS = 30_000
# Other hosts fail at once (no DNS wait); the request is still recorded and the test fails on it.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]


def book_pages(html=HTML):
    """Every HTML page of the build, relative to its root (not the theme's or Sphinx's own files)."""
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if not p.relative_to(html).parts[0].startswith("_"))


def notebook_pages(html=HTML):
    """Pages built from a notebook (figure pages): those whose source Sphinx copied is an .ipynb."""
    sources = html / "_sources"
    return sorted(page for page in book_pages(html)
                  if (sources / Path(page).with_suffix(".ipynb")).exists())


def is_redirect(path, html=HTML):
    """A page that only forwards the reader elsewhere (`<meta http-equiv="Refresh">`)."""
    head = (html / path).read_text(encoding="utf-8", errors="replace")[:2000].lower()
    return 'http-equiv="refresh"' in head


def pytest_sessionstart(session):
    if not (HTML / "index.html").exists():
        raise pytest.UsageError(f"no built book at {HTML}: run `make html` (or `make book`) first")
    if not chromium.find()[0]:
        raise pytest.UsageError("no Chromium: `python tests_browser/chromium.py` finds or installs one "
                                "(make test and make browser run it first)")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def base_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Quiet, directory=str(HTML)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright
    path, is_system = chromium.find()  # before the session: Playwright's sync API does not nest
    with sync_playwright() as p:  # Playwright's own build is launched without a path
        b = p.chromium.launch(executable_path=path if is_system else None, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Visit:
    """What one page did while it loaded."""
    path: str
    url: str = ""
    outside: list = field(default_factory=list)    # requests that left the book
    failed: list = field(default_factory=list)     # requests that failed or answered >= 400
    errors: list = field(default_factory=list)     # console errors and uncaught exceptions
    math: dict = field(default_factory=dict)
    images: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    seconds: float = 0.0


def open_page(browser, base_url, path, viewport=DESKTOP):
    """A new page at `viewport` with listeners that fill a `Visit`; then loads `path`."""
    page = browser.new_page(viewport=viewport)
    visit = Visit(path)

    def on_request(request):
        if not request.url.startswith((base_url, "data:", "blob:", "about:")):
            visit.outside.append(request.url)

    def on_response(response):
        if response.status >= 400:
            visit.failed.append(f"{response.status} {response.url}")

    def on_console(msg):
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            visit.errors.append(f"console: {msg.text} ({where})")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", lambda r: visit.failed.append(f"{r.failure} {r.url}"))
    page.on("console", on_console)
    page.on("pageerror", lambda exc: visit.errors.append(f"pageerror: {exc}"))
    start = time.perf_counter()
    page.goto(base_url + path, wait_until="load", timeout=LOAD_TIMEOUT_MS)
    if is_redirect(path):  # the root index.html: wait until the page it points to has loaded
        page.wait_for_url(lambda url: url != base_url + path, wait_until="load",
                          timeout=LOAD_TIMEOUT_MS)
        page.wait_for_load_state("load")
    settle(page)
    visit.url = page.url
    visit.seconds = time.perf_counter() - start
    return page, visit


# MathJax typesets after `load`; widgets render from their saved state after require.js loads
# the manager. Wait for both, then a moment for late console messages.
_SETTLE_JS = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
  const t0 = performance.now();
  while (views.length && !document.querySelector('.jupyter-widgets')
         && performance.now() - t0 < 15000) await new Promise(r => setTimeout(r, 100));
}"""

# Typeset math: every math node Sphinx/MyST wrote has MathJax output, and no text outside code
# still holds TeX delimiters ($...$, \\(...\\), \\[...\\]).
MATH_JS = r"""() => {
  const nodes = [...document.querySelectorAll('.bd-article span.math, .bd-article div.math')];
  const untypeset = nodes.filter(n => !n.querySelector('mjx-container')).map(n => n.textContent.slice(0, 80));
  const raw = [];
  const walker = document.createTreeWalker(document.querySelector('.bd-article') || document.body,
                                           NodeFilter.SHOW_TEXT);
  const tex = /\$[^$\s][^$]*\$|\\\(|\\\[/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('pre, code, script, style, textarea, mjx-container, .highlight')) continue;
    if (tex.test(n.textContent)) raw.push(n.textContent.trim().slice(0, 80));
  }
  return {nodes: nodes.length, typeset: document.querySelectorAll('mjx-container').length,
          untypeset, raw, mathjax: !!window.MathJax};
}"""

# Images of the article (figures, and widget images): load lazy ones too, then read their sizes.
IMAGES_JS = """async () => {
  const imgs = [...document.querySelectorAll('.bd-article img')];
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return imgs.map(i => ({src: i.currentSrc.startsWith('data:') ? i.currentSrc.slice(0, 40) : i.currentSrc,
                         width: i.naturalWidth, alt: i.alt}));
}"""


# Tables: pandas' own (class "dataframe", which elides rows past its display limit) and any table
# wider than what holds it or reaching past the article column (cut off, or scrolled sideways).
TABLES_JS = """() => {
  const article = document.querySelector('.bd-article') || document.body;
  const tables = [...article.querySelectorAll('table')];
  const right = article.getBoundingClientRect().right;
  const wide = tables.filter(t => t.scrollWidth > t.parentElement.clientWidth + 1
                                  || t.getBoundingClientRect().right > right + 1)
                     .map(t => (t.querySelector('th, td') || t).textContent.trim().slice(0, 60));
  return {count: tables.length, pandas: article.querySelectorAll('table.dataframe').length, wide};
}"""


def settle(page):
    page.evaluate(_SETTLE_JS)
    page.wait_for_timeout(200)


def shot_name(path, suffix=""):
    return path.replace("/", "__").removesuffix(".html") + suffix + ".png"


@pytest.fixture(scope="session")
def visit(browser, base_url):
    """visit(path) -> Visit: opens the page once at desktop width, screenshots the whole page
    into _build/browser/desktop/, and records requests, errors, math and images."""
    cache = {}
    (SHOTS / "desktop").mkdir(parents=True, exist_ok=True)

    def _visit(path):
        if path not in cache:
            page, v = open_page(browser, base_url, path)
            try:
                v.math = page.evaluate(MATH_JS)
                v.images = page.evaluate(IMAGES_JS)
                v.tables = page.evaluate(TABLES_JS)
                page.screenshot(path=SHOTS / "desktop" / shot_name(path), full_page=True)
            finally:
                page.close()
            cache[path] = v
        return cache[path]

    return _visit
