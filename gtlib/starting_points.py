"""Where a run starts: the science of derived runs in one place.

A run without a mask starts from θ0, drawn from its seed. A derived run (`config.MaskSpec`) starts
from its parent's θ0 and a mask scored on the parent's weights at the mask step:

- a **ticket** (``use="mask"``, paper §2, §3.1): θ0 ⊙ m, the mask fixed during training. The mask
  keeps the weights with the highest pruner score over all prunable matrices (one global
  threshold); magnitude scores of the weights *as the parent computes with them* (θ_t ⊙ m_parent);
- a **norm-matched control** (``use="l1_norm"`` / ``"l2_norm"``, §4.1): the *dense* θ0 · r_p with
  r_p = ‖θ0 ⊙ m‖_p / ‖θ0‖_p, one scalar per run (`metrics.norm_ratio`; the authors' code divides
  sums of per-matrix norms instead, ``norm_ratio="per_matrix"``), and no mask;
- **pruning at initialisation** (§4.2): the mask is scored at step 0 of a dense parent. The
  parent's θ0 is then the run's own seeded θ0 (same task, model and seed), so the parent need not
  be trained (`needs_parent`);
- **continuing** (``use="continue"``, §5.3): the parent's weights at the step, unmasked, not
  rewound: the memorising network θ_mem from which Table 1's three optimisations start.

A run with `EdgePopupConfig` then gets its scores (`gtlib.edge_popup`), drawn from their own seed.
"""
from __future__ import annotations

import torch

from . import edge_popup, metrics
from .config import RunConfig
from .pruning import prune
from .store import Run


def build(cfg: RunConfig, device: torch.device | str = "cpu"):
    """The run's data (with a leading run axis of 1) and its model, initialised from its seed."""
    data = cfg.task.build(cfg.seed)
    model = cfg.model.build(data, n_runs=1)
    model.init_weights([cfg.seed])
    data = data.to(device)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        setattr(data, name, getattr(data, name).unsqueeze(0))
    return data, model.to(device)


def needs_parent(cfg: RunConfig) -> bool:
    """Whether the run's starting point needs its parent's stored weights (not for pruning at
    initialisation of a dense parent, whose θ0 is the run's own)."""
    spec = cfg.mask
    return spec is not None and not (spec.step == 0 and spec.parent.mask is None)


def _add_run_axis(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {n: t.unsqueeze(0) for n, t in tensors.items()}


def starting_point(cfg: RunConfig, parent: Run | None, device):
    """Data and model ready to train ``cfg``; ``parent`` is its finished parent run where
    `needs_parent` says so, else None."""
    data, model = _start(cfg, parent, device)
    if cfg.edge_popup is not None:
        edge_popup.attach(model, cfg.edge_popup, [cfg.edge_popup.score_seed])
    return data, model


def _start(cfg: RunConfig, parent: Run | None, device):
    data, model = build(cfg, device)
    spec = cfg.mask
    if spec is None:
        return data, model
    if spec.use == "continue":
        model.load_weights(_add_run_axis(parent.weights(spec.step)))
        return data, model
    if not needs_parent(cfg):
        theta0 = model.weights()
    else:
        theta0 = {n: t.to(device) for n, t in _add_run_axis(parent.weights(0)).items()}
        model.load_weights(_add_run_axis(parent.weights(spec.step)))
        model.set_masks(_add_run_axis(parent.masks()))  # score what the parent computes with
    masks = prune(model, data, spec.pruner, spec.sparsity, seed=cfg.seed)
    if spec.use == "mask":
        model.load_weights(theta0)  # rewind to θ0
        model.set_masks(masks)
        return data, model
    p = {"l1_norm": 1, "l2_norm": 2}[spec.use]
    ratio = metrics.norm_ratio(theta0, masks, p, per_matrix=spec.norm_ratio == "per_matrix")
    scale = lambda n: ratio.view(-1, *[1] * (theta0[n].dim() - 1)) if n in masks else 1.0
    model.load_weights({n: w * scale(n) for n, w in theta0.items()})
    model.set_masks({n: torch.ones_like(m) for n, m in masks.items()})
    return data, model
