"""Execute the pages of book/manifest.yml with papermill.

    python book/execute.py                      # every page, as listed, into book/generated/
    python book/execute.py fig1_grokked_ticket  # one page
    python book/execute.py --scale quick --check --out /tmp/quick
        # every page at the quick scale, failing unless every claim asserted at that scale has the
        # verdict that `gtlib.claims.QUICK` expects (claims within noise are shown, not asserted)
    python book/execute.py --scale quick --check --device cuda --out /tmp/quick-cuda
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat
import papermill
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "book" / "manifest.yml"
GENERATED = ROOT / "book" / "generated"
SUMMARY = re.compile(r"^(\d+) of (\d+) claims reproduced(.*)$", re.MULTILINE)
VERDICT = re.compile(r"^\s*([a-z0-9_.]+): (reproduced|NOT reproduced)(.*)$", re.MULTILINE)
MISMATCH = "CI expects"  # gtlib.claims.MISMATCH: an asserted verdict that differs from the expected


def pages() -> list[dict]:
    return yaml.safe_load(MANIFEST.read_text())["pages"]


def execute(page: dict, out_dir: Path, scale: str | None = None, device: str | None = None) -> Path:
    out = out_dir / f"{page['output']}.ipynb"
    partial = out_dir / f".{page['output']}.partial.ipynb"  # a failed run never leaves a page
    parameters = dict(page.get("parameters", {}))
    if scale is not None:
        parameters["scale"] = scale
    if device is not None:
        parameters["device"] = device
    papermill.execute_notebook(ROOT / "notebooks" / page["notebook"], partial, parameters=parameters,
                               kernel_name="python3", cwd=ROOT / "notebooks", progress_bar=False)
    if "title" in page or "note" in page:  # one notebook, several pages: each its heading and note
        nb = nbformat.read(partial, as_version=4)
        first = nb.cells[0]
        if "title" in page:
            first.source = "\n".join([f"# {page['title']}", *first.source.splitlines()[1:]])
        if "note" in page:
            nb.cells.insert(1, nbformat.v4.new_markdown_cell(page["note"].strip()))
        nbformat.write(nb, partial)
    partial.replace(out)
    return out


def _outputs(path: Path) -> str:
    return "\n".join(output.get("text", "") for cell in nbformat.read(path, as_version=4).cells
                     for output in cell.get("outputs", []))


def claim_summary(path: Path) -> tuple[int, int, str]:
    """(reproduced, total, rest of the line) from the page's claim-summary output."""
    match = SUMMARY.search(_outputs(path))
    if match:
        return int(match.group(1)), int(match.group(2)), match.group(3)
    raise ValueError(f"{path.name} prints no claim summary")


def claim_verdicts(path: Path) -> dict[str, str]:
    """Claim id -> verdict line as the page printed it (with a flag where CI expected otherwise)."""
    return {m.group(1): m.group(2) + m.group(3) for m in VERDICT.finditer(_outputs(path))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="page outputs to execute (default: all)")
    parser.add_argument("--scale", choices=["quick", "paper"], help="override every page's scale")
    parser.add_argument("--out", type=Path, default=GENERATED)
    parser.add_argument("--check", action="store_true",
                        help="fail unless every asserted claim has its expected verdict")
    parser.add_argument("--device", help="override every page's device (auto, cpu, cuda, mps)")
    args = parser.parse_args()
    if args.check and args.scale != "quick":
        raise SystemExit("--check compares the verdicts asserted at the quick scale; add --scale quick")
    valid = [p["output"] for p in pages()]
    unknown = sorted(set(args.names) - set(valid))
    if unknown:
        raise SystemExit(f"unknown page(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for page in pages():
        if args.names and page["output"] not in args.names:
            continue
        out = execute(page, args.out, args.scale, args.device)
        verdicts = claim_verdicts(out)
        print(f"{page['output']}:", flush=True)
        for claim, verdict in verdicts.items():
            print(f"  {claim}: {verdict}", flush=True)
        wrong = [c for c, v in verdicts.items() if MISMATCH in v]
        if wrong:
            failed.append(page["output"])
    if args.out == GENERATED:
        write_summary()
    if args.check and failed:
        raise SystemExit(f"claims not as expected on: {', '.join(failed)}")


def write_summary() -> Path:
    """book/generated/summary.md: every page's claim verdicts, read from the executed pages, and
    the total over distinct claims (a claim shown on several pages counts once)."""
    lines = ["# Summary: what reproduced", "",
             "Each row is one page of this book, executed at the paper's scale; the verdicts are read "
             "from the claim checks at the end of each page, which give the paper's numbers beside ours "
             "and each claim's pass rule.",
             "", "| Page | Paper figures | Claims reproduced | Not reproduced |", "|---|---|---|---|"]
    distinct: dict[str, str] = {}
    for page in pages():
        path = GENERATED / f"{page['output']}.ipynb"
        if not path.exists():
            continue
        done, total, rest = claim_summary(path)
        distinct.update(claim_verdicts(path))
        missing = rest.removeprefix("; not reproduced: ").replace("|", "/") or "none"
        lines.append(f"| [{page.get('title', page['output'])}]({page['output']}.ipynb) | "
                     f"{', '.join(page['figures'])} | {done} of {total} | {missing} |")
    held = sum(v == "reproduced" for v in distinct.values())
    lines += ["", f"**In all, {held} of the {len(distinct)} distinct claims checked reproduce.**"]
    pending = yaml.safe_load(MANIFEST.read_text()).get("pending", [])
    if pending:
        lines += ["", "Not yet in the book: these notebooks run, and CI checks their claims at the quick "
                  "scale, but their paper-scale runs are not yet committed.", "",
                  "| Notebook | Paper figures |", "|---|---|"]
        lines += [f"| `notebooks/{p['notebook']}` | {', '.join(p['figures'])} |" for p in pending]
    out = GENERATED / "summary.md"
    out.write_text("\n".join(lines) + "\n")
    return out


if __name__ == "__main__":
    main()
