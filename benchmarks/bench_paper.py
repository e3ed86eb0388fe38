"""The whole paper from an empty store: every run behind every book page trained again, and timed.

    python benchmarks/bench_paper.py _build/paper                  # about 70 minutes on a 2-core CPU
    python benchmarks/bench_paper.py _build/paper --jobs 1         # one page at a time, 2 threads
    python benchmarks/bench_paper.py _build/some --pages fig2a_mlp_three_seeds fig5_controls  # some pages
    python benchmarks/bench_paper.py _build/paper --scheduler local  # the runs on a local Dask cluster
    python benchmarks/bench_paper.py _build/paper --report         # the report of a run made before

Executes every page of book/manifest.yml with `book/execute.py` (what ``make results`` runs) into
the scratch folder given: a new store ``store/`` (``GTLIB_STORE``), an empty ``empty/`` in place of
the committed ``results/`` (``GTLIB_RESULTS``), so that every run trains again, and the executed
pages in ``pages/``; by default two pages at a time, each on one torch thread (``--jobs 2``, as
``make results``), longest first. Each page's time is written to ``book/page_seconds.json``, the
order the next regeneration starts them in. Then it reports, into ``report.md`` and here:

- the wall time from the first page to the last (``start`` and ``end`` hold the clock), and each
  page's execution time as papermill recorded it: the training of the runs it was the first to ask
  for, then its analyses and figures;
- the runs trained: their number and training steps per task and model, and their training time
  (each run's share of its batch's wall time);
- each run against the committed run of the same key in ``results/``: whether t_mem and t_gen are
  the same, and the largest difference in final test accuracy (the committed runs were trained on
  another machine or in other batches: rounding may differ, grokking amplifies it);
- each page's claim verdicts against those of the committed book pages in ``book/generated/`` (built
  by ``make book`` from ``results/``), where they are there.

An interrupted run goes on where it stopped when started again (the store resumes every run from its
last resume point), but its wall time then no longer means anything: start from an empty folder to
time it. Nothing else should run on the machine meanwhile; to use the machine for something else, pause
the run (``kill -STOP -PGID``, later ``kill -CONT -PGID``, and the same for each notebook kernel,
``pkill -STOP -f ipykernel_launcher``: the kernels run in sessions of their own, so stopping the
benchmark's process group leaves them training) and write each pause into ``pauses`` as a line
"STOP CONT" (epoch seconds): the report takes the pauses out of the wall time, of the page and of
the batch of runs they interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book"))
from execute import GENERATED, PAGE_SECONDS, claim_verdicts, pages

from compare_verdicts import report as compare_report

from gtlib import cluster
from gtlib.store import Store

RESULTS = ROOT / "results"


def machine() -> str:
    """This machine, in one line: its CPU, cores, torch and its threads."""
    import torch
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} on {torch.get_num_threads()} threads"


def run_pages(scratch: Path, scheduler: str | None, jobs: int, names: list[str]) -> None:
    if (scratch / "start").exists():
        raise SystemExit(f"{scratch} holds an earlier run; --report summarises it, or start from an "
                         "empty folder to time a new one")
    (scratch / "empty").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GTLIB_STORE": str(scratch / "store"), "GTLIB_RESULTS": str(scratch / "empty")}
    command = [sys.executable, str(ROOT / "book" / "execute.py"), "--out", str(scratch / "pages"), *names]
    if scheduler:
        command += ["--scheduler", scheduler]
        how = f", scheduler {scheduler}"
    else:
        command += ["--jobs", str(jobs)]
        how = f"; {jobs} pages at a time, each on 1 thread" if jobs > 1 else "; one page at a time"
    (scratch / "machine").write_text(machine() + how + "\n")
    (scratch / "start").write_text(f"{time.time():.0f}\n")
    with open(scratch / "log", "w") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    (scratch / "end").write_text(f"{time.time():.0f}\n")


def runs_table(root: Path, stops: list[tuple[float, float]] = ()) -> pd.DataFrame:
    """One row per finished run of a store root: the store's listing (key, label, task, model,
    steps, t_mem, t_gen; None where never reached), with each run's final test accuracy (loss for
    regression), its commit and its share of its batch's training time (less any of the ``stops``
    that fell while it trained)."""
    rows = []
    for row in Store(root).listing().itertuples():
        if row.problem:
            continue
        folder = Path(row.root) / "runs" / row.key
        meta = json.loads((folder / "meta.json").read_text())  # the batch size and commit
        with np.load(folder / "history.npz") as history:
            acc = history["test_acc"] if "test_acc" in history.files else history["test_loss"]
            final = float(acc[-1]) if np.isfinite(acc[-1]) else float(history["test_loss"][-1])
        wall = row.wall_seconds if pd.notna(row.wall_seconds) else np.nan
        if stops and row.finished:
            wall -= paused_within(epoch(row.finished) - wall, epoch(row.finished), stops)
        rows.append({"key": row.key, "label": row.label, "task": row.task, "model": row.model,
                     "steps": int(row.steps),
                     "times": tuple(None if pd.isna(t) else int(t) for t in (row.t_mem, row.t_gen)),
                     "share_s": wall / meta.get("batch_size", 1),  # older runs: trained alone
                     "final": final, "git": meta.get("git", "unknown")})
    return pd.DataFrame(rows)


def pauses(scratch: Path) -> list[tuple[float, float]]:
    path = scratch / "pauses"
    return [tuple(map(float, line.split())) for line in path.read_text().splitlines() if line.strip()] \
        if path.exists() else []


def paused_within(t0: float, t1: float, stops: list[tuple[float, float]]) -> float:
    """Seconds of the pauses that fall between t0 and t1."""
    return sum(max(0.0, min(t1, b) - max(t0, a)) for a, b in stops)


def epoch(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso).timestamp()


def page_seconds(scratch: Path) -> dict[str, int]:
    """Each executed page's time as papermill recorded it, pauses taken out."""
    stops, seconds = pauses(scratch), {}
    for page in pages():
        path = scratch / "pages" / f"{page['output']}.ipynb"
        if path.exists():
            meta = nbformat.read(path, as_version=4).metadata.get("papermill", {})
            took = meta.get("duration")
            if took and meta.get("start_time") and meta.get("end_time"):
                took -= paused_within(epoch(meta["start_time"]), epoch(meta["end_time"]), stops)
            if took:
                seconds[page["output"]] = round(took)
    return seconds


def report(scratch: Path) -> str:
    """The report, most important first: the wall time, the verdicts that changed, the training
    per model, each page's time, then each run whose t_mem or t_gen changed."""
    start = int((scratch / "start").read_text())
    end = int((scratch / "end").read_text()) if (scratch / "end").exists() else None
    stops = pauses(scratch)
    runs = runs_table(scratch / "store", stops)
    where = (scratch / "machine").read_text().strip() if (scratch / "machine").exists() else "not recorded"
    code = ", ".join(sorted(set(runs["git"]))) if not runs.empty else "no run finished"
    stamp = lambda t: datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    held = f" (paused {sum(b - a for a, b in stops) / 60:.1f} min, not counted)" if stops else ""
    lines = ["# The whole paper from an empty store", "", f"Machine: {where}. Code: commit {code}.", ""]
    if end is None:
        lines.append(f"Started {stamp(start)} UTC; not finished (no `end`){held}.")
    else:
        wall = end - start - paused_within(start, end, stops)
        lines.append(f"Started {stamp(start)} UTC, finished {stamp(end)} UTC{held}: **{wall / 60:.1f} min** "
                     "of wall time for every page, training included.")

    committed, regenerated = [], []
    for page in pages():
        here, built = scratch / "pages" / f"{page['output']}.ipynb", GENERATED / f"{page['output']}.ipynb"
        if here.with_suffix(".verdicts.json").exists() and built.with_suffix(".verdicts.json").exists():
            committed += [{**v, "page": page["output"]} for v in claim_verdicts(built)]
            regenerated += [{**v, "page": page["output"]} for v in claim_verdicts(here)]
    compared, _ = compare_report(committed, regenerated, "Verdicts")
    lines += ["", "## Verdicts", "", *compared.splitlines()[2:]]  # without its title

    if runs.empty:
        return "\n".join(lines + ["", "No run finished yet."])
    by = runs.groupby(["task", "model"]).agg(runs=("key", "size"), steps=("steps", "sum"),
                                             training_s=("share_s", "sum"))
    parallel = ("Pages were executed several at a time (above), so batches trained at once, each on one "
                "thread: the rates are per process, and the minutes add up to more than the wall time."
                if "pages at a time" in where else "")
    lines += ["", "## Training", "", f"{len(runs)} runs, {runs['steps'].sum():,} training steps, "
              f"{runs['share_s'].sum() / 60:.1f} min of training (each run's share of its batch). {parallel}".rstrip(), "",
              "| task | model | runs | steps | training (min) | run steps/s |", "|---|---|---:|---:|---:|---:|"]
    for (task, model), row in by.iterrows():
        lines.append(f"| {task} | {model} | {int(row.runs)} | {int(row.steps):,} | {row.training_s / 60:.1f} | "
                     f"{row.steps / row.training_s:,.0f} |")

    lines += ["", "## Pages", "", "Each page's execution: the training of the runs it was the first to ask for "
              "(or the wait for another page training them), then its analyses and figures.", "",
              "| page | execution (s) |", "|---|---:|"]
    seconds = page_seconds(scratch)
    for page in pages():
        executed = (scratch / "pages" / f"{page['output']}.ipynb").exists()
        took = seconds.get(page["output"])
        lines.append(f"| {page['output']} | {took:,} |" if took is not None
                     else f"| {page['output']} | {'?' if executed else 'not executed'} |")

    if (RESULTS / "runs").is_dir():
        there = runs_table(RESULTS).set_index("key")
        here = runs.set_index("key")
        ours, committed, finals = here["times"].to_dict(), there["times"].to_dict(), there["final"]
        both = [k for k in ours if k in committed]
        same = [k for k in both if ours[k] == committed[k]]
        gaps = [abs(here.loc[k, "final"] - finals[k]) for k in both]
        lines += ["", "## Runs", "", f"Against the committed runs: {len(both)} of the {len(ours)} runs are in "
                  f"results/ ({len(committed)} there); t_mem and t_gen are the same for {len(same)}; the "
                  f"largest difference in final test accuracy (loss for regression) is {max(gaps, default=0):.4f}. "
                  "The runs whose t_mem or t_gen differ (None: never reached in the run's steps):"]
        differ = sorted((k for k in both if k not in same), key=lambda k: here.loc[k, "label"])
        if differ:
            lines += ["", "| run | t_mem, t_gen here | committed | final test accuracy here, committed |",
                      "|---|---:|---:|---:|"]
            lines += [f"| {here.loc[k, 'label']} | {ours[k][0]}, {ours[k][1]} | {committed[k][0]}, {committed[k][1]} "
                      f"| {here.loc[k, 'final']:.3f}, {finals[k]:.3f} |" for k in differ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scratch", type=Path, help="the scratch folder (store, pages, log, report)")
    parser.add_argument("--scheduler", help="train on a Dask cluster: 'local' or tcp://host:8786")
    parser.add_argument("--jobs", type=int, default=2,
                        help="pages at a time, each on one torch thread (default 2; 1: one page on all threads)")
    parser.add_argument("--pages", nargs="+", default=[], metavar="PAGE",
                        help="only these pages (default: every page of the manifest)")
    parser.add_argument("--report", action="store_true", help="only report on the run in SCRATCH")
    args = parser.parse_args()
    if args.jobs < 1:
        raise SystemExit(f"bench_paper.py: --jobs must be a positive integer, got {args.jobs}")
    scratch = args.scratch.resolve()
    if args.scheduler and args.scheduler != "local" and not cluster._ADDRESS.fullmatch(args.scheduler):
        raise SystemExit(f"bench_paper.py: scheduler {args.scheduler!r} is not valid; use {cluster._VALID}")
    if not args.report:
        valid = [page["output"] for page in pages()]
        unknown = sorted(set(args.pages) - set(valid))
        if unknown:
            raise SystemExit(f"bench_paper.py: unknown page(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
        run_pages(scratch, args.scheduler, args.jobs, args.pages)
        known = json.loads(PAGE_SECONDS.read_text()) if PAGE_SECONDS.exists() else {}
        PAGE_SECONDS.write_text(json.dumps({**known, **page_seconds(scratch)}, indent=1) + "\n")
    elif not (scratch / "start").exists():
        raise SystemExit(f"{scratch} holds no run of this benchmark (no 'start' file)")
    text = report(scratch)
    (scratch / "report.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
