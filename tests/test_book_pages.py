"""How `book/execute.py` turns an executed notebook into a page a reader enjoys: the strip under the
title, code folded, test plumbing out of view, alt text on figures, and the summary's rows."""
import importlib.util
import json
import shlex
from pathlib import Path

import nbformat
import pytest
import yaml

from gtlib import claims

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("book_execute", ROOT / "book" / "execute.py")
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)


def _cells():
    v4 = nbformat.v4
    image = v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
                          metadata={"image/png": {"alt": "test accuracy against step", "width": 500}})
    return [v4.new_markdown_cell("# Title\n\nThe claim."),
            v4.new_code_cell('scale = "quick"', metadata={"tags": ["parameters"]}),
            v4.new_code_cell('scale = "paper"', metadata={"tags": ["injected-parameters"]}),
            v4.new_code_cell("fig = family.plot(result, params)", outputs=[image]),
            v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nclaims.record(checks, scale)"),
            v4.new_markdown_cell("## Settings"),
            v4.new_code_cell("_report.strip(result, 'papermill ...')", metadata={"tags": [execute.STRIP_TAG]})]


def test_a_page_shows_the_strip_first_hides_code_and_removes_test_plumbing():
    cells = execute.for_reading(_cells(), note="A note on settings.")
    assert [c.source.splitlines()[0] for c in cells[:4]] == [
        "# Title", "_report.strip(result, 'papermill ...')", "The claim.", "A note on settings."]
    tags = {c.source.splitlines()[0]: c.metadata.get("tags", []) for c in cells}
    assert "remove-input" in tags["_report.strip(result, 'papermill ...')"]
    assert "remove-cell" in tags['scale = "quick"'] and "remove-cell" in tags['scale = "paper"']
    assert "remove-cell" in tags["# NBVAL_CHECK_OUTPUT"]
    assert tags["fig = family.plot(result, params)"] == ["hide-input"]
    figure = next(c for c in cells if c.source.startswith("fig ="))
    assert figure.metadata["mystnb"]["image"]["alt"] == "test accuracy against step"


def test_the_regenerate_command_keeps_every_parameter_and_its_type():
    page = {"output": "fig2c_operations", "notebook": "fig2_tasks.ipynb",
            "parameters": {"scale": "paper", "ops": ["add", "x2y2"], "seeds": [0, 1, 2], "figure": "Fig 2c"}}
    words = shlex.split(execute.command(page))
    assert words[:3] == ["papermill", "notebooks/fig2_tasks.ipynb", "fig2c_operations.ipynb"]
    given, rest = {}, iter(words[3:])
    for flag in rest:  # as papermill reads them: -p NAME VALUE (a string here), -y YAML
        given.update({next(rest): next(rest)} if flag == "-p" else yaml.safe_load(next(rest)))
    assert given == page["parameters"]


def verdict(claim_id: str, per_seed: list[float], figure: str = "Fig 1") -> dict:
    """The verdict of a literal claim "x < 1" (a ratio of times) with these per-seed values."""
    rule = claims.Rule("x", "<", 1, "time")
    found = claims.Claim(claim_id, figure, f"claim {claim_id}", "paper", rule,
                         {s: claims.Interval.point(v) for s, v in enumerate(per_seed)})
    return claims.as_json(found)


ROBUST, FRAGILE, FAILS = [0.1] * 5, [0.1, 0.1, 0.1, 0.8, 0.8], [5.0] * 5  # with the fixed band (×2)


def test_the_summary_lists_a_figure_without_a_page_and_why(fixed_band):
    row = execute.figure_row({"figure": "Figure 1 (right)", "shows": "a schematic", "why": "no experiment"}, {})
    assert row == ("| Figure 1 (right) | a schematic | none | no experiment |", "no page")
    page = {"output": "fig4a", "title": "Figure 4a", "figures": ["Figure 4a"]}
    verdicts = [verdict("fig4a.early", FAILS), verdict("fig4a.late", ROBUST), verdict("fig4b.other", ROBUST)]
    row, state = execute.figure_row({"figure": "Figure 4a", "shows": "tickets"}, {"fig4a": (page, verdicts)})
    assert state == "some" and "1 of 2 robustly reproduced" in row and "bdg-warning" in row
    assert "`fig4a.early` NOT reproduced" in row


def test_the_summary_reads_the_verdicts_each_page_wrote_beside_itself(tmp_path, monkeypatch, fixed_band):
    manifest = {"pages": [{"output": "a", "notebook": "a.ipynb", "figures": ["Figure 1"]},
                          {"output": "b", "notebook": "b.ipynb", "figures": ["Figure 2a"]}],
                "paper": [{"figure": "Figure 1"}, {"figure": "Figure 2a"}]}
    (tmp_path / "manifest.yml").write_text(yaml.safe_dump(manifest))
    monkeypatch.setattr(execute, "MANIFEST", tmp_path / "manifest.yml")
    monkeypatch.setattr(execute, "GENERATED", tmp_path)
    pages = {"a": [verdict("fig1.c0", ROBUST), verdict("fig1.c1", ROBUST)],
             "b": [verdict("fig2a.c0", FRAGILE, "Fig 2a"), verdict("fig2a.c1", FAILS, "Fig 2a")]}
    for page, found in pages.items():
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / f"{page}.ipynb")
        claims.save(found, tmp_path / f"{page}.verdicts.json")
    text = execute.write_summary().read_text()
    assert "{bdg-success}`2 robustly reproduced` {bdg-danger}`1 robustly not reproduced`" in text
    assert "{bdg-secondary}`1 fragile` (the 4 distinct claims" in text
    assert "**Figures of the paper all of whose claims hold robustly here:** Fig 1." in text
    assert "| Fig 2a | claim fig2a.c0 <br>`fig2a.c0` | 3 of 5 |" in text  # the audit row
    assert "fragile (seeds 3, 4 in band)" in text
    assert "{bdg-danger}`0 of 2 robustly reproduced`; `fig2a.c0` mixed (fragile); `fig2a.c1` NOT reproduced" in text
    (tmp_path / "b.verdicts.json").unlink()
    with pytest.raises(SystemExit, match="b.verdicts.json is missing"):
        execute.write_summary()


def test_every_figure_of_the_paper_has_a_page_or_a_reason():
    manifest = yaml.safe_load((ROOT / "book" / "manifest.yml").read_text())
    shown = {f for page in manifest["pages"] for f in page["figures"]}
    for item in manifest["paper"]:
        assert item["figure"] in shown or item.get("why"), item["figure"]
    listed = {item["figure"] for item in manifest["paper"]}
    assert shown <= listed, f"pages show figures the paper list lacks: {shown - listed}"


def test_pages_at_a_time_start_longest_first_and_unmeasured_pages_before_all(tmp_path, monkeypatch):
    seconds = tmp_path / "page_seconds.json"
    seconds.write_text('{"short": 10, "long": 900, "middle": 300, "tie": 300}')
    monkeypatch.setattr(execute, "PAGE_SECONDS", seconds)
    chosen = [{"output": name} for name in ("short", "middle", "new", "long", "tie")]
    assert [p["output"] for p in execute.longest_first(chosen)] == ["new", "long", "middle", "tie", "short"]
    monkeypatch.setattr(execute, "PAGE_SECONDS", tmp_path / "absent.json")
    assert execute.longest_first(chosen) == chosen  # never measured: the manifest's order


def test_the_committed_page_times_name_pages_of_the_manifest():
    import json
    names = {page["output"] for page in execute.pages()}
    assert set(json.loads(execute.PAGE_SECONDS.read_text())) <= names


def test_a_notebooks_checked_output_is_rewritten_as_it_will_print(tmp_path, monkeypatch):
    from gtlib import pages
    assert pages.defaults_output("fig1_grokked_ticket.ipynb") == "fig1_grokked_ticket.ipynb"  # its page has 5 seeds
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nclaims.record(checks, params.scale)")]
    (tmp_path / "x.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    monkeypatch.setattr(pages, "NOTEBOOK_DIR", tmp_path)
    assert pages.set_checked_output("x.ipynb", "Asserted at the quick scale:\n  fig1.fits: reproduced")
    cell = json.loads((tmp_path / "x.ipynb").read_text())["cells"][0]
    assert cell["outputs"] == [{"name": "stdout", "output_type": "stream",
                                "text": ["Asserted at the quick scale:\n", "  fig1.fits: reproduced\n"]}]
    assert not pages.set_checked_output("x.ipynb", "Asserted at the quick scale:\n  fig1.fits: reproduced")
