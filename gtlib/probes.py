"""Probes: quantities logged during training beside the standard `history.SERIES`.

A probe is computed at every logging step (every ``eval_every`` steps), from the model as it is
then, and stored with the run's history, so an analysis over training needs no checkpoints. A run
asks for probes by name (`RunConfig.probes`); which probes a run logs does not change its training,
so it is not part of the run's identity, but a stored run that lacks a requested probe is retrained.

Each registered probe is a factory: called once per training, it returns a function
``model, data, step -> {series name: tensor [R]}`` that may keep state between logging steps (for
example the previous step's mask). ``Probe.series`` names what it logs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .analysis.fourier import fourier_entropy, neuron_inputs
from .analysis.graphs import METRICS, layer_metrics
from .edge_popup import active_masks
from .models import PrunableModel
from .registry import Registry
from .tasks import Dataset

Measure = Callable[[PrunableModel, Dataset, int], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Probe:
    start: Callable[[], Measure]  # a fresh measure for one training
    series: tuple[str, ...]       # the history series it adds
    models: tuple[str, ...] | None = None  # the models it applies to (None: every model)

    def check(self, name: str, model) -> None:
        """Refuse, before anything trains, a model the probe cannot measure."""
        if self.models is not None and model.name not in self.models:
            raise ValueError(f"probe {name!r} applies to the model(s) {', '.join(self.models)}, "
                             f"not {model.name!r}")


PROBES: Registry[Probe] = Registry("probe")


def _per_matrix_norms() -> Measure:
    def measure(model: PrunableModel, data: Dataset, step: int) -> dict[str, torch.Tensor]:
        weights = [model.weight(n).flatten(1) for n in model.weight_names]
        return {"l1_per_matrix": torch.stack([w.abs().sum(1) for w in weights]).mean(0),
                "l2_per_matrix": torch.stack([w.norm(dim=1) for w in weights]).mean(0)}
    return measure


# The authors' norm curves (Fig 6, SPEC §1.7): the L1 and L2 norms of each masked matrix θ_l ⊙ m_l,
# averaged over the matrices (the standard series `l1`, `l2` are the global norms).
PROBES.register("per_matrix_norms")(Probe(_per_matrix_norms, ("l1_per_matrix", "l2_per_matrix")))


def _fourier_entropy() -> Measure:
    def measure(model: PrunableModel, data: Dataset, step: int) -> dict[str, torch.Tensor]:
        if not {"W_in", "W_E"} <= set(model.weight_names):
            raise ValueError("the fourier_entropy probe needs the paper's MLP (W_in and W_E); "
                             f"this model has {', '.join(model.weight_names)}")
        rows = neuron_inputs({n: model.weight(n) for n in ("W_in", "W_E")})  # θ ⊙ m: [R, H, p]
        return {"fourier_entropy": fourier_entropy(rows),
                "fourier_entropy_authors": fourier_entropy(rows, "authors")}
    return measure


# Fig 8: the Fourier entropy of the neurons' input weights W_in · W_E (θ ⊙ m), both variants
# (`gtlib.analysis.fourier`).
PROBES.register("fourier_entropy")(Probe(_fourier_entropy, ("fourier_entropy", "fourier_entropy_authors"),
                                         models=("mlp",)))


GRAPH_EVERY = 200


def _supermask_graphs() -> Measure:
    def measure(model: PrunableModel, data: Dataset, step: int) -> dict[str, torch.Tensor]:
        if step % GRAPH_EVERY:  # seconds each: every 200 steps is enough for Table 1's columns
            nan = torch.full((model.n_runs,), float("nan"))
            return {f"graph {m}": nan for m in METRICS}
        masks = active_masks(model) if model.score_names else model.masks()
        values = {m: [] for m in METRICS}
        for r in range(model.n_runs):
            per_layer = [layer_metrics(getattr(model, n)[r].detach().cpu().numpy(), masks[n][r].cpu().numpy())
                         for n in model.weight_names]
            for m in METRICS:
                values[m].append(sum(v[m] for v in per_layer) / len(per_layer))
        return {f"graph {m}": torch.tensor(v) for m, v in values.items()}
    return measure


# Table 1's graph rows: the graph metrics (`gtlib.analysis.graphs`) of the mask the network computes
# with (for edge-popup, the one its scores select) and its weights, averaged over the layers, every
# 200 steps (NaN in between).
PROBES.register("supermask_graphs")(Probe(_supermask_graphs, tuple(f"graph {m}" for m in METRICS)))


def series_of(names) -> set[str]:
    """Every series that the probes ``names`` log."""
    return {s for name in names for s in PROBES.get(name).series}


def start(names) -> list[Measure]:
    return [PROBES.get(name).start() for name in names]
