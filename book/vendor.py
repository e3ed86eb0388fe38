"""The JavaScript the HTML book needs to render math and saved widget state offline, committed in
book/assets/vendor/ so that building the book needs neither npm nor the network.

    python book/vendor.py            # fetch the pinned versions again and rewrite the folder
    python book/vendor.py --check    # every file of the MANIFEST present with its sha256

What the folder holds (about 9 MB; the licences, MIT, Apache-2.0 and BSD-3-Clause, allow copying):

    mathjax/        MathJax 3: es5/tex-mml-chtml.js, its CHTML woff-v2 fonts and the TeX
                    extensions it autoloads (LICENSE beside them)
    requirejs/      require.js, the AMD loader the widget manager needs (licence in its header)
    html-manager/   @jupyter-widgets/html-manager's embed-amd.js (+ the licences of what it bundles)
                    and its Font Awesome fonts
    requirejs-paths.js, widgets-mathjax3-shim.js   two small shims, written here (see below)
    MANIFEST        the pinned versions, then "sha256  path" for every file

Fetching reads the tarballs straight from the npm registry over HTTPS and checks each against the
sha512 integrity the registry publishes, so even a refresh needs no npm. `_config.yml` wires the
folder in (`html_static_path`, `mathjax_path`, `nb_ipywidgets_js`).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

VENDOR = Path(__file__).resolve().parent / "assets" / "vendor"
MANIFEST = VENDOR / "MANIFEST"
REGISTRY = "https://registry.npmjs.org"
LAYOUT = 3  # bump when the selection of files or the shims change

# name -> (version, sha512 integrity as the registry publishes it). html-manager 1.0.x speaks widget
# protocol 2 (ipywidgets 8.x); 1.0.15 matches ipywidgets 8.1.9.
PACKAGES = {
    "mathjax": ("3.2.2", "Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="),
    "requirejs": ("2.3.8", "7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw=="),
    "@jupyter-widgets/html-manager": ("1.0.15", "5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA=="),
}
FONTS = (".woff2", ".woff", ".ttf", ".svg", ".eot")


def stamp() -> str:
    return " ".join(f"{name}@{version}" for name, (version, _) in PACKAGES.items()) + f" layout@{LAYOUT}"


# Which files of each tarball go where: tarball path (under package/) -> folder path.
def select(name: str, path: str) -> str | None:
    if name == "mathjax":
        if path == "LICENSE":
            return "mathjax/LICENSE"
        if path == "es5/tex-mml-chtml.js":
            return "mathjax/tex-mml-chtml.js"
        for part in ("es5/output/chtml/fonts/woff-v2/", "es5/input/tex/extensions/"):
            if path.startswith(part):
                return "mathjax/" + path.removeprefix("es5/")
    elif name == "requirejs" and path == "require.js":
        return "requirejs/require.js"
    elif name == "@jupyter-widgets/html-manager" and path.startswith("dist/") and path.count("/") == 1:
        file = path.removeprefix("dist/")
        if file in ("embed-amd.js", "embed.js.LICENSE.txt") or file.endswith(FONTS):
            return "html-manager/" + file
    return None


# The widget bundle asks for its fonts at a URL computed from its require.js module id,
# page-relative ("@jupyter-widgets/html-manager/dist/<hash>.woff2"), which 404s on every page below
# the root; this maps that id onto the folder, so the fonts are found wherever the page lies.
REQUIREJS_PATHS = """/* Written by book/vendor.py: the widget bundle's fonts are found beside it, on any page. */
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  requirejs.config({paths: {"@jupyter-widgets/html-manager/dist": here + "html-manager"}});
})();
"""

# @jupyter-widgets/base 6 typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue), which
# throws on pages that load MathJax 3; this maps it onto MathJax 3. Loaded before require.js, only
# on pages with widget state (`nb_ipywidgets_js` in _config.yml); widgets render on window "load", after it runs.
MATHJAX3_SHIM = """/* Written by book/vendor.py: lets @jupyter-widgets (MathJax 2 API) typeset with MathJax 3. */
(function () {
  function install() {
    var MJ = window.MathJax;
    if (!MJ || MJ.Hub || !MJ.version || String(MJ.version).charAt(0) !== "3") return;
    MJ.Hub = {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
            (function (el) {
              var ready = (MJ.startup && MJ.startup.promise) || Promise.resolve();
              ready.then(function () {
                return MJ.typesetPromise ? MJ.typesetPromise([el]) : null;
              }).catch(function (err) { console.warn("MathJax typeset failed:", err); });
            })(job[2]);
          }
        }
      }
    };
  }
  install();
  document.addEventListener("DOMContentLoaded", install);
})();
"""


def fetch(name: str) -> bytes:
    """The package's tarball from the registry, checked against its published sha512."""
    version, integrity = PACKAGES[name]
    url = f"{REGISTRY}/{name}/-/{name.rpartition('/')[2]}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    if base64.b64encode(hashlib.sha512(data).digest()).decode() != integrity:
        raise SystemExit(f"vendor.py: {url} does not match its published sha512")
    return data


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write() -> None:
    """Fetch every package and replace the folder by renames on its own filesystem (a failure
    leaves the old one)."""
    with tempfile.TemporaryDirectory(dir=VENDOR.parent, prefix=".vendor-") as tmp:
        stage = Path(tmp) / "vendor"
        for name in PACKAGES:
            with tarfile.open(fileobj=io.BytesIO(fetch(name)), mode="r:gz") as tar:
                for member in tar.getmembers():
                    target = select(name, member.name.removeprefix("package/"))
                    if member.isfile() and target:
                        (stage / target).parent.mkdir(parents=True, exist_ok=True)
                        (stage / target).write_bytes(tar.extractfile(member).read())
        (stage / "requirejs-paths.js").write_text(REQUIREJS_PATHS)
        (stage / "widgets-mathjax3-shim.js").write_text(MATHJAX3_SHIM)
        files = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())
        (stage / "MANIFEST").write_text(f"# {stamp()}\n" + "".join(f"{sha256(stage / f)}  {f}\n"
                                                                   for f in files))
        old = Path(tmp) / "old"
        if VENDOR.exists():
            os.replace(VENDOR, old)  # removed with the temporary folder
        os.replace(stage, VENDOR)
    print(f"vendor.py: wrote {len(files)} files of {stamp()} to {VENDOR}")


def problems() -> list[str]:
    """What is wrong with the committed folder: an old stamp, a missing, changed or unlisted file."""
    if not MANIFEST.exists():
        return [f"{MANIFEST} is missing"]
    first, *lines = MANIFEST.read_text().splitlines()
    found = [] if first == f"# {stamp()}" else [f"MANIFEST is of {first[2:]!r}, not {stamp()!r}"]
    listed = {}
    for line in lines:
        digest, _, rel = line.partition("  ")
        listed[rel] = digest
        path = VENDOR / rel
        if not path.is_file():
            found.append(f"{rel} is missing")
        elif sha256(path) != digest:
            found.append(f"{rel} differs from its sha256 in MANIFEST")
    extra = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()} - {*listed, "MANIFEST"}
    return found + [f"{rel} is not in MANIFEST" for rel in sorted(extra)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the committed folder, fetch nothing")
    if parser.parse_args().check:
        wrong = problems()
        for line in wrong:
            print(f"vendor.py: {line}", file=sys.stderr)
        if wrong:
            raise SystemExit("vendor.py: run `python book/vendor.py` to fetch the pinned files again")
        print(f"vendor.py: {VENDOR} holds every file of {stamp()}")
    else:
        write()


if __name__ == "__main__":
    main()
