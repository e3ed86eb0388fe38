"""Every default that a run's identity leaves out, pinned as a literal.

A run is stored under a hash of its *non-default* settings (`gtlib.config.RunConfig.key`), so a
changed default would silently serve the stored results of the old default under the new meaning.
These tests fail on any such change. To change a default on purpose, bump `gtlib.config.SCHEMA`
(every key changes, the committed results must be regenerated or migrated) and add the new defaults
under the new schema number below; never change a value of an old entry. A *new* field whose default
keeps the old meaning (so that every stored run stays valid) is added to the current entry.
"""
import dataclasses

from gtlib.config import SCHEMA, MaskSpec, OptimConfig, RunConfig
from gtlib.edge_popup import EdgePopupConfig
from gtlib.presets import SCALES, dense_config, task_model, task_presets
from gtlib.tasks import TASKS
from gtlib.models import MODELS
from gtlib.tasks import TASKS

PINNED = {
    1: {
        "RunConfig": {"steps": 30000, "seed": 0, "eval_every": 10, "checkpoint_every": None,
                      "mask": None, "probes": (), "edge_popup": None},
        "OptimConfig": {"lr": 0.001, "weight_decay": 1.0, "betas": (0.9, 0.98)},
        "MaskSpec": {"step": None, "pruner": "magnitude", "sparsity": 0.6, "use": "mask",
                     "norm_ratio": "global"},
        "EdgePopupConfig": {"density": 0.4, "train_weights": False, "score_seed": 0},
        "task mnist": {"source": "embedded", "n_train": 1000, "n_test": None},
        "task modular": {"op": "add", "p": 67, "train_fraction": 0.4, "pairs": "a<=b"},
        "task polynomial": {"dim": 40, "n_train": 100, "n_test": 100},
        "task sparse_parity": {"n_bits": 30, "k": 3, "n_train": 1000, "n_test": 5000},
        "model deep_mlp": {"hidden": (200, 200), "bias": False, "init_scale": 1.0},
        "model mlp": {"d_emb": 500, "d_hidden": 48, "init_scale": 1.0},
        "model transformer": {"d_model": 128, "d_mlp": 128, "n_heads": 1, "positional": False,
                              "mlp_bias": False, "init_scale": 1.0},
    },
    # 2: the same defaults; the key now covers what a run keeps, and masks are canonical
    2: {
        "RunConfig": {"steps": 30000, "seed": 0, "eval_every": 10, "checkpoint_every": None,
                      "mask": None, "probes": (), "edge_popup": None},
        "OptimConfig": {"lr": 0.001, "weight_decay": 1.0, "betas": (0.9, 0.98)},
        "MaskSpec": {"step": None, "pruner": "magnitude", "sparsity": 0.6, "use": "mask",
                     "norm_ratio": "global"},
        "EdgePopupConfig": {"density": 0.4, "train_weights": False, "score_seed": 0},
        "task mnist": {"source": "embedded", "n_train": 1000, "n_test": None},
        "task modular": {"op": "add", "p": 67, "train_fraction": 0.4, "pairs": "a<=b"},
        "task polynomial": {"dim": 40, "n_train": 100, "n_test": 100},
        "task sparse_parity": {"n_bits": 30, "k": 3, "n_train": 1000, "n_test": 5000},
        "model deep_mlp": {"hidden": (200, 200), "bias": False, "init_scale": 1.0},
        "model mlp": {"d_emb": 500, "d_hidden": 48, "init_scale": 1.0},
        "model transformer": {"d_model": 128, "d_mlp": 128, "n_heads": 1, "positional": False,
                              "mlp_bias": False, "init_scale": 1.0},
    },
}

# The key of every preset's base run: a changed preset changes what a page shows, and these keys
# name committed results (the paper ones) or CI's quick runs.
PRESET_KEYS = {
    ('paper', 'modular'): "fddd1b526ba32e10",
    ('paper', 'polynomial'): "2b42258e80b0658d",
    ('paper', 'sparse_parity'): "adbf339dc75b86f0",
    ('paper', 'mnist'): "0f70cc57a5320001",
    ('quick', 'modular'): "938000ba6b958118",
    ('quick', 'polynomial'): "c06dc3d34f77ac6c",
    ('quick', 'sparse_parity'): "579de5e7b7272a51",
    ('quick', 'mnist'): "ce0b53868788f766",
}


def _defaults(cls) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def current_defaults() -> dict:
    found = {"RunConfig": {k: v for k, v in _defaults(RunConfig).items()
                           if k not in ("task", "model", "optim")},
             "OptimConfig": _defaults(OptimConfig), "MaskSpec": _defaults(MaskSpec),
             "EdgePopupConfig": _defaults(EdgePopupConfig)}
    for kind, registry in (("task", TASKS), ("model", MODELS)):
        for name in registry.names():
            found[f"{kind} {name}"] = _defaults(registry.get(name))
    return found


def test_every_default_is_pinned_under_the_current_schema():
    assert SCHEMA in PINNED, f"SCHEMA {SCHEMA} has no pinned defaults: add them above"
    assert current_defaults() == PINNED[SCHEMA]


def test_the_default_run_is_the_papers_task_model_and_optimiser():
    cfg = RunConfig()
    assert (type(cfg.task).name, type(cfg.model).name) == ("modular", "mlp")
    assert cfg.optim == OptimConfig()
    assert RunConfig().key == "5dfac90830bf4bb2"  # sha256 of {"schema": 2}, first 16 hex digits


def test_every_preset_keeps_its_key():
    found = {(scale, task): dense_config(task, scale=scale).key
             for scale in SCALES for task in TASKS}
    assert found == PRESET_KEYS


def test_every_preset_is_pinned():
    # The presets in full, so that a change shows in review even where it keeps a key.
    assert {task: task_model(task) for task in TASKS} == {
        "modular": ("mlp", {}),
        "polynomial": ("deep_mlp", {"hidden": (40, 48, 500)}),
        "sparse_parity": ("deep_mlp", {"hidden": (64,), "bias": True}),
        "mnist": ("deep_mlp", {"hidden": (200, 200), "init_scale": 8.0}),
    }
    assert {scale: {task: task_presets(task)[scale] for task in TASKS} for scale in SCALES} == {
        "paper": {
            "modular": {"steps": 30_000, "checkpoint_every": 2_000},
            "polynomial": {"steps": 8_000, "eval_every": 50, "task": {"n_train": 1000},
                           "model": {"init_scale": 3.0}, "optim": {"lr": 1e-3, "weight_decay": 0.3}},
            "sparse_parity": {"steps": 40_000, "eval_every": 100,
                              "optim": {"lr": 3e-3, "weight_decay": 0.1, "betas": (0.99, 0.98)}},
            "mnist": {"steps": 30_000, "eval_every": 250, "optim": {"weight_decay": 0.1}},
        },
        "quick": {
            "modular": {"steps": 1_500, "checkpoint_every": 250, "task": {"train_fraction": 0.5},
                        "optim": {"lr": 1e-2}},
            "polynomial": {"steps": 5_000, "eval_every": 50, "task": {"n_train": 1000},
                           "model": {"init_scale": 3.0}, "optim": {"lr": 1e-3, "weight_decay": 0.3}},
            "sparse_parity": {"steps": 5_000, "eval_every": 50, "task": {"n_train": 1500},
                              "optim": {"lr": 1e-2, "weight_decay": 0.1, "betas": (0.99, 0.98)}},
            "mnist": {"steps": 2_500, "eval_every": 25, "task": {"n_train": 500, "n_test": 1000},
                      "optim": {"weight_decay": 1.0}},
        },
    }
