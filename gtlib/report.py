"""Tables for notebooks: the paper's times per run, the settings used, and each run's provenance."""
from __future__ import annotations

import dataclasses

import pandas as pd

from .store import Run
from .train import RunHistory


def timing_table(histories: dict[str, RunHistory]) -> pd.DataFrame:
    """t_mem, t_gen, their gap and τ_grok per run, with final accuracies."""
    rows = []
    for name, h in histories.items():
        gap = None if h.t_gen is None or h.t_mem is None else h.t_gen - h.t_mem
        rows.append({"run": name, "t_mem": h.t_mem, "t_gen": h.t_gen, "t_gen − t_mem": gap,
                     "τ_grok": None if h.tau_grok is None else round(h.tau_grok, 2),
                     "final train acc": round(float(h["train_acc"][-1]), 4),
                     "final test acc": round(float(h["test_acc"][-1]), 4)})
    table = pd.DataFrame(rows).set_index("run")
    # Nullable integers: a time that never came shows as <NA>, the others stay integers.
    return table.astype({"t_mem": "Int64", "t_gen": "Int64", "t_gen − t_mem": "Int64"})


def settings_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Every setting of each run (defaults included), plus how a derived run's mask was made."""
    cols = {}
    for name, run in runs.items():
        cfg = run.config
        row = {"task": cfg.task.name, **_fields(cfg.task, "task."),
               "model": cfg.model.name, **_fields(cfg.model, "model."),
               **_fields(cfg.optim, "optim."), "steps": cfg.steps, "seed": cfg.seed,
               "eval_every": cfg.eval_every}
        if cfg.mask is not None:
            row.update({"mask.pruner": cfg.mask.pruner, "mask.sparsity (removed)": cfg.mask.sparsity,
                        "mask.scored at parent step": cfg.mask.resolved_step,
                        "mask.parent": cfg.mask.parent.key, "rewound to": "parent's θ0"})
        cols[name] = {k: str(v) for k, v in row.items()}
    return pd.DataFrame(cols).fillna("")


def _fields(obj, prefix: str) -> dict:
    return {prefix + f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def provenance_table(runs: dict[str, Run]) -> pd.DataFrame:
    """Where each result came from: store key, device, wall time, code revision and versions."""
    keys = ("key", "device", "threads", "wall_seconds", "resumed_from_step", "finished", "git",
            "gtlib", "torch", "numpy", "python")
    return pd.DataFrame({name: {k: str(run.meta.get(k, "")) for k in keys}
                         for name, run in runs.items()})


def runs(groups: dict) -> dict[str, Run]:
    """Every run of `experiments.task_comparisons` groups, labelled "<group> seed <s> dense|ticket"."""
    out = {}
    for name, comparisons in groups.items():
        for c in comparisons:
            out[f"{name} seed {c.base.config.seed} dense"] = c.base
            out[f"{name} seed {c.base.config.seed} ticket"] = c.ticket
    return out


def histories(groups: dict) -> dict[str, RunHistory]:
    return {name: run.history for name, run in runs(groups).items()}


def variant_runs(variants: dict) -> dict[str, Run]:
    """Every run of `experiments.controls`, labelled "<variant> seed <s>"."""
    return {f"{name} seed {r.config.seed}": r for name, runs in variants.items() for r in runs}


def variant_histories(variants: dict) -> dict[str, RunHistory]:
    return {name: run.history for name, run in variant_runs(variants).items()}
