"""The committed results are reproducible: recompute one cheap committed run from scratch.

The tiny base run and its ticket below are committed under results/ like the paper-scale runs. To
regenerate them after an intended change of training semantics:

    python -c "import sys; sys.path.insert(0, 'tests'); \
        import test_results as t; t.regenerate()"
"""
import numpy as np
import pytest
import torch

from conftest import tiny_config
from gtlib.config import derive
from gtlib.runs import run
from gtlib.store import REPO_ROOT, Store

COMMITTED = derive(tiny_config(), sparsity=0.6)  # its parent, tiny_config(), is committed too


def regenerate():
    torch.set_num_threads(1)
    run(COMMITTED, Store(REPO_ROOT / "results"), progress=False)


def test_a_committed_result_is_recomputed_exactly(store):
    committed = Store(REPO_ROOT / "results").load(COMMITTED)
    assert committed is not None, "committed tiny result missing; see this module's docstring"
    fresh = run(COMMITTED, store, progress=False)  # trains parent and ticket from scratch
    assert fresh.path != committed.path
    assert committed.meta["config"] == fresh.meta["config"]
    for name, values in committed.history.series.items():
        np.testing.assert_allclose(fresh.history[name], values, rtol=1e-5, atol=1e-6, err_msg=name)
    for n, mask in committed.masks().items():
        assert torch.equal(fresh.masks()[n], mask)
