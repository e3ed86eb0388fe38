"""Run configurations: a run's configuration is its whole identity.

`RunConfig` is frozen and validated on creation. Its `key` is a hash of the canonical JSON of its
*non-default* fields plus `SCHEMA`, so adding a field with a default keeps every stored result valid;
bump `SCHEMA` only when the meaning of a stored run changes. Every field is part of the identity,
what a run keeps (its checkpoints, its probes) included: a stored run holds exactly what its
configuration says, so ``==`` and ``key`` agree, and a request for more checkpoints is another run,
never a change to a stored one. Only the device and the rounding choices recorded in a run's
provenance (`gtlib.runs.provenance`) are outside it.

A derived run (a ticket, a pruned or rescaled network) carries a `MaskSpec` that names its parent
run's configuration, the checkpoint step the mask is scored at, the pruner and the sparsity, so
the store can build the chain on demand. A `MaskSpec` is canonical: one derived training has one
configuration (see `MaskSpec`).

Vocabulary: ``sparsity`` is always the fraction of weights **removed** (the paper's pruning rate);
``density = 1 - sparsity``. Training is full batch, so a *step* is the paper's *epoch*.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .edge_popup import EdgePopupConfig
from .models import MODELS, MLPConfig
from .probes import PROBES
from .pruning import PRUNERS
from .tasks import TASKS, ModularArithmetic

# 2: what a run keeps is part of its key, and masks are canonical (`gtlib.migrate` re-keyed schema 1).
SCHEMA = 2

# What a run keeps rather than computes: which weights it saves, which extra series it logs. Two
# runs that differ only in these train identically, so a stored run also serves a request that keeps
# less (`gtlib.store.Store.find`), never retrained for it.
KEPT_FIELDS = ("checkpoint_every", "probes")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with decoupled weight decay (paper §3.1: lr 1e-3, α = 1, β = (0.9, 0.98))."""

    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)

    def __post_init__(self):
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")


@dataclass(frozen=True)
class RunConfig:
    """One training run.

    ``checkpoint_every``: weights are saved at step 0 (θ0), every ``checkpoint_every`` steps and at
    the last step; ``None`` keeps only θ0 and the last step; ``0`` keeps no weights (a derived run
    whose weights no analysis reads: its θ0 is its parent's start, rebuilt exactly by
    `gtlib.starting_points`, and its history and mask are kept). ``eval_every``: train and test metrics
    (and the ``probes``, `gtlib.probes`) are logged at step 0, every ``eval_every`` steps and at the
    last step.
    """

    task: Any = field(default_factory=ModularArithmetic)
    model: Any = field(default_factory=MLPConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int = 30_000
    seed: int = 0
    eval_every: int = 10
    checkpoint_every: int | None = None
    mask: "MaskSpec | None" = None
    probes: tuple[str, ...] = ()
    edge_popup: EdgePopupConfig | None = None

    def __post_init__(self):
        for what, registry in (("task", TASKS), ("model", MODELS)):
            value = getattr(self, what)
            if not any(isinstance(value, registry.get(n)) for n in registry.names()):
                raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(registry.names())}")
        for name in ("steps", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.checkpoint_every is not None and (
                not isinstance(self.checkpoint_every, int) or self.checkpoint_every < 0):
            raise ValueError(f"checkpoint_every must be a positive integer, 0 (no weights) or None "
                             f"(θ0 and the last step), got {self.checkpoint_every!r}")
        if self.checkpoint_every is not None and self.checkpoint_every >= self.steps:
            object.__setattr__(self, "checkpoint_every", None)  # the same files: θ0 and the last step
        object.__setattr__(self, "probes", tuple(sorted(set(self.probes))))  # canonical order
        for name in self.probes:
            PROBES.get(name).check(name, self.model)
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.mask is not None:
            self.mask.check_child(self)

    @property
    def checkpoint_steps(self) -> list[int]:
        """Steps whose weights are saved: 0, every ``checkpoint_every``, and the last (none for 0)."""
        if self.checkpoint_every == 0:
            return []
        every = self.checkpoint_every or self.steps
        return sorted(set(range(0, self.steps, every)) | {0, self.steps})

    @functools.cached_property  # a frozen configuration's key never changes
    def key(self) -> str:
        blob = json.dumps({"schema": SCHEMA, **to_json(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @functools.cached_property
    def training_key(self) -> str:
        """The key of what the run computes, whatever it keeps (`KEPT_FIELDS` left out): runs with
        one training key hold the same history and weights where both keep them."""
        return training_key(to_json(self))

    @property
    def label(self) -> str:
        """A short description that tells runs apart: task, model and seed, then every field that
        differs from its default (``modular/mlp seed 0 lr=0.01 steps=1500``), then the mask and
        the parent's settings that differ from the run's own (``... ticket magnitude 0.6@30000``)."""
        text = f"{self.task.name}/{self.model.name} seed {self.seed}"
        own = _settings(self)
        text += "".join(f" {k}={v}" for k, v in own.items())
        if self.mask is not None:
            text += f" {self.mask.describe()}"
            of = _settings(self.mask.parent)
            parent = {k: v for k, v in of.items() if own.get(k) != v}
            parent.update({k: "default" for k in own if k not in of and k not in KEPT_FIELDS})
            if parent or self.mask.parent.mask is not None:
                text += " of parent" + "".join(f" {k}={v}" for k, v in parent.items())
            if self.mask.parent.mask is not None:  # a run two derivations deep
                text += f" {self.mask.parent.mask.describe()}"
        if self.edge_popup is not None:
            text += (f" edge-popup {self.edge_popup.density:g}"
                     f"{' with weights' if self.edge_popup.train_weights else ''}"
                     f" scores {self.edge_popup.score_seed}")
        return text


def _settings(cfg: RunConfig) -> dict[str, str]:
    """The non-default settings of a run, flattened to short names (``lr``, ``train_fraction``,
    ``checkpoint_every``), without the task and model names, the seed, the mask and edge-popup."""
    out: dict[str, str] = {}

    def flatten(value, name: str) -> None:
        if isinstance(value, dict):
            for k, v in sorted(value.items()):
                if k != "name":
                    flatten(v, k if k not in out else f"{name}.{k}")
        else:
            out[name] = ",".join(map(str, value)) if isinstance(value, list) else f"{value}"

    data = to_json(cfg)
    for name in ("seed", "mask", "edge_popup"):
        data.pop(name, None)
    flatten(data, "")
    return out


def training_key(config_json: dict) -> str:
    """`RunConfig.training_key` from a configuration's canonical JSON (as config.json holds it)."""
    data = {k: v for k, v in config_json.items() if k not in KEPT_FIELDS}
    blob = json.dumps({"schema": SCHEMA, **data}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


MASK_USES = ("mask", "l1_norm", "l2_norm", "continue")
NORM_RATIOS = ("global", "per_matrix")


@dataclass(frozen=True)
class MaskSpec:
    """Where a derived run's fixed mask and starting weights come from.

    The mask removes the fraction ``sparsity`` of all prunable weights with the lowest ``pruner``
    score (one global threshold), scored on the parent's weights at checkpoint ``step`` (``None``:
    its last step). Weights are then rewound to the parent's θ0 (paper §2, §3.1).

    ``use`` says what the run does with the mask: ``"mask"`` trains θ0 ⊙ m under the fixed mask (a
    ticket); ``"l1_norm"`` / ``"l2_norm"`` train the *dense* θ0 · r_p with r_p = ‖θ0 ⊙ m‖_p / ‖θ0‖_p,
    the norm-matched control of §4.1; ``"continue"`` trains on from the parent's weights at ``step``
    (no mask, no rewinding: the memorising start of Table 1). ``norm_ratio`` picks the paper's
    global ratio (``"global"``) or the authors' code's ratio of summed per-matrix norms
    (``"per_matrix"``, SPEC §1.7).

    Canonical, so that one derived training has one configuration and one key: ``step`` is stored
    resolved (``None`` becomes the parent's last step); fields that ``use`` ignores are reset to
    their defaults (``continue`` has no pruner or sparsity; only the norm controls have a
    ``norm_ratio``); and the parent is named by what the mask needs of it: no probes, and, for a
    mask scored at θ0 or at the last step, the parent keeping θ0 and its last step only
    (``checkpoint_every=None``). A mask at an intermediate step names the parent that keeps it.
    """

    parent: RunConfig
    step: int | None = None
    pruner: str = "magnitude"
    sparsity: float = 0.6
    use: str = "mask"
    norm_ratio: str = "global"

    def __post_init__(self):
        PRUNERS.get(self.pruner)
        if self.use not in MASK_USES:
            raise ValueError(f"unknown mask use {self.use!r}; valid: {', '.join(MASK_USES)}")
        if self.norm_ratio not in NORM_RATIOS:
            raise ValueError(f"unknown norm ratio {self.norm_ratio!r}; valid: {', '.join(NORM_RATIOS)}")
        if not isinstance(self.sparsity, (int, float)) or not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity (fraction removed) must lie in [0, 1), got {self.sparsity!r}")
        parent = self.parent
        if self.step not in (None, 0, parent.steps) and self.step not in parent.checkpoint_steps:
            raise ValueError(f"parent run has no checkpoint at step {self.step}; its checkpoints: "
                             f"{_short_list(parent.checkpoint_steps)}")
        step = parent.steps if self.step is None else self.step
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        canonical = {"step": step}
        if self.use == "continue":
            canonical.update(pruner=defaults["pruner"], sparsity=defaults["sparsity"])
        if self.use not in ("l1_norm", "l2_norm"):
            canonical["norm_ratio"] = defaults["norm_ratio"]
        kept = {"probes": ()}
        if step in (0, parent.steps):
            kept["checkpoint_every"] = None
        canonical["parent"] = dataclasses.replace(parent, **kept)
        for name, value in canonical.items():
            object.__setattr__(self, name, value)

    def describe(self) -> str:
        """``magnitude 0.6@30000``, ``from step 1500``, ``snip 0.6@0 l2_norm control``."""
        if self.use == "continue":
            return f"from step {self.step}"
        text = f"{self.pruner} {self.sparsity:g}@{self.step}"
        if self.use != "mask":
            text += f" {self.use} control" + (" per_matrix" if self.norm_ratio != "global" else "")
        return text

    def check_child(self, child: RunConfig) -> None:
        """A rewound run must share its parent's task, model and seed (so θ0 and split match)."""
        for name in ("task", "model", "seed"):
            if getattr(child, name) != getattr(self.parent, name):
                raise ValueError(f"a derived run must keep its parent's {name}: "
                                 f"{getattr(child, name)!r} != {getattr(self.parent, name)!r}")


def _short_list(values: list[int]) -> str:
    return ", ".join(map(str, values)) if len(values) <= 8 else (
        f"{', '.join(map(str, values[:4]))}, ..., {', '.join(map(str, values[-2:]))}")


def to_json(obj: Any) -> Any:
    """Canonical JSON of a config: non-default dataclass fields only, tasks/models with their name."""
    if dataclasses.is_dataclass(obj):
        out = {"name": obj.name} if hasattr(type(obj), "name") else {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)  # 0 and 0.0 are one setting: == says so, and so must the key
            if value != default:
                out[f.name] = to_json(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    return obj


def from_json(data: dict) -> RunConfig:
    """Inverse of `to_json` for a `RunConfig`."""
    data = dict(data)
    data.pop("schema", None)
    if "task" in data:
        params = dict(data["task"])
        name = params.pop("name")
        if name not in TASKS:  # defined outside gtlib, in a notebook (as the book's own_task page)
            raise ValueError(f"task {name!r} is not registered in this process (defined in a notebook? "
                             f"run its definition first); registered: {', '.join(TASKS.names())}")
        data["task"] = TASKS.get(name)(**params)
    if "model" in data:
        params = dict(data["model"])
        data["model"] = MODELS.get(params.pop("name"))(**params)
    if "optim" in data:
        data["optim"] = OptimConfig(**data["optim"])
    if "edge_popup" in data:
        params = dict(data["edge_popup"])
        params.pop("name", None)  # written for the reader, as for tasks and models
        data["edge_popup"] = EdgePopupConfig(**params)
    if "mask" in data:
        mask = dict(data["mask"])
        mask["parent"] = from_json(mask["parent"])
        data["mask"] = MaskSpec(**mask)
    return RunConfig(**data)


def derive(parent: RunConfig, *, sparsity: float = 0.6, step: int | None = None,
           pruner: str = "magnitude", use: str = "mask", norm_ratio: str = "global",
           **changes) -> RunConfig:
    """The run trained from the parent's θ0 under a fixed mask (or, with ``use``, its norm-matched
    dense control); ``changes`` edit the recipe (for example ``steps`` or ``optim``). With the
    magnitude pruner and the default use, this is the paper's ticket."""
    mask = MaskSpec(parent=parent, step=step, pruner=pruner, sparsity=sparsity, use=use,
                    norm_ratio=norm_ratio)
    return dataclasses.replace(parent, mask=mask, **changes)
