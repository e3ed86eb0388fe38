"""The built book as a reader meets it in Chromium: clean pages, figures and math, a slider that
changes a figure without a kernel, the page list on a phone. Run with `make browser` (after
`make html` or `make book`); screenshots land in _build/browser/."""
import json

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browserbook import SHOTS, book_pages, notebook_pages, open_page, shot_name

PAGES = book_pages()
FIGURE_PAGES = notebook_pages()
SWEEP_PAGE = "book/generated/fig3_sparsity_sweep.html"
HOME = "book/intro.html"
PHONE = {"width": 400, "height": 800}


def test_the_build_has_the_pages_we_test():
    assert HOME in PAGES and SWEEP_PAGE in FIGURE_PAGES, PAGES
    assert len(FIGURE_PAGES) >= 20, FIGURE_PAGES


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_within_the_book_with_a_clean_console(visit, path):
    v = visit(path)
    assert not v.outside, f"{path} requested outside the book: {v.outside}"
    assert not v.failed, f"{path} had failed requests: {v.failed}"
    assert not v.errors, f"{path} logged errors: {v.errors}"


@pytest.mark.parametrize("path", FIGURE_PAGES)
def test_figure_page_tables_are_the_books_own_and_fit_the_column(visit, path):
    tables = visit(path).tables
    assert tables["pandas"] == 0, f"{path} shows {tables['pandas']} pandas table(s) (rows elided)"
    assert not tables["wide"], f"{path}: tables wider than the page, scrolling sideways: {tables['wide']}"


@pytest.mark.parametrize("path", FIGURE_PAGES)
def test_figure_page_shows_its_images_and_typeset_math(visit, path):
    v = visit(path)
    assert v.images, f"{path} shows no image"
    broken = [img["src"] for img in v.images if img["width"] == 0]
    assert not broken, f"{path}: images that did not load: {broken}"
    math = v.math
    if math["nodes"]:
        assert math["mathjax"], f"{path} has math but MathJax did not load"
        assert not math["untypeset"], f"{path}: math left untypeset: {math['untypeset']}"
    assert not math["raw"], f"{path}: TeX left in the text: {math['raw']}"


# The visible images of the page's widgets, each by a hash of its source (blob: or long data:
# URLs).
_SHOWN_JS = """() => [...document.querySelectorAll('.jupyter-widgets img')]
  .filter(i => i.checkVisibility ? i.checkVisibility() : i.offsetParent !== null)
  .map(i => { let h = 5381; for (const c of i.currentSrc) h = (h * 33 + c.charCodeAt(0)) >>> 0;
              return i.currentSrc.length + ':' + h; })"""


def test_sweep_slider_changes_the_figure_without_a_kernel(browser, base_url):
    """The first ipywidgets slider of the sweep page, moved with the keyboard (the saved widget
    state and jslink run in the page; no kernel), shows another image."""
    page, v = open_page(browser, base_url, SWEEP_PAGE)
    try:
        try:
            page.wait_for_selector(".widget-slider", state="attached", timeout=15_000)
        except PlaywrightTimeout:
            pytest.fail(f"{SWEEP_PAGE} has no ipywidgets slider (no saved widget state?)")
        slider = page.locator(".widget-slider").first
        slider.scroll_into_view_if_needed()
        before = page.evaluate(_SHOWN_JS)
        assert before, "the slider's page shows no widget image"
        readout = slider.locator(".widget-readout")
        value_before = readout.first.inner_text() if readout.count() else None
        slider.locator(".noUi-handle, [role=slider]").first.focus()
        changed = False
        for key in ["ArrowRight", "End"]:  # End: a slider that starts at its first value
            page.keyboard.press(key)
            try:
                page.wait_for_function(f"() => JSON.stringify(({_SHOWN_JS})()) !== {json.dumps(json.dumps(before))}"
                                       " && (" + _SHOWN_JS + ")().length > 0", timeout=5_000)
                changed = True
                break
            except PlaywrightTimeout:
                continue
        page.screenshot(path=SHOTS / "slider-moved.png")
        value_after = readout.first.inner_text() if readout.count() else None
        assert changed, (f"moving the slider ({value_before!r} -> {value_after!r}) left the image "
                         f"as it was (or hid it)")
        assert not v.errors, v.errors
    finally:
        page.close()


def test_page_list_opens_on_a_phone(browser, base_url):
    page, v = open_page(browser, base_url, HOME, viewport=PHONE)
    try:
        sidebar = page.locator("#pst-primary-sidebar, .bd-sidebar-primary").first
        links = sidebar.locator("nav a")
        assert not sidebar.is_visible() or (sidebar.bounding_box() or {}).get("x", 0) < 0, \
            "the page list should start closed at 400 px"
        toggles = [t for t in page.locator(".primary-toggle").all() if t.is_visible()]
        assert len(toggles) == 1, f"expected one visible page-list button, found {len(toggles)}"
        toggles[0].click()
        try:
            page.wait_for_function(
                """() => { const s = document.querySelector('#pst-primary-sidebar, .bd-sidebar-primary');
                           const r = s.getBoundingClientRect();
                           return r.left >= 0 && r.width > 0 && getComputedStyle(s).visibility !== 'hidden'; }""",
                timeout=5000)
        except PlaywrightTimeout:
            page.screenshot(path=SHOTS / "page-list-400px.png")
            pytest.fail("the page list did not open within 5 s of clicking its button (at 400 px)")
        page.wait_for_timeout(400)  # the slide-in transition
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / "page-list-400px.png")
        shown = [a for a in links.all() if a.is_visible()]
        assert len(shown) >= 5, f"the open page list shows {len(shown)} links"
        assert not v.errors, v.errors
    finally:
        page.close()


def test_one_search_box(browser, base_url):
    """pydata-sphinx-theme 0.17 added an empty second search box to the top bar."""
    page, _ = open_page(browser, base_url, HOME)
    try:
        boxes = [b for b in page.locator(".search-button-field, input[type=search]").all()
                 if b.is_visible()]
        assert len(boxes) == 1, f"{len(boxes)} search boxes in view at desktop width"
    finally:
        page.close()


def test_every_page_has_a_desktop_screenshot(visit):
    for path in PAGES:
        visit(path)  # already visited by the tests above, unless a subset was selected
        assert (SHOTS / "desktop" / shot_name(path)).stat().st_size > 0, path


def test_search_finds_pages(browser, base_url):
    """The search box opens the theme's search dialog, and Sphinx's search (a local index) lists
    the pages that name the word."""
    page, _ = open_page(browser, base_url, HOME)
    try:
        [b for b in page.locator(".search-button-field").all() if b.is_visible()][0].click()
        field = page.locator("input[name=q]:visible").first
        field.fill("ticket")
        field.press("Enter")
        page.wait_for_url("**/search.html*", wait_until="load")
        page.wait_for_selector("#search-results li a", timeout=15_000)
        assert page.locator("#search-results li").count() >= 3
    finally:
        page.close()
