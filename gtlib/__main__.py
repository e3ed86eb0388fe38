"""Command line: the runs behind a figure family, a store's listing, a store's integrity.

    python -m gtlib grokked_ticket --scale paper --param seeds=[0,1]  # train what is missing, print times
    python -m gtlib controls --scale quick --param seeds=[0,1,2] --param pruners=[snip]
        # --param NAME=VALUE: any parameter of the family's Params (its notebook's parameters)
    GTLIB_STORE=results python -m gtlib sparsity --scale paper # regenerate committed results
    python -m gtlib sparsity --scale paper --scheduler local   # on a Dask cluster (gtlib.cluster)
    python -m gtlib claims --scale quick [--device cuda] [--jobs 2] [--record DIR] [PAGE ...]
        # every page of book/manifest.yml without Jupyter: its runs and claims; at the quick scale
        # also each notebook at its defaults (nbval's), and exit 1 unless each asserted claim
        # (gtlib/expected_quick.json) has its expected verdict; --jobs N: N pages at a time, each in
        # a process of its own with one torch thread; --record DIR: DIR/<page>.verdicts.json
    python -m gtlib claims --scale paper --json [PAGE ...]   # one JSON object per claim and page
    python -m gtlib expected DIR [--write]
        # the claims CI asserts at the quick scale (those robust there, gtlib.claims), from the
        # folder `claims --scale quick --record DIR` wrote; --write: into gtlib/expected_quick.json
    python -m gtlib band [A.jsonl B.jsonl] [--stores A B] [--tables MD ...] [--write]
        # the rounding band (gtlib.band) from the same claims computed on the committed runs (A) and
        # on a regeneration (B); --write: into gtlib/rounding_band.json
    python -m gtlib list [STORE ...]     # every stored run: key, settings, times, provenance
    python -m gtlib verify [STORE ...]   # every run's files against its checksums (exit 1 if corrupt)
    python -m gtlib migrate STORE        # re-key a store written before schema 2 (gtlib.migrate)
"""
from __future__ import annotations

import argparse
import builtins
import concurrent.futures
import contextlib
import functools
import multiprocessing
import os
import json
import sys
from pathlib import Path

import pandas as pd

from . import cluster, pages
from . import band
from .claims import (EXPECTED, EXPECTED_FILE, QUICK_MARGIN, measure_expected, save, surprises, verdict_text,
                     write_expected)
from .figures import FAMILIES
from .presets import SCALES
from .migrate import migrate
from .store import CorruptRunError, Store, check, is_sealed

SCHEDULER_HELP = ("train missing runs on a Dask cluster: 'local' (one single-threaded worker per core) "
                  "or a scheduler address such as tcp://host:8786 (default: $GTLIB_SCHEDULER; unset: "
                  "in this process)")

def _param(text: str) -> tuple[str, str]:
    """``NAME=VALUE``, the value as text: the family's ``Params`` reads it by the field's type."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def family_runs(name: str, argv: list[str]) -> int:
    """Train (or find) the runs of one figure family and print each run's times and folder."""
    family = FAMILIES[name]
    parser = argparse.ArgumentParser(prog=f"python -m gtlib {name}", description=family.__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick", choices=SCALES)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--param", type=_param, action="append", default=[], metavar="NAME=VALUE",
                        help=f"a parameter of the family ({', '.join(family.Params.names())}), "
                             "e.g. seed=1 or seeds=[0,1]")
    parser.add_argument("--scheduler", metavar="ADDR", help=SCHEDULER_HELP)
    args = parser.parse_args(argv)
    try:
        params = family.Params.build({"scale": args.scale, **dict(args.param)})
        cluster.use(args.scheduler)
        result = family.runs(params, device=args.device)
    except (ValueError, cluster.ClusterError) as err:
        print(f"python -m gtlib {name}: {err}", file=sys.stderr)
        return 2
    for label, group in result.labelled().items():
        for run in group:
            h = run.history
            print(f"{label:22s} {run.config.label:45s} t_mem={h.t_mem} t_gen={h.t_gen} "
                  f"tau_grok={h.tau_grok} -> {run.path}")
    return 0


def claims(argv: list[str]) -> int:
    """Every page's claims, without Jupyter; at the quick scale, exit 1 on a surprise."""
    parser = argparse.ArgumentParser(prog="python -m gtlib claims",
                                     description="Check every page's claims without Jupyter.")
    parser.add_argument("pages", nargs="*", metavar="PAGE", help="page outputs (default: all)")
    parser.add_argument("--scale", choices=SCALES, help="override every page's scale")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per claim and page (gtlib.claims.as_json) instead of text")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="also write each page's verdicts to DIR/<page>.verdicts.json")
    parser.add_argument("--device", help="override every page's device (auto, cpu, cuda, mps)")
    parser.add_argument("--scheduler", metavar="ADDR", help=SCHEDULER_HELP)
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="check N pages at a time, each in a process with one torch thread "
                             "(on 2 cores, 2 such processes train small runs about twice as fast as "
                             "one process with 2 threads)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        print(f"python -m gtlib claims: --jobs must be a positive integer, got {args.jobs}", file=sys.stderr)
        return 2
    if args.jobs > 1 and (args.scheduler or os.environ.get("GTLIB_SCHEDULER")):
        print("python -m gtlib claims: --jobs and a Dask scheduler are two ways to use the cores; "
              "choose one (each job would start a cluster of its own)", file=sys.stderr)
        return 2
    every = pages.with_claims(args.scale)
    valid = [p["output"] for p in every]
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
    chosen = [p for p in every if not args.pages or p["output"] in args.pages]
    if args.record:
        args.record.mkdir(parents=True, exist_ok=True)
    surprising, produced = [], set()
    with _pool(args.jobs) as pool:
        results = pool.map(functools.partial(pages.page_verdicts, scale=args.scale, device=args.device), chosen)
        for page, (verdicts, seconds) in zip(chosen, results):  # in the manifest's order, each when done
            if args.json:
                for v in verdicts:
                    print(json.dumps({"page": page["output"], **v}, ensure_ascii=False), flush=True)
            else:
                text = verdict_text(verdicts)
                print(f"{page['output']} ({seconds:.0f} s):\n" + "\n".join(f"  {line}" for line in text.splitlines()),
                      flush=True)
            if args.record:
                save(verdicts, args.record / f"{page['output']}.verdicts.json")
            produced |= {v["id"] for v in verdicts}
            if surprises(verdicts):
                surprising.append(page["output"])
    missing = sorted(set(EXPECTED) - produced) if args.scale == "quick" and not args.pages else []
    if missing:  # a renamed claim
        print(f"{EXPECTED_FILE.name} asserts claims no page gave: {', '.join(missing)}; "
              f"given: {', '.join(sorted(produced))}", file=sys.stderr)
    if surprising:
        print(f"asserted verdicts not as expected on: {', '.join(surprising)}", file=sys.stderr)
    return 1 if missing or surprising else 0


def expected(argv: list[str]) -> int:
    """The quick-scale rule of `gtlib.claims` applied to recorded verdicts: CI asserts exactly the
    claims robust there. Prints what it asserts and how that differs from gtlib/expected_quick.json
    (--write: write the file, and each notebook's checked verdict output as it will now print)."""
    parser = argparse.ArgumentParser(prog="python -m gtlib expected",
                                     description="The claims to assert at the quick scale, from recorded verdicts.")
    parser.add_argument("folder", type=Path, metavar="DIR",
                        help="the folder of `python -m gtlib claims --scale quick --record DIR`")
    parser.add_argument("--write", action="store_true", help=f"write {EXPECTED_FILE.name}")
    args = parser.parse_args(argv)
    files = sorted(args.folder.glob("*.verdicts.json"))
    if not files:
        print(f"python -m gtlib expected: no *.verdicts.json in {args.folder}", file=sys.stderr)
        return 2
    found = [v for f in files for v in json.loads(f.read_text())]
    if any(v["scale"] != "quick" for v in found):
        print(f"python -m gtlib expected: {args.folder} holds verdicts of another scale than quick", file=sys.stderr)
        return 2
    measured = measure_expected(found)
    for claim in sorted(set(EXPECTED) | set(measured)):
        if claim not in measured:
            print(f"no longer asserted (fragile or near the band at the quick scale): {claim}")
        elif claim not in EXPECTED:
            print(f"newly asserted: {claim}: {measured[claim]['expected']}")
        elif EXPECTED[claim]["expected"] != measured[claim]["expected"]:
            print(f"asserted with another verdict: {claim}: {measured[claim]['expected']}")
    print(f"{len(measured)} of {len({v['id'] for v in found})} claims asserted at the quick scale "
          f"(robust, every seed {QUICK_MARGIN:g} bands clear)")
    if args.write:
        write_expected(measured)
        print(f"wrote {EXPECTED_FILE}")
        for notebook in pages.NOTEBOOKS:  # the verdict cell nbval compares, as it will print now
            recorded = args.folder / f"{pages.defaults_output(notebook)}.verdicts.json"
            if not recorded.exists():
                print(f"no verdicts of {notebook} at its defaults in {args.folder}: its checked output is unchanged")
                continue
            verdicts = [{**v, "expected": measured.get(v["id"], {}).get("expected")}
                        for v in json.loads(recorded.read_text())]
            if pages.set_checked_output(notebook, verdict_text(verdicts)):
                print(f"rewrote the checked output of notebooks/{notebook}")
    return 0


def band_command(argv: list[str]) -> int:
    """The rounding band from paired verdicts (gtlib.band); --write: into gtlib/rounding_band.json."""
    parser = argparse.ArgumentParser(prog="python -m gtlib band",
                                     description="The rounding band from the same claims computed twice.")
    parser.add_argument("pairs", nargs="*", type=Path, metavar="A.jsonl B.jsonl",
                        help="pairs of `python -m gtlib claims --json` outputs over the same pages "
                             "(the committed runs, then a regeneration)")
    parser.add_argument("--stores", nargs=2, type=Path, action="append", default=[], metavar=("A", "B"),
                        help="two run stores holding some of the same runs, trained apart")
    parser.add_argument("--tables", nargs="*", type=Path, default=[], metavar="MD",
                        help="run tables of earlier regenerations (benchmarks/paper_from_scratch*.md)")
    parser.add_argument("--saved", nargs="*", type=Path, default=[], metavar="CSV",
                        help="pairs saved by an earlier --write (gtlib/rounding_pairs.csv)")
    parser.add_argument("--write", action="store_true",
                        help="write gtlib/rounding_band.json and the pairs behind it, gtlib/rounding_pairs.csv")
    args = parser.parse_args(argv)
    if len(args.pairs) % 2:
        print("python -m gtlib band: give the verdict files in pairs (committed, regenerated)", file=sys.stderr)
        return 2
    read = lambda path: [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    found = [band.pairs_from_table(t) for t in args.tables]
    found += [band.pairs_from_stores(a, b) for a, b in args.stores]
    found += [band.read_pairs(path) for path in args.saved]
    found += [band.pairs_from_verdicts(read(a), read(b)) for a, b in zip(args.pairs[::2], args.pairs[1::2])]
    if not found:
        print("python -m gtlib band: give verdict pairs, --stores or --tables", file=sys.stderr)
        return 2
    sources = [*(p.name for p in args.tables), *(f"the runs of {a.name} against {b.name}" for a, b in args.stores),
               *(p.name for p in args.pairs), *(f"{p.name} (saved)" for p in args.saved)]
    pairs = pd.concat(found, ignore_index=True)
    derived = band.derive(pairs, sources)
    print(json.dumps(derived, indent=1, ensure_ascii=False))
    if args.write:
        band.write(derived, pairs)
    return 0


@contextlib.contextmanager
def _pool(jobs: int):
    """Something with ``map``: this process for one job, else ``jobs`` fresh processes with one torch
    thread each (spawned: a forked torch process can hang in its thread pool)."""
    if jobs == 1:
        yield builtins
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context, initializer=pages.one_thread) as pool:
        yield pool


def listing(argv: list[str]) -> int:
    """Print every finished run of the store roots as a table."""
    parser = argparse.ArgumentParser(prog="python -m gtlib list",
                                     description="List every finished run of the store roots.")
    parser.add_argument("roots", nargs="*", metavar="STORE",
                        help="store roots (default: the default store and the committed results/)")
    args = parser.parse_args(argv)
    store = Store(args.roots[0], tuple(args.roots[1:])) if args.roots else Store.default()
    table = store.listing()
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 100):
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


def migrate_store(argv: list[str]) -> int:
    """Re-key the schema-1 runs of a store (`gtlib.migrate`); nothing is retrained."""
    parser = argparse.ArgumentParser(prog="python -m gtlib migrate",
                                     description="Re-key the runs a schema-1 store holds (gtlib.migrate).")
    parser.add_argument("root", type=Path, metavar="STORE")
    args = parser.parse_args(argv)
    if not (args.root / "runs").is_dir():
        print(f"python -m gtlib migrate: no store at {args.root} (it has no runs/ folder)", file=sys.stderr)
        return 2
    moved = migrate(args.root)
    merged = len(moved) - len(set(moved.values()))
    print(f"{len(moved)} runs re-keyed in {args.root}" + (f", {merged} merged into a run that keeps more"
                                                           if merged else ""))
    return 0


COMMANDS = {**{name: functools.partial(family_runs, name) for name in FAMILIES}, "claims": claims,
            "expected": expected, "band": band_command, "list": listing, "migrate": migrate_store,
            "verify": verify}


def main(argv: list[str] | None = None) -> int:
    """Dispatch on the first argument: a figure family, ``claims``, ``expected``, ``band``, ``list``,
    ``migrate`` or ``verify``."""
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
