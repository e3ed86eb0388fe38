import numpy as np
import pytest
import torch

from conftest import tiny_config
from gtlib.starting_points import build
from gtlib.train import resolve_device, train


def _train(cfg, **kwargs):
    data, model = build(cfg)
    return train(model, data, cfg.optim, cfg.steps, cfg.eval_every, **kwargs), model


def test_logs_at_zero_every_interval_and_the_last_step():
    history, _ = _train(tiny_config(steps=23, eval_every=5))
    assert history.steps == [0, 5, 10, 15, 20, 23]


def test_same_seed_same_history_other_seed_other_history():
    a, _ = _train(tiny_config())
    b, _ = _train(tiny_config())
    c, _ = _train(tiny_config(seed=1))
    assert a.series == b.series
    assert a.series["train_loss"] != c.series["train_loss"]


def test_training_fits_the_training_set():
    history, _ = _train(tiny_config(steps=200))
    run = history.run(0)
    assert run["train_acc"][-1] == 1.0
    assert run["train_loss"][-1] < run["train_loss"][0] / 10


def test_a_batched_run_equals_the_same_runs_one_by_one():
    """Two seeds with the same split (same task seed) trained as one computation."""
    cfg = tiny_config()
    data, _ = build(cfg)
    model = cfg.model.build(cfg.task.build(0), n_runs=2)
    model.init_weights([0, 1])
    batched = train(model, data, cfg.optim, cfg.steps, cfg.eval_every)
    for r, seed in enumerate([0, 1]):
        data_r, single = build(cfg)
        single.init_weights([seed])
        alone = train(single, data_r, cfg.optim, cfg.steps, cfg.eval_every).run(0)
        for name, values in batched.run(r).series.items():
            np.testing.assert_allclose(values, alone[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_resuming_from_a_saved_state_repeats_the_uninterrupted_run():
    cfg = tiny_config()
    states = {}
    full, model_full = _train(cfg, checkpoint_steps=cfg.checkpoint_steps,
                              on_checkpoint=lambda step, w, state: states.setdefault(step, state))
    data, model = build(cfg)
    resumed = train(model, data, cfg.optim, cfg.steps, cfg.eval_every, resume=states[40])
    assert resumed.series == full.series and resumed.steps == full.steps
    for n in model.weight_names:
        assert torch.equal(getattr(model, n), getattr(model_full, n))


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="valid: auto, cpu, cuda, cuda:N, mps"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' is not available on this machine; valid here: auto, cpu"):
            resolve_device("cuda")
