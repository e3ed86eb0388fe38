"""Execute the pages of book/manifest.yml with papermill.

    python book/execute.py                      # every page, as listed, into book/generated/
    python book/execute.py fig1_grokked_ticket  # one page
    python book/execute.py --scale quick --check --out /tmp/quick
        # every page at the quick scale, failing unless every claim asserted at that scale has the
        # verdict that gtlib/expected_quick.json expects (fragile claims are shown, not asserted)
    python book/execute.py --scale quick --check --device cuda --out /tmp/quick-cuda
    python book/execute.py --jobs 2             # two pages at a time, one torch thread each
    python book/execute.py --scheduler local    # missing runs trained on a Dask cluster (gtlib.cluster)

With ``--jobs N`` the pages whose last execution took longest (``book/page_seconds.json``, written
by `benchmarks/bench_paper.py`) start first, so that no long page is left alone at the end; each
kernel has one torch thread (``OMP_NUM_THREADS=1``), so that N kernels share N cores. Two pages that
ask for the same missing run take turns: one trains it, the other waits for the run's lock and then
reads it. Which page trains a run first can then depend on timing, and with it the batch the run
trains in, hence its rounding (as on another machine; the verdicts of the book are decided with that
in mind).

Each page writes its claims' verdicts beside itself, as data: ``<output>.verdicts.json``
(`gtlib.claims.record`, told where by ``$GTLIB_VERDICTS``). ``--check`` and the summary page read
those files, never the page's printed text.
"""
from __future__ import annotations

import argparse
import base64
import concurrent.futures
import io
import json
import multiprocessing
import os
import shlex
from pathlib import Path

import nbformat
import papermill
import yaml
from PIL import Image

from gtlib import claims
from gtlib import pages as gtlib_pages

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "book" / "manifest.yml"
GENERATED = ROOT / "book" / "generated"
PAGE_SECONDS = ROOT / "book" / "page_seconds.json"  # each page's last measured execution time
STRIP_TAG = "page-strip"


def pages() -> list[dict]:
    return yaml.safe_load(MANIFEST.read_text())["pages"]


def longest_first(chosen: list[dict]) -> list[dict]:
    """The pages in the order to start them with several jobs: longest last execution first
    (`PAGE_SECONDS`), pages never measured first of all (they may be long), ties in manifest order."""
    seconds = json.loads(PAGE_SECONDS.read_text()) if PAGE_SECONDS.exists() else {}
    return sorted(chosen, key=lambda page: -seconds.get(page["output"], float("inf")))


def command(page: dict) -> str:
    """The one-line papermill command that regenerates ``page`` (its manifest parameters)."""
    words = ["papermill", f"notebooks/{page['notebook']}", f"{page['output']}.ipynb"]
    for name, value in page.get("parameters", {}).items():
        if isinstance(value, (list, dict)):  # -y reads YAML: lists keep their type
            words += ["-y", shlex.quote(f"{name}: {json.dumps(value)}")]
        else:
            words += ["-p", name, shlex.quote(str(value))]
    return " ".join(words)


def execute(page: dict, out_dir: Path, scale: str | None = None, device: str | None = None) -> Path:
    out = out_dir / f"{page['output']}.ipynb"
    partial = out_dir / f".{page['output']}.partial.ipynb"  # a failed run never leaves a page
    verdicts = partial.with_suffix(".verdicts.json")
    verdicts.unlink(missing_ok=True)
    os.environ["GTLIB_VERDICTS"] = str(verdicts)  # the kernel inherits it; one page at a time per process
    parameters = gtlib_pages.parameters(page, scale)
    if device is not None:
        parameters["device"] = device
    source = nbformat.read(ROOT / "notebooks" / page["notebook"], as_version=4)
    if page.get("strip", True):  # the page's strip: its runs' commit and training time, the command
        source.cells.append(nbformat.v4.new_code_cell(
            f"from gtlib import report as _report\n_report.strip(result, {command(page)!r})",
            metadata={"tags": [STRIP_TAG]}))
    nbformat.write(source, partial)
    papermill.execute_notebook(partial, partial, parameters=parameters, kernel_name="python3",
                               cwd=ROOT / "notebooks", progress_bar=False)
    nb = nbformat.read(partial, as_version=4)
    if "title" in page:  # one notebook, several pages: each its heading
        first = nb.cells[0]
        first.source = "\n".join([f"# {page['title']}", *first.source.splitlines()[1:]])
    nb.cells = for_reading(nb.cells, page.get("note"))
    nbformat.write(nb, partial)
    if verdicts.exists():  # a page without claims (the explorer's) writes none
        verdicts.replace(out.with_suffix(".verdicts.json"))
    partial.replace(out)
    return out


def for_reading(cells: list, note: str | None) -> list:
    """The cells as a reader sees them: the strip and the page's note under the title; code folded
    (a reader can unfold it); parameter cells and test markers removed from view (they stay in the
    notebook, where CI reads them); each figure with its alt text."""
    strip = [c for c in cells if STRIP_TAG in c.metadata.get("tags", [])]
    rest = [c for c in cells[1:] if c not in strip]
    for cell in strip:
        cell.metadata["tags"] = [STRIP_TAG, "remove-input"]
    title, _, intro = cells[0].source.partition("\n")  # the strip goes right under the heading
    cells[0].source = title
    head = [cells[0], *strip] + [nbformat.v4.new_markdown_cell(text.strip()) for text in (intro, note)
                                 if text and text.strip()]
    for cell in rest:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        hidden = "parameters" in tags or "injected-parameters" in tags or "NBVAL_CHECK_OUTPUT" in cell.source
        tags.append("remove-cell" if hidden else "hide-input")
        alts = [o.get("metadata", {}).get("image/png", {}).get("alt") for o in cell.get("outputs", [])]
        alts = [a for a in alts if a]
        if alts:
            cell.metadata["mystnb"] = {"image": {"alt": " / ".join(alts)}}
    return head + rest


def claim_verdicts(path: Path) -> list[dict]:
    """The verdicts an executed page (``<output>.ipynb``) wrote beside itself."""
    found = path.with_suffix(".verdicts.json")
    if not found.exists():
        raise SystemExit(f"{found} is missing: the page was executed without its verdicts; execute it "
                         f"again (python book/execute.py {path.stem})")
    return json.loads(found.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="page outputs to execute (default: all)")
    parser.add_argument("--scale", choices=["quick", "paper"], help="override every page's scale")
    parser.add_argument("--out", type=Path, default=GENERATED)
    parser.add_argument("--check", action="store_true",
                        help="fail unless every asserted claim has its expected verdict")
    parser.add_argument("--device", help="override every page's device (auto, cpu, cuda, mps)")
    parser.add_argument("--scheduler", metavar="ADDR",
                        help="train missing runs on a Dask cluster: 'local' or tcp://host:8786 "
                             "(exported to the notebooks as GTLIB_SCHEDULER; default: none)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="pages executed at a time, each kernel on one torch thread (default 1)")
    args = parser.parse_args()
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be a positive integer, got {args.jobs}")
    if args.jobs > 1 and (args.scheduler or os.environ.get("GTLIB_SCHEDULER")):
        raise SystemExit("--jobs and a Dask scheduler are two ways to use the cores; choose one")
    if args.jobs > 1:
        os.environ["OMP_NUM_THREADS"] = "1"  # the papermill kernels inherit it
    for name in ("GTLIB_STORE", "GTLIB_RESULTS"):  # the kernels run in notebooks/: paths from here
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).resolve())
    if args.scheduler is not None:
        os.environ["GTLIB_SCHEDULER"] = args.scheduler  # the papermill kernels inherit it
    if args.check and args.scale != "quick":
        raise SystemExit("--check compares the verdicts asserted at the quick scale; add --scale quick")
    valid = [p["output"] for p in pages()]
    unknown = sorted(set(args.names) - set(valid))
    if unknown:
        raise SystemExit(f"unknown page(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = [page for page in pages() if not args.names or page["output"] in args.names]
    failed = []
    # Processes, not threads: papermill changes the working directory of its process.
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = {page["output"]: pool.submit(execute, page, args.out, args.scale, args.device)
                for page in (longest_first(chosen) if args.jobs > 1 else chosen)}
        for page in chosen:  # reported in the manifest's order, each when done
            path = done[page["output"]].result()
            if not page.get("claims", True):
                continue
            verdicts = claim_verdicts(path)
            print(f"{page['output']}:", flush=True)
            for verdict in verdicts:
                print(f"  {claims.verdict_line(verdict)}", flush=True)
            if claims.surprises(verdicts):
                failed.append(page["output"])
    if args.out == GENERATED:
        write_summary()
    if args.check and failed:
        raise SystemExit(f"claims not as expected on: {', '.join(failed)}")


def write_summary() -> Path:
    """book/generated/summary.md, an audit of the paper: the counts of claims robustly reproduced,
    robustly not reproduced, mixed and fragile; the claims that hold robustly; every claim with its
    seeds, k of N, robustness and effect; a card per page; a row for every figure and table of the
    paper (`paper` in the manifest). Read from the executed pages' verdicts; a claim shown on several
    pages counts once (its first page's)."""
    manifest = yaml.safe_load(MANIFEST.read_text())
    done_pages, distinct, cards = {}, {}, []
    for page in manifest["pages"]:
        path = GENERATED / f"{page['output']}.ipynb"
        if not path.exists() or not page.get("claims", True):
            continue
        verdicts = claim_verdicts(path)
        for v in verdicts:
            distinct.setdefault(v["id"], {**v, "page": page})
        done_pages[page["output"]] = (page, verdicts)
        thumb = thumbnail(path)
        cards += [f":::{{grid-item-card}} {page.get('title', page['output'])}",
                  f":link: {page['output']}", ":link-type: doc",
                  *([f":img-top: {thumb}", f":img-alt: The first figure of {page['output']}"] if thumb else []),
                  "", f"{badge(verdicts)} {', '.join(page['figures'])}", ":::", ""]
    found = list(distinct.values())
    counts = claims.tally(found)
    rows = [figure_row(item, done_pages) for item in manifest.get("paper", [])]
    order = {item["figure"]: i for i, item in enumerate(manifest.get("paper", []))}
    by_figure: dict[str, list[dict]] = {}
    for v in found:
        by_figure.setdefault(v["figure"], []).append(v)
    held = sorted((f for f, vs in by_figure.items()
                   if all(v["verdict"] == claims.REPRODUCED and v["robust"] for v in vs)),
                  key=lambda f: order.get(f.replace("Fig ", "Figure "), len(order)))
    lines = ["# Summary: an audit of the paper", "",
             f"{{bdg-success}}`{counts['robust reproduced']} robustly reproduced` "
             f"{{bdg-danger}}`{counts['robust NOT reproduced']} robustly not reproduced` "
             f"{{bdg-warning}}`{counts['robust mixed']} mixed` "
             f"{{bdg-secondary}}`{counts['fragile']} fragile` "
             f"(the {len(found)} distinct claims this book checks, at the paper's scale)", "",
             "Each claim is decided over seeds by one rule (`gtlib/claims.py`): each seed supports it, "
             "contradicts it, or lies within the **rounding band**, the shift that float rounding alone "
             "gives the same statistic when the same runs are trained again "
             "([measured](../from_scratch.md)). A claim is *reproduced* when at least 80 % of its "
             "seeds support it, *not reproduced* when at least 80 % contradict it, *mixed* otherwise; "
             "it is *robust* when counting every in-band seed on either side leaves that verdict "
             "unchanged, and *fragile* otherwise. A regeneration under other rounding must give every "
             "robust verdict again; a fragile one may change. With three seeds a reproduction is "
             "written \"consistent in 3 of 3\", never significant.", "",
             "**Figures of the paper all of whose claims hold robustly here:** " + (", ".join(held) or "none") + ".", "",
             "## Every claim", "",
             "| Figure | Claim | Seeds supporting | Verdict | Effect: median [min, max] | Page |",
             "|---|---|---:|---|---|---|"]
    for v in sorted(found, key=lambda v: (order.get(v["figure"].replace("Fig ", "Figure "), len(order)), v["id"])):
        lines.append(audit_row(v))
    lines += ["", "## The pages", "", "::::{grid} 1 2 2 3", ":gutter: 2", "", *cards, "::::", "",
              "## Every figure and table of the paper", "",
              "| Paper | What it shows | Page | Its claims |", "|---|---|---|---|"]
    lines += [row for row, _ in rows]
    out = GENERATED / "summary.md"
    out.write_text("\n".join(lines) + "\n")
    return out


def audit_row(v: dict) -> str:
    """One claim of the audit table: figure, words (and id), N, k of N, verdict and robustness, the
    effect, its page."""
    median, lo, hi = v["effect"]["median"], v["effect"]["min"], v["effect"]["max"]
    low = lambda x: "−∞" if x is None else claims.fmt(x)  # JSON's null is an unbounded end
    high = lambda x: "∞" if x is None else claims.fmt(x)
    mid = low(median[0]) if median[0] == median[1] else f"{low(median[0])} to {high(median[1])}"
    effect = mid if v["n_seeds"] == 1 else f"{mid} [{low(lo)}, {high(hi)}]"
    robustness = "robust" if v["robust"] else f"fragile (seeds {', '.join(map(str, v['in_band']))} in band)"
    colour = {claims.REPRODUCED: "success", claims.NOT_REPRODUCED: "danger", claims.MIXED: "warning"}[v["verdict"]]
    text = v["claim"].replace("|", "\\|")  # the rule itself is on the claim's page
    page = v["page"]
    return (f"| {v['figure']} | {text} <br>`{v['id']}` | {v['supporting']} of {v['n_seeds']} | "
            f"{{bdg-{colour}-line}}`{v['verdict']}` {robustness} | {effect} | "
            f"[{page['output']}]({page['output']}.ipynb) |")


def badge(verdicts: list[dict]) -> str:
    """A MyST badge for a page: how many of its claims are robustly reproduced; green when all are,
    red when none is, amber in between."""
    held = sum(v["verdict"] == claims.REPRODUCED and v["robust"] for v in verdicts)
    colour = "success" if held == len(verdicts) else "danger" if held == 0 else "warning"
    return f"{{bdg-{colour}}}`{held} of {len(verdicts)} robustly reproduced`"


def figure_row(item: dict, done_pages: dict) -> tuple[str, str]:
    """One row of the summary's last table: a figure of the paper, its page and its claims'
    verdicts (the claims whose id names this figure, else every claim of its page); and whether they
    all, some or none are robustly reproduced ("no page" where there is none)."""
    figure, shows = item["figure"], item.get("shows", "")
    found = [(page, verdicts) for page, verdicts in done_pages.values() if figure in page["figures"]]
    if not found:
        return f"| {figure} | {shows} | none | {item.get('why', 'not yet in the book')} |", "no page"
    page, verdicts = found[0]
    prefix = claims.slug(figure) + "."
    own = [v for v in verdicts if v["id"].startswith(prefix)] or verdicts
    held = sum(v["verdict"] == claims.REPRODUCED and v["robust"] for v in own)
    others = [v for v in own if not (v["verdict"] == claims.REPRODUCED and v["robust"])]
    detail = "; ".join(f"`{v['id']}` {v['verdict']}{'' if v['robust'] else ' (fragile)'}" for v in others)
    state = "all" if held == len(own) else "none" if held == 0 else "some"
    return (f"| {figure} | {shows} | [{page.get('title', page['output'])}]({page['output']}.ipynb) | "
            f"{badge(own)}{'; ' + detail if detail else ''} |"), state


def thumbnail(path: Path) -> str | None:
    """The page's first figure, 480 pixels wide, beside the summary (None if it has none)."""
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("image/png")
            if data:
                image = Image.open(io.BytesIO(base64.b64decode(data)))
                image = image.crop((0, 0, image.width, min(image.height, int(0.62 * image.width))))
                image.thumbnail((480, 480))  # the top of the figure: its first panel
                out = GENERATED / "thumbs" / f"{path.stem}.png"
                out.parent.mkdir(exist_ok=True)
                image.save(out, optimize=True)
                return f"thumbs/{out.name}"
    return None


if __name__ == "__main__":
    main()
