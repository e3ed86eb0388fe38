"""The book's pages as code sees them: the manifest (book/manifest.yml), the figure family behind
each notebook, and a page's checks computed as its notebook computes them, without Jupyter."""
from __future__ import annotations

import ast
import json
import time

import yaml

from .claims import verdicts
from .figures import FAMILIES
from .paths import REPO_ROOT

MANIFEST = REPO_ROOT / "book" / "manifest.yml"
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = {family.NOTEBOOK: family for family in FAMILIES.values()}  # notebook -> its family


def manifest() -> list[dict]:
    """Every page of the book, in the book's order."""
    return yaml.safe_load(MANIFEST.read_text())["pages"]


def notebook_defaults(notebook: str) -> dict:
    """The values of a notebook's cell tagged ``parameters`` (plain literals, tests/test_book.py)."""
    cells = json.loads((NOTEBOOK_DIR / notebook).read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))
    return {target.id: ast.literal_eval(node.value) for node in ast.parse(source).body
            for target in node.targets}


def with_claims(scale: str | None = None) -> list[dict]:
    """The pages whose claims `python -m gtlib claims` checks: every page of the manifest with claims
    and, at the quick scale, each notebook at its own defaults (what nbval executes) where no page has
    those parameters, the scale aside: fig2_tasks.ipynb's single seed, say, named by its file name."""
    pages = [page for page in manifest() if page.get("claims", True)]  # not the explorer's
    if scale != "quick":
        return pages
    defaults = {notebook: notebook_defaults(notebook) for notebook in NOTEBOOKS}
    as_pages = {page["notebook"] for page in pages if all(
        defaults[page["notebook"]].get(k) == v for k, v in page.get("parameters", {}).items() if k != "scale")}
    return pages + [{"output": notebook, "notebook": notebook, "parameters": defaults[notebook]}
                    for notebook in NOTEBOOKS if notebook not in as_pages]


def defaults_output(notebook: str) -> str:
    """The output name under which `with_claims` ("quick") checks ``notebook`` at its own defaults:
    the first page with exactly those parameters (the scale aside), else the notebook's file name."""
    defaults = notebook_defaults(notebook)
    for page in manifest():
        if page["notebook"] == notebook and page.get("claims", True) and all(
                defaults.get(k) == v for k, v in page.get("parameters", {}).items() if k != "scale"):
            return page["output"]
    return notebook


def set_checked_output(notebook: str, text: str) -> bool:
    """Make the output of ``notebook``'s cell marked ``NBVAL_CHECK_OUTPUT`` (what nbval compares)
    ``text``; True if it changed."""
    path = NOTEBOOK_DIR / notebook
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "NBVAL_CHECK_OUTPUT" in "".join(c["source"]))
    lines = (text + "\n").splitlines(keepends=True)
    new = [{"name": "stdout", "output_type": "stream", "text": lines}]
    if cell["outputs"] == new:
        return False
    cell["outputs"] = new
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return True


def parameters(page: dict, scale: str | None = None) -> dict:
    """A page's parameters at ``scale`` (default: its own): the manifest's ``parameters``, with the
    scale replaced where given and, at the quick scale, the page's ``quick`` overrides (fewer seeds
    where the quick runs of five would make CI too long)."""
    given = {**page.get("parameters", {}), **({"scale": scale} if scale else {})}
    if given.get("scale", "quick") == "quick":
        given.update(page.get("quick", {}))
    return given


def page_checks(page: dict, scale: str | None = None, device: str | None = None, progress: bool = False):
    """The checks of one manifest page, computed as its notebook computes them: the page's
    parameters (``scale`` replaced where given) make its family's ``Params``; ``device``, which its
    notebook passes to ``runs`` beside them, may be one of them too."""
    family = NOTEBOOKS[page["notebook"]]
    given = parameters(page, scale)
    device = device or given.get("device", "auto")
    params = family.Params.build({k: v for k, v in given.items() if k != "device"})
    return family.checks(family.runs(params, device=device, progress=progress), params)


def page_verdicts(page: dict, scale: str | None = None, device: str | None = None) -> tuple[list[dict], float]:
    """The verdicts of one page (`gtlib.claims.verdicts`) at ``scale`` (default: the page's), and
    the seconds they took (training what was missing included)."""
    start = time.perf_counter()
    found = verdicts(page_checks(page, scale, device), scale or page.get("parameters", {}).get("scale", "quick"))
    return found, time.perf_counter() - start


def one_thread() -> None:
    """Start-up of a process that checks pages beside another: one torch thread, so that two such
    processes share two cores without oversubscribing them."""
    import torch
    torch.set_num_threads(1)
