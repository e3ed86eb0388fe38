"""Command line: the runs behind a figure family, a store's listing, a store's integrity.

    python -m gtlib grokked_ticket --scale paper --seed 0      # train what is missing, print times
    python -m gtlib controls --scale quick --param seeds=[0,1,2] --param pruners=['snip']
    GTLIB_STORE=results python -m gtlib sparsity --scale paper # regenerate committed results
    python -m gtlib sparsity --scale paper --scheduler local   # on a Dask cluster (gtlib.cluster)
    python -m gtlib claims --scale quick [--device cuda] [PAGE ...]
        # every page of book/manifest.yml without Jupyter: its runs and claims; at the quick scale,
        # exit 1 unless each asserted claim has its expected verdict
    python -m gtlib list [STORE ...]     # every stored run: key, settings, times, provenance
    python -m gtlib verify [STORE ...]   # every run's files against its checksums (exit 1 if corrupt)
"""
from __future__ import annotations

import argparse
import ast
import functools
import inspect
import sys
from pathlib import Path

import pandas as pd
import yaml

from . import cluster
from .figures import (across_tasks, controls, edge_popup_table, graphs, grokked_ticket, mask_dynamics,
                      periodicity, sparsity, ticket_time, weights_and_masks)
from .claims import MISMATCH, verdicts
from .paths import REPO_ROOT
from .presets import SCALES
from .store import CorruptRunError, Store, check, is_sealed

FAMILIES = {"grokked_ticket": grokked_ticket, "across_tasks": across_tasks, "sparsity": sparsity,
            "ticket_time": ticket_time, "controls": controls, "mask_dynamics": mask_dynamics,
            "periodicity": periodicity, "weights_and_masks": weights_and_masks, "graphs": graphs,
            "edge_popup_table": edge_popup_table}
NOTEBOOKS = {"fig1_grokked_ticket.ipynb": grokked_ticket, "fig2_tasks.ipynb": across_tasks,
             "fig3_sparsity_sweep.ipynb": sparsity, "fig4_ticket_time.ipynb": ticket_time,
             "fig5_controls.ipynb": controls, "fig7_mask_dynamics.ipynb": mask_dynamics,
             "fig8_periodicity.ipynb": periodicity, "fig18_weights_and_masks.ipynb": weights_and_masks,
             "fig9_graphs.ipynb": graphs, "table1_edge_popup.ipynb": edge_popup_table}
MANIFEST = REPO_ROOT / "book" / "manifest.yml"
SCHEDULER_HELP = ("train missing runs on a Dask cluster: 'local' (one single-threaded worker per core) "
                  "or a scheduler address such as tcp://host:8786 (default: $GTLIB_SCHEDULER; unset: "
                  "in this process)")


def _param(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value  # plain text, e.g. pruner names


def family_runs(name: str, argv: list[str]) -> int:
    """Train (or find) the runs of one figure family and print each run's times and folder."""
    parser = argparse.ArgumentParser(prog=f"python -m gtlib {name}",
                                     description=FAMILIES[name].__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick", choices=SCALES)
    parser.add_argument("--task", default="modular")
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--param", type=_param, action="append", default=[], metavar="NAME=VALUE",
                        help="any other parameter of the family's runs(), e.g. seed=1 or seeds=[0,1]")
    parser.add_argument("--scheduler", metavar="ADDR", help=SCHEDULER_HELP)
    args = parser.parse_args(argv)
    try:
        cluster.use(args.scheduler)
        family = FAMILIES[name]
        takes = inspect.signature(family.runs).parameters
        where = {k: v for k, v in (("task", args.task), ("model", args.model)) if k in takes}
        if args.task != "modular" and "task" not in takes:
            raise ValueError(f"{name} uses modular arithmetic with the paper's MLP only")
        runs = family.runs(args.scale, device=args.device, **where, **dict(args.param))
    except (TypeError, ValueError, cluster.ClusterError) as err:
        print(f"python -m gtlib {name}: {err}", file=sys.stderr)
        return 2
    for label, group in runs.items():
        for run in group:
            h = run.history
            print(f"{label:22s} {run.config.label:45s} t_mem={h.t_mem} t_gen={h.t_gen} "
                  f"tau_grok={h.tau_grok} -> {run.path}")
    return 0


def page_checks(page: dict, scale: str | None = None, device: str | None = None, progress: bool = False):
    """The checks of one manifest page, computed as its notebook computes them: the page's
    parameters go to its family's ``runs`` or ``checks``, whichever takes them (the rest, such as
    ``curves`` for the plot, matter only to the figure)."""
    family = NOTEBOOKS[page["notebook"]]
    params = {**page.get("parameters", {}), **({"scale": scale} if scale else {}),
              **({"device": device} if device else {})}
    takes = lambda fn: {k: v for k, v in params.items() if k in inspect.signature(fn).parameters}  # noqa: E731
    found = family.runs(**takes(family.runs), progress=progress)
    return family.checks(found, **takes(family.checks))


def claims(argv: list[str]) -> int:
    """Every page's claims, without Jupyter; at the quick scale, exit 1 on a surprise."""
    pages = yaml.safe_load(MANIFEST.read_text())["pages"]
    parser = argparse.ArgumentParser(prog="python -m gtlib claims",
                                     description="Check every page's claims without Jupyter.")
    parser.add_argument("pages", nargs="*", metavar="PAGE", help="page outputs (default: all)")
    parser.add_argument("--scale", choices=SCALES, help="override every page's scale")
    parser.add_argument("--device", help="override every page's device (auto, cpu, cuda, mps)")
    parser.add_argument("--scheduler", metavar="ADDR", help=SCHEDULER_HELP)
    args = parser.parse_args(argv)
    valid = [p["output"] for p in pages]
    unknown = sorted(set(args.pages) - set(valid))
    if unknown:
        print(f"python -m gtlib claims: unknown page(s) {', '.join(unknown)}; valid: {', '.join(valid)}",
              file=sys.stderr)
        return 2
    try:
        cluster.use(args.scheduler)
    except cluster.ClusterError as err:
        print(f"python -m gtlib claims: {err}", file=sys.stderr)
        return 2
    surprises = []
    for page in pages:
        if (args.pages and page["output"] not in args.pages) or not page.get("claims", True):
            continue  # a page without claims (the explorer's)
        scale = args.scale or page.get("parameters", {}).get("scale", "quick")
        text = verdicts(page_checks(page, args.scale, args.device), scale)
        print(f"{page['output']}:\n" + "\n".join(f"  {line}" for line in text.splitlines()), flush=True)
        if MISMATCH in text:
            surprises.append(page["output"])
    if surprises:
        print(f"asserted verdicts not as expected on: {', '.join(surprises)}", file=sys.stderr)
        return 1
    return 0


def listing(argv: list[str]) -> int:
    """Print every finished run of the store roots as a table."""
    parser = argparse.ArgumentParser(prog="python -m gtlib list",
                                     description="List every finished run of the store roots.")
    parser.add_argument("roots", nargs="*", metavar="STORE",
                        help="store roots (default: the default store and the committed results/)")
    args = parser.parse_args(argv)
    store = Store(args.roots[0], tuple(args.roots[1:])) if args.roots else Store.default()
    table = store.listing()
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 48):
        print(table[["key", "label", "steps", "t_mem", "t_gen", "wall_seconds", "problem"]].to_string(index=False))
    print(f"{len(table)} runs")
    return 0


def verify(argv: list[str]) -> int:
    """One line per corrupt or unsealed run folder, then a summary; exit status 1 if any is corrupt.
    An unsealed folder (unfinished, or written before checksums existed) is not used, only reported."""
    parser = argparse.ArgumentParser(prog="python -m gtlib verify",
                                     description="Check every run of the store roots against its checksums.")
    parser.add_argument("roots", nargs="*", metavar="STORE",
                        help="store roots (default: the default store and the committed results/)")
    args = parser.parse_args(argv)
    for root in args.roots:
        if not Path(root).is_dir():
            print(f"python -m gtlib verify: no store at {root}", file=sys.stderr)
            return 2
    default = Store.default()
    roots = [Path(r) for r in args.roots] or [default.root, *default.read_only]
    folders = [d for root in roots if (root / "runs").is_dir()
               for d in sorted((root / "runs").iterdir()) if d.is_dir()]
    corrupt = unsealed = 0
    for run_dir in folders:
        if not is_sealed(run_dir):
            unsealed += 1
            print(f"{run_dir}: unsealed (unfinished, or written before checksums existed); not used")
            continue
        try:
            check(run_dir)
        except CorruptRunError as err:
            corrupt += 1
            print(f"{err} [{run_dir.parent.parent}]")
    print(f"{len(folders)} runs checked, {corrupt} corrupt" + (f", {unsealed} unsealed" if unsealed else ""))
    return 1 if corrupt else 0


COMMANDS = {**{name: functools.partial(family_runs, name) for name in FAMILIES}, "claims": claims,
            "list": listing, "verify": verify}


def main(argv: list[str] | None = None) -> int:
    """Dispatch on the first argument: a figure family, ``claims``, ``list`` or ``verify``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    if not argv or argv[0] not in COMMANDS:
        problem = f"unknown command '{argv[0]}'" if argv else "no command given"
        print(f"python -m gtlib: {problem}; valid: {', '.join(sorted(COMMANDS))}", file=sys.stderr)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
