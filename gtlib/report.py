"""Tables for every figure family's runs (``{label: [one Run per seed]}``): the paper's times per
run, every setting, and each run's provenance."""
from __future__ import annotations

import dataclasses

import pandas as pd

from .store import Run


def flatten(runs: dict[str, list[Run]]) -> dict[str, Run]:
    """One row label per run: the variant's label, with the seed when a variant has several."""
    out = {}
    for label, group in runs.items():
        for run in group:
            out[f"{label}, seed {run.config.seed}" if len(group) > 1 else label] = run
    return out


def timing_table(runs: dict[str, list[Run]]) -> pd.DataFrame:
    """t_mem, t_gen, their gap and τ_grok per run, with final accuracies."""
    rows = []
    for name, run in flatten(runs).items():
        h = run.history
        gap = None if h.t_gen is None or h.t_mem is None else h.t_gen - h.t_mem
        rows.append({"run": name, "t_mem": h.t_mem, "t_gen": h.t_gen, "t_gen − t_mem": gap,
                     "τ_grok": None if h.tau_grok is None else round(h.tau_grok, 2),
                     "final train acc": round(float(h["train_acc"][-1]), 4),
                     "final test acc": round(float(h["test_acc"][-1]), 4)})
    table = pd.DataFrame(rows).set_index("run")
    # Nullable integers: a time that never came shows as <NA>, the others stay integers.
    return table.astype({"t_mem": "Int64", "t_gen": "Int64", "t_gen − t_mem": "Int64"})


def settings_table(runs: dict[str, list[Run]]) -> pd.DataFrame:
    """Every setting of each run (defaults included), plus how a derived run's mask was made."""
    cols = {}
    for name, run in flatten(runs).items():
        cfg = run.config
        row = {"task": cfg.task.name, **_fields(cfg.task, "task."),
               "model": cfg.model.name, **_fields(cfg.model, "model."),
               **_fields(cfg.optim, "optim."), "steps": cfg.steps, "seed": cfg.seed,
               "eval_every": cfg.eval_every}
        if cfg.mask is not None:
            row.update({"mask.pruner": cfg.mask.pruner, "mask.sparsity (removed)": cfg.mask.sparsity,
                        "mask.scored at parent step": cfg.mask.resolved_step,
                        "mask.start": cfg.mask.use, "mask.parent": cfg.mask.parent.key})
        cols[name] = {k: str(v) for k, v in row.items()}
    return pd.DataFrame(cols).fillna("")


def _fields(obj, prefix: str) -> dict:
    return {prefix + f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def provenance_table(runs: dict[str, list[Run]]) -> pd.DataFrame:
    """Where each result came from: store key, device, wall time, code revision and versions."""
    keys = ("key", "device", "threads", "wall_seconds", "resumed_from_step", "finished", "git",
            "gtlib", "torch", "numpy", "python")
    return pd.DataFrame({name: {k: str(run.meta.get(k, "")) for k in keys}
                         for name, run in flatten(runs).items()})
