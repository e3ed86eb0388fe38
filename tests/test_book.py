"""The book's sources agree with each other, and the notebooks follow the house rules."""
import ast
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_MANIFEST = yaml.safe_load((ROOT / "book" / "manifest.yml").read_text())
MANIFEST = _MANIFEST["pages"]
PENDING = _MANIFEST.get("pending", [])
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REGISTERS = re.compile(r"^@(TASKS|MODELS)\.register\(", re.MULTILINE)


def _toc_files(entries):
    for entry in entries:
        if "file" in entry:
            yield entry["file"]
        yield from _toc_files(entry.get("chapters", []) + entry.get("sections", []))


def test_every_manifest_page_is_in_the_toc_and_its_notebook_exists():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = set(_toc_files(toc["chapters"]))
    for page in MANIFEST:
        assert f"book/generated/{page['output']}" in files, page["output"]
        assert (ROOT / "notebooks" / page["notebook"]).exists(), page["notebook"]
        assert page["figures"], page["output"]


def test_every_notebook_is_in_the_manifest():
    listed = {page["notebook"] for page in MANIFEST + PENDING}
    assert {nb.name for nb in NOTEBOOKS} <= listed
    for entry in PENDING:
        assert (ROOT / "notebooks" / entry["notebook"]).exists() and entry["figures"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_shape(path):
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(params[0]["source"]))
    for node in tree.body:  # plain literals only, so papermill can override every one
        assert isinstance(node, ast.Assign), ast.dump(node)
        ast.literal_eval(node.value)
    assert "scale" in {t.id for node in tree.body for t in node.targets}
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            assert "pip install" not in source
            assert not cell.get("outputs") or "NBVAL_CHECK_OUTPUT" in source, \
                "committed notebooks keep only the outputs that nbval checks"
            if REGISTERS.search(source):  # a page's own task or model (own_task.ipynb): the one
                # class a notebook may define, a short registered dataclass
                assert source.count("\nclass ") == 1 and len(source.splitlines()) <= 45, source
                continue
            assert "def " not in source and "class " not in source, "logic belongs in gtlib"
            if cell is not params[0]:  # logic belongs in gtlib.figures: a cell only calls it
                assert len(source.strip().splitlines()) <= 8, source
