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
