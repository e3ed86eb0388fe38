"""Command line: compute (or find) the runs behind a figure family and say where they are.

    python -m gtlib grokked_ticket --scale paper --seed 0
    GTLIB_STORE=results python -m gtlib grokked_ticket --scale paper   # regenerate committed results
"""
from __future__ import annotations

import argparse

from . import experiments

RECIPES = {"grokked_ticket": experiments.grokked_ticket}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gtlib", description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=sorted(RECIPES))
    parser.add_argument("--scale", default="quick", choices=experiments.SCALES)
    parser.add_argument("--seed", type=int, nargs="+", default=[0])
    parser.add_argument("--task", default="modular")
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--last-checkpoint-only", action="store_true",
                        help="keep only θ0 and the last weights on disk")
    args = parser.parse_args(argv)
    keep = {"checkpoint_every": None} if args.last_checkpoint_only else {}
    for seed in args.seed:
        result = RECIPES[args.recipe](scale=args.scale, task=args.task, model=args.model, seed=seed,
                                      device=args.device, **keep)
        for name, run in result.runs.items():
            h = run.history
            print(f"{name:8s} {run.config.label:40s} t_mem={h.t_mem} t_gen={h.t_gen} "
                  f"tau_grok={h.tau_grok} -> {run.path}")


if __name__ == "__main__":
    main()
