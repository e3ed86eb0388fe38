"""Two computations of the same claims side by side: the committed runs' and a regeneration's.

    python benchmarks/compare_verdicts.py COMMITTED.jsonl REGENERATED.jsonl [--title T] [--out MD]

Each file is the output of ``python -m gtlib claims --scale paper --json [PAGE ...]`` (one JSON
object per claim and page) over the same pages, the first on the committed runs, the second on runs
trained again from an empty store under other rounding. The report (markdown) lists every claim
with both verdicts, marks each change, and says whether every **robust** committed verdict came out
the same, which is what the rule of `gtlib.claims` promises; then the rounding band these pairs
measure (`gtlib.band`). Exit status 1 when a robust verdict changed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gtlib import band
from gtlib.claims import verdict_words


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def first_per_claim(found: list[dict]) -> dict[str, dict]:
    """Claim id -> its verdict on the first page that shows it."""
    out = {}
    for v in found:
        out.setdefault(v["id"], v)
    return out


def compare(committed: list[dict], regenerated: list[dict]) -> tuple[list[str], list[str]]:
    """The markdown table of both verdicts per claim, and the ids whose committed verdict was robust
    and changed."""
    a, b = first_per_claim(committed), first_per_claim(regenerated)
    rows, broken = [], []
    for claim in a:
        if claim not in b:
            continue
        va, vb = a[claim], b[claim]
        same = va["verdict"] == vb["verdict"]
        if not same and va["robust"]:
            broken.append(claim)
        mark = "same" if same else ("**changed: a robust verdict**" if va["robust"] else "changed (was fragile)")
        rows.append(f"| {va['page']} | `{claim}` | {verdict_words(va)} | {verdict_words(vb)} | {mark} |")
    head = ["| page | claim | committed | regenerated | |", "|---|---|---|---|---|"]
    return head + rows, broken


def report(committed: list[dict], regenerated: list[dict], title: str) -> tuple[str, list[str]]:
    rows, broken = compare(committed, regenerated)
    a, b = first_per_claim(committed), first_per_claim(regenerated)
    both = [c for c in a if c in b]
    robust = [c for c in both if a[c]["robust"]]
    changed = [c for c in both if a[c]["verdict"] != b[c]["verdict"]]
    derived = band.derive(band.pairs_from_verdicts(committed, regenerated), ["these pairs"]) if both else None
    lines = [f"# {title}", "",
             f"{len(both)} claims compared: {len(robust)} robust in the committed runs, of which "
             f"**{len(robust) - len(broken)} came out the same** ({len(broken)} changed); "
             f"{len(changed)} verdicts changed in all, each fragile in the committed runs unless named above.", ""]
    if broken:
        lines += ["Robust verdicts that changed: " + ", ".join(f"`{c}`" for c in broken), ""]
    lines += rows
    if derived:
        lines += ["", "## The rounding band these pairs measure", "",
                  f"Per kind of statistic, the shift covering {derived['coverage']:.0%} of the paired per-seed "
                  "statistics that are points in both (censored ones left out):", "",
                  "| kind | shape | pairs | measured | median shift | largest |", "|---|---|---:|---:|---:|---|"]
        for kind, entry in derived["kinds"].items():
            lines.append(f"| {kind} | {entry['shape']} | {entry['pairs']} | {entry['measured']} | "
                         f"{entry['median_shift']} | {entry['largest'] or ''} |")
    return "\n".join(lines) + "\n", broken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("committed", type=Path)
    parser.add_argument("regenerated", type=Path)
    parser.add_argument("--title", default="Verdicts of the committed runs and of a regeneration")
    parser.add_argument("--out", type=Path, help="write the report here (default: print it)")
    args = parser.parse_args()
    text, broken = report(read(args.committed), read(args.regenerated), args.title)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
