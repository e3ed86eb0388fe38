"""Tables for every figure family's result (a family's ``Result``, whose ``labelled()`` names its
runs: ``{label: [one Run per seed]}``): the paper's times per run, every setting, each run's
provenance, and the strip at the top of a book page."""
from __future__ import annotations

import dataclasses

from . import blocks
from .store import Run


def flatten(result) -> dict[str, Run]:
    """One row label per run of a family's result: the variant's label, with the seed when a
    variant has several."""
    out = {}
    for label, group in result.labelled().items():
        for run in group:
            out[f"{label}, seed {run.config.seed}" if len(group) > 1 else label] = run
    return out


def _time(t) -> str:
    return "never" if t is None else f"{t:,}"


def timing_table(result) -> blocks.Block:
    """t_mem, t_gen, their gap and τ_grok per run, with final accuracies ("never": not reached)."""
    rows = []
    for name, run in flatten(result).items():
        h = run.history
        gap = None if h.t_gen is None or h.t_mem is None else h.t_gen - h.t_mem
        rows.append({"run": name, "t_mem": _time(h.t_mem), "t_gen": _time(h.t_gen),
                     "t_gen − t_mem": _time(gap),
                     "τ_grok": "never" if h.tau_grok is None else f"{h.tau_grok:.2f}",
                     "final train acc": f"{float(h['train_acc'][-1]):.4f}",
                     "final test acc": f"{float(h['test_acc'][-1]):.4f}"})
    return blocks.table(rows, numeric=tuple(k for k in rows[0] if k != "run"))


def _settings(run: Run) -> dict[str, str]:
    cfg = run.config
    row = {"task": cfg.task.name, **_fields(cfg.task, "task."),
           "model": cfg.model.name, **_fields(cfg.model, "model."),
           **_fields(cfg.optim, "optim."), "steps": cfg.steps, "seed": cfg.seed,
           "eval_every": cfg.eval_every}
    if cfg.mask is not None:
        row.update({"mask.pruner": cfg.mask.pruner, "mask.sparsity (removed)": cfg.mask.sparsity,
                    "mask.scored at parent step": cfg.mask.step,
                    "mask.start": cfg.mask.use, "mask.parent": cfg.mask.parent.key})
    return {k: str(v) for k, v in row.items()}


def settings_table(result) -> blocks.Block:
    """Every setting of the runs (defaults included), folded: the settings all runs share in one
    table, and per run only those that differ (how a derived run's mask was made among them)."""
    per_run = {name: _settings(run) for name, run in flatten(result).items()}
    keys = list(dict.fromkeys(k for row in per_run.values() for k in row))
    shared = [k for k in keys if len({row.get(k) for row in per_run.values()}) == 1]
    common = blocks.table([{"setting": k, "value": next(iter(per_run.values()))[k]} for k in shared])
    differ = [k for k in keys if k not in shared]
    parts = [blocks.paragraph("Shared by every run:", "Shared by every run:"), common]
    if differ:
        parts += [blocks.paragraph("Per run, where they differ:", "Per run, where they differ:"),
                  blocks.table([{"run": name, **{k: row.get(k, "") for k in differ}}
                                for name, row in per_run.items()])]
    return blocks.details(f"Settings of the {len(per_run)} runs (click to unfold)", *parts)


def _fields(obj, prefix: str) -> dict:
    return {prefix + f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _commit(run: Run) -> str:
    """The short commit a run was trained from, ``-dirty`` if its files differed from it."""
    git = str(run.meta.get("git", "unknown"))
    return git[:10] + ("-dirty" if git.endswith("-dirty") else "")


def _share(run: Run) -> float:
    """A run's share of its batch's wall time (runs trained together split it evenly)."""
    return run.meta.get("wall_seconds", 0.0) / run.meta.get("batch_size", 1)


def provenance_table(result) -> blocks.Block:
    """Where each result came from, folded: per run its store key, device, threads, batch, wall
    time, finish time and code revision, and the library versions; what every run shares is said
    once above the table, so the table keeps only what tells runs apart."""
    flat = flatten(result)
    rows = [{"run": name, "key": r.meta.get("key", ""), "device": r.meta.get("device", ""),
             "threads": r.meta.get("threads", ""), "batch": r.meta.get("batch_size", 1),
             "wall s (batch)": f"{r.meta.get('wall_seconds', 0):,.0f}",
             "resumed from": r.meta.get("resumed_from_step") or "",
             "finished": str(r.meta.get("finished", ""))[:16].replace("T", " "),
             "code": _commit(r), **{k: r.meta.get(k, "") for k in ("gtlib", "torch", "numpy", "python")}}
            for name, r in flat.items()]
    if not rows:
        return blocks.paragraph("No runs.", "No runs.")
    if len(rows) == 1:  # one run: a column per field would run off the page
        table = blocks.table([{"": c, "value": v} for c, v in rows[0].items() if v != ""])
        return blocks.details("Provenance of the run (click to unfold)", table)
    shared = {c: rows[0][c] for c in list(rows[0])[2:] if len({str(r[c]) for r in rows}) == 1}
    rows = [{c: v for c, v in row.items() if c not in shared} for row in rows]
    said = ", ".join(f"{c} {v}" for c, v in shared.items() if v != "")
    line = f"Every run: {said}." if said else "Where each run came from:"
    return blocks.details(f"Provenance of the {len(flat)} runs (click to unfold)",
                          blocks.paragraph(blocks.esc(line), line),
                          blocks.table(rows, numeric=("threads", "batch", "wall s (batch)", "resumed from")))


def strip(result, command: str) -> blocks.Block:
    """The line at the top of a book page: the commit the runs came from, their total training time
    and the command that regenerates the page."""
    flat = {run.meta.get("key"): run for run in flatten(result).values()}.values()
    commits = sorted({_commit(r) for r in flat})
    seconds = sum(_share(r) for r in flat)
    devices = sorted({str(r.meta.get("device", "?")) for r in flat})
    when = "{:.0f} min".format(seconds / 60) if seconds >= 60 else f"{seconds:.0f} s"
    parts = [f"<b>{len(flat)} runs</b>, trained in {when} in all on {blocks.esc(', '.join(devices))}",
             f"code: {blocks.esc(', '.join(commits))}",
             f"regenerate: <code>{blocks.esc(command)}</code>"]
    text = f"{len(flat)} runs, trained in {when} on {', '.join(devices)}; code {', '.join(commits)}; {command}"
    return blocks.paragraph(" · ".join(parts), text, cls="gt-strip")
