"""Shared fixtures: tiny configurations that train in well under a second."""
import pytest
import torch

from gtlib.config import OptimConfig, RunConfig
from gtlib.models import MLPConfig
from gtlib.store import Store
from gtlib.tasks import ModularArithmetic

torch.set_num_threads(1)  # small models: one thread is as fast and keeps runs bit-reproducible


@pytest.fixture(autouse=True)
def no_cluster_from_the_environment(monkeypatch):
    """A GTLIB_SCHEDULER exported in the shell must not send the tests' runs to a cluster."""
    monkeypatch.delenv("GTLIB_SCHEDULER", raising=False)


def tiny_config(**changes) -> RunConfig:
    base = dict(task=ModularArithmetic(p=11, train_fraction=0.5), model=MLPConfig(d_emb=16, d_hidden=8),
                optim=OptimConfig(lr=1e-2), steps=60, eval_every=5, checkpoint_every=20)
    return RunConfig(**{**base, **changes})


@pytest.fixture
def tiny():
    return tiny_config()


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


@pytest.fixture
def fixed_band(monkeypatch):
    """A rounding band of round sizes for tests of claims on literal cases (×2 for times, ±0.02 for
    accuracies, ...), whatever gtlib/rounding_band.json measured."""
    from gtlib import claims
    from gtlib.claims import Band
    bands = {"time": Band("time", "factor", 2.0), "trajectory": Band("trajectory", "factor", 1.1),
             "structure": Band("structure", "factor", 1.1), "magnitude": Band("magnitude", "factor", 1.1),
             "accuracy": Band("accuracy", "delta", 0.02), "correlation": Band("correlation", "delta", 0.1)}
    monkeypatch.setattr(claims, "BAND", bands)
    return bands
