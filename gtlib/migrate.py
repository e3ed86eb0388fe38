"""Re-keying a run store written by schema 1 (`gtlib.config.SCHEMA`), without retraining anything.

Schema 1 left what a run keeps (its checkpoints, its probes) out of the key, and a folder could
hold more or less than its config.json said (a request for more checkpoints retrained it with the
union; a trim later dropped the weights nothing read). Schema 2 names everything a folder holds.
`migrate` rewrites each sealed schema-1 folder of a store as the schema-2 run it holds:

- its configuration keeps exactly the checkpoints whose weight files it holds (none: ``0``; θ0 and
  the last step: ``None``; otherwise the interval of the held steps) and the probes whose series
  its history holds;
- a mask is made canonical (`gtlib.config.MaskSpec`), so that one training has one configuration;
- two folders of one training (`RunConfig.training_key`) become one where one folder keeps a part
  of what the other keeps (schema 1 held the Figure 1 ticket twice: asked with ``step=None`` and
  with the explicit last step, once with its weights and once without): the smaller is removed, and
  the store serves its requests from the larger (`Store.find`). Two trainings of one run can differ
  in rounding (trained on other days, in other batches), so the larger's meta.json records the key
  of the removed copy and how far their logged series were apart (``schema1_duplicates``);
- the files are moved, not rewritten, except config.json (the new configuration), meta.json (its
  key, label and configuration, plus ``schema1_key``: the folder it came from) and checksums.json.

Folders already at schema 2 (meta.json's ``schema``) are left alone: running it twice changes nothing.
A folder is unsealed while its config.json and meta.json are rewritten, so a migration killed
halfway leaves it unfinished (not served), never wrong; run the migration of a copy of a store when
in doubt. Merging rewrites the meta.json of the folder that absorbs a copy: the one change to a sealed
folder this project makes, once, when a store changes schema.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np

from . import probes
from .config import SCHEMA, RunConfig, from_json, to_json, training_key
from .history import SERIES
from .store import CHECKSUMS, _read_history, _steps_held, is_sealed, seal, verify


def held_config(run_dir: Path) -> RunConfig:
    """The schema-2 configuration of what a sealed schema-1 folder holds."""
    cfg = from_json(json.loads((run_dir / "config.json").read_text()))
    held = _steps_held(verify(run_dir))
    every = _interval(held, cfg.steps)
    _, series = _read_history(run_dir, None)
    logged = tuple(name for name in probes.PROBES.names()
                   if probes.series_of([name]) <= set(series) - set(SERIES))
    return dataclasses.replace(cfg, checkpoint_every=every, probes=logged)


def _interval(held: list[int], steps: int) -> int | None:
    """``checkpoint_every`` whose `RunConfig.checkpoint_steps` are exactly ``held``."""
    if not held:
        return 0
    candidate = None if held == [0, steps] or len(held) < 2 else held[1] - held[0]
    if RunConfig(steps=steps, checkpoint_every=candidate).checkpoint_steps != held:
        raise ValueError(f"weights held at steps {held} match no checkpoint interval")
    return candidate


def migrate(root: str | Path) -> dict[str, str]:
    """Re-key every schema-1 run under ``root``/runs, then merge folders of one training; returns
    old key -> the key of the folder that now holds it."""
    runs = Path(root) / "runs"
    moved: dict[str, str] = {}
    for run_dir in sorted(p for p in runs.iterdir() if is_sealed(p)):
        meta = json.loads((run_dir / "meta.json").read_text())
        if meta.get("schema") == SCHEMA:
            continue
        cfg = held_config(run_dir)
        moved[run_dir.name] = cfg.key
        if is_sealed(runs / cfg.key):  # another schema-1 folder of this run, holding the same
            _absorb(run_dir, runs / cfg.key)
            continue
        _rewrite(run_dir, cfg, meta)
        os.replace(run_dir, runs / cfg.key)
    merged = _merge_subsets(runs, set(moved.values()))
    def final(key: str) -> str:  # through a chain of merges (A into B, B into C)
        return final(merged[key]) if key in merged else key

    return {old: final(new) for old, new in moved.items()}


def _rewrite(run_dir: Path, cfg: RunConfig, meta: dict) -> None:
    (run_dir / CHECKSUMS).unlink()  # unsealed while it changes: a crash leaves it unfinished
    (run_dir / "config.json").write_text(json.dumps(to_json(cfg), indent=1, sort_keys=True))
    meta = {**meta, "key": cfg.key, "label": cfg.label, "config": to_json(cfg),
            "schema": SCHEMA, "schema1_key": run_dir.name}
    (run_dir / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    seal(run_dir)


def _merge_subsets(runs: Path, migrated: set[str]) -> dict[str, str]:
    """Remove each folder just migrated whose files and series another folder of the same training
    holds too (which then serves its requests); returns removed key -> the key serving it."""
    by_training: dict[str, list[Path]] = {}
    for run_dir in sorted(p for p in runs.iterdir() if is_sealed(p)):
        by_training.setdefault(training_key(json.loads((run_dir / "config.json").read_text())),
                               []).append(run_dir)
    merged: dict[str, str] = {}
    for folders in by_training.values():
        for small in (f for f in folders if f.name in migrated):
            big = next((b for b in folders if b != small and b.name not in merged
                        and _holds_all_of(b, small)), None)
            if big is None:
                continue
            _absorb(small, big)
            merged[small.name] = big.name
    return merged


def _absorb(small: Path, big: Path) -> None:
    """Remove ``small``, a copy of a run that ``big`` holds too; ``big``'s meta.json records its
    schema-1 key and how far their logged series were apart (`_difference`)."""
    small_meta = json.loads((small / "meta.json").read_text())
    meta = json.loads((big / "meta.json").read_text())
    meta.setdefault("schema1_duplicates", {})[small_meta.get("schema1_key", small.name)] = _difference(big, small)
    (big / CHECKSUMS).unlink()
    (big / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
    seal(big)
    (small / CHECKSUMS).unlink()
    shutil.rmtree(small)


def _holds_all_of(big: Path, small: Path) -> bool:
    """Whether ``big`` keeps every file and series that ``small`` keeps, at the same steps."""
    big_sums, small_sums = verify(big), verify(small)
    (big_steps, big_series), (small_steps, small_series) = _read_history(big, None), _read_history(small, None)
    return (set(small_sums) <= set(big_sums) and np.array_equal(big_steps, small_steps)
            and set(small_series) <= set(big_series))


def _difference(big: Path, small: Path) -> str:
    """How far two copies' logged series are apart: "identical", or the largest absolute
    difference per series that differs."""
    (_, a), (_, b) = _read_history(big, None), _read_history(small, None)
    apart = {k: float(np.nanmax(np.abs(a[k] - b[k]))) for k in b
             if not np.array_equal(a[k], b[k], equal_nan=True)}
    return "identical" if not apart else "max |difference|: " + ", ".join(
        f"{k} {v:.2g}" for k, v in sorted(apart.items()))
