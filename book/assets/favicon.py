"""Render book/assets/favicon.svg into book/assets/root/favicon.ico (16, 32 and 48 px).

Pages name the SVG icon; browsers still ask the site root for /favicon.ico (the root index.html
only redirects), so the build copies root/ there (`html_extra_path` in _config.yml). Rerun after
changing the SVG: .venv/bin/python book/assets/favicon.py (needs Debian's chromium).
"""
import io
import shutil
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent


def main():
    svg = (HERE / "favicon.svg").read_text()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 256, "height": 256})
        page.set_content(f'<body style="margin:0">{svg.replace("<svg ", "<svg width=256 height=256 ", 1)}</body>')
        png = page.screenshot(omit_background=True)
        browser.close()
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    out = HERE / "root" / "favicon.ico"
    out.parent.mkdir(exist_ok=True)
    image.save(out, format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    print(out, out.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
