"""What each book page reads of the committed runs, and so what a run needs to keep.

    python benchmarks/store_reads.py _build/reads           # every page (a few minutes), the report
    python benchmarks/store_reads.py _build/reads --report  # the report of a measurement made before

Executes every page of book/manifest.yml with `book/execute.py` into the scratch folder given (pages
in ``pages/``, anything missing trained into ``store/``), each with ``$GTLIB_READ_LOG`` set, so that
the store logs every run file the page's kernel reads (`gtlib.store`). Then it writes
``store_reads.md`` beside this script: per page, the runs and megabytes it reads; per kind of file
(history, masks, θ0, intermediate checkpoints, final weights), what ``results/`` stores and what any
page reads. (What a run keeps is part of its configuration, so a run that keeps files no page reads
is changed by asking for a run that keeps less, never by rewriting a sealed folder.)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "runs"
REPORT = Path(__file__).with_name("store_reads.md")


def kind(key: str, name: str) -> str:
    """The kind of a run file: history, masks, θ0, an intermediate checkpoint, the final weights, or
    the small JSON files."""
    if not name.startswith("weights/"):
        return {"history.npz": "history", "masks.pt": "masks"}.get(name, "config, meta, checksums")
    steps = sorted(int(p.stem.removeprefix("step_")) for p in (RESULTS / key / "weights").glob("step_*.pt"))
    step = int(Path(name).stem.removeprefix("step_"))
    return "θ0 (step 0)" if step == 0 else "final weights" if step == steps[-1] else "intermediate checkpoints"


def stored() -> dict[tuple[str, str], int]:
    """(key, file) -> bytes, for every file of the committed runs."""
    return {(d.name, p.relative_to(d).as_posix()): p.stat().st_size
            for d in RESULTS.iterdir() for p in d.rglob("*") if p.is_file()}


def measure(scratch: Path) -> None:
    pages = [p["output"] for p in yaml.safe_load((ROOT / "book" / "manifest.yml").read_text())["pages"]]
    (scratch / "logs").mkdir(parents=True, exist_ok=True)
    for page in pages:
        log = scratch / "logs" / f"{page}.log"
        log.unlink(missing_ok=True)
        env = {**os.environ, "GTLIB_READ_LOG": str(log), "GTLIB_STORE": str(scratch / "store")}
        subprocess.run([sys.executable, str(ROOT / "book" / "execute.py"), page, "--out",
                        str(scratch / "pages")], env=env, check=True, stdout=subprocess.DEVNULL)
        print(f"{page}: {len(set(log.read_text().split())) if log.exists() else 0} files read", flush=True)


def logged(scratch: Path) -> dict[tuple[str, str], set[str]]:
    """From the pages' logs: (key, file) of a committed run -> the pages that read it."""
    files = stored()
    read_by: dict[tuple[str, str], set[str]] = defaultdict(set)
    for log in sorted((scratch / "logs").glob("*.log")):
        for line in log.read_text().split():
            key, _, name = line.partition("/")
            if (key, name) in files:  # reads of the committed runs only (not of scratch runs)
                read_by[key, name].add(log.stem)
    return read_by


def report(scratch: Path) -> str:
    files = stored()
    read_by = logged(scratch)
    mb = lambda n: f"{n / 2**20:.1f}"
    lines = ["# What the book's pages read of the committed runs", "",
             "Measured by `benchmarks/store_reads.py` (every page of `book/manifest.yml` executed with "
             "`GTLIB_READ_LOG`): the files of `results/` that some page reads, by kind.", "",
             "| kind of file | files stored | MB stored | files read | MB read |", "|---|---:|---:|---:|---:|"]
    by_kind = defaultdict(lambda: [0, 0, 0, 0])
    for (key, name), size in files.items():
        row = by_kind[kind(key, name)]
        row[0] += 1
        row[1] += size
        if (key, name) in read_by or not name.startswith(("weights/", "masks")):
            row[2] += 1  # JSON files and histories are read whenever a run is loaded
            row[3] += size
    for name, (n, size, n_read, size_read) in sorted(by_kind.items()):
        lines.append(f"| {name} | {n} | {mb(size)} | {n_read} | {mb(size_read)} |")
    total, needed = sum(files.values()), sum(r[3] for r in by_kind.values())
    runs = {key for key, _ in files}
    tensors_read = {key for key, name in read_by if name != "history.npz"}
    lines += ["", f"In all: {mb(total)} MB stored in {len(runs)} runs (MB = 2^20 bytes), {mb(needed)} MB "
              f"of it read by some page; some page reads the weights or the mask of {len(tensors_read)} "
              f"runs, and of the others only the history.", "",
              "| page | runs read | weight and mask files read | MB of them |", "|---|---:|---:|---:|"]
    per_page = defaultdict(set)
    for (key, name), pages in read_by.items():
        for page in pages:
            per_page[page].add((key, name))
    for page, items in sorted(per_page.items()):
        tensors = [(k, n) for k, n in items if n != "history.npz"]
        lines.append(f"| {page} | {len({k for k, _ in items})} | {len(tensors)} | "
                     f"{mb(sum(files[t] for t in tensors))} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scratch", type=Path)
    parser.add_argument("--report", action="store_true", help="report a measurement made before")
    args = parser.parse_args()
    if not args.report:
        measure(args.scratch)
    text = report(args.scratch)
    REPORT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
