"""Recipes: presets, and bad input refused before any work, leaving nothing in the store."""
import pytest

from gtlib.experiments import as_kind, base_config, controls, grokked_ticket, sparsity_sweep, ticket_step_sweep


def test_paper_preset_is_the_papers_recipe():
    cfg = base_config(scale="paper")
    assert (cfg.task.p, cfg.task.train_fraction, cfg.task.op) == (67, 0.4, "add")
    assert (cfg.model.d_emb, cfg.model.d_hidden, cfg.model.init_scale) == (500, 48, 1.0)
    assert (cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.betas) == (1e-3, 1.0, (0.9, 0.98))
    assert cfg.steps == 30_000 and cfg.checkpoint_steps[:3] == [0, 2000, 4000]


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "parity"}, "unknown task 'parity'; valid: mnist, modular, polynomial, sparse_parity"),
    ({"model": "cnn"}, "unknown model 'cnn'; valid: deep_mlp, mlp, transformer"),
    ({"scale": "huge"}, "unknown scale 'huge'; valid: quick, paper"),
    ({"sparsity": 1.2}, "must lie in [0, 1), got 1.2"),
    ({"ticket_step": 123}, "parent run has no checkpoint at step 123; its checkpoints: 0, 250, 500, 750, 1000, 1250, 1500"),
    ({"task_params": {"p": 1}}, "modulus p must be an integer >= 2"),
    ({"task_params": {"q": 5}}, "unknown parameter(s) 'q' for task 'modular'"),
])
def test_bad_input_fails_at_once_and_leaves_nothing(store, kwargs, message):
    with pytest.raises(ValueError) as err:
        grokked_ticket(store=store, progress=False, **kwargs)
    assert message in str(err.value)
    assert not store.root.exists()


def test_a_non_positive_step_count_is_refused():
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        base_config(steps=0)


@pytest.mark.parametrize("call, message", [
    (lambda s: controls(store=s, progress=False, pruners=["random", "obd"]),
     "unknown pruner 'obd'; valid:"),
    (lambda s: controls(store=s, progress=False, norm_ratio="layer"),
     "unknown norm ratio 'layer'; valid: global, per_matrix"),
    (lambda s: sparsity_sweep(store=s, progress=False, sparsities=[0.5, 1.0]),
     "must lie in [0, 1), got 1.0"),
    (lambda s: sparsity_sweep(store=s, progress=False, sparsities=[-0.1, 0.5]),
     "must lie in [0, 1), got -0.1"),
    (lambda s: ticket_step_sweep(store=s, progress=False, every=0), "checkpoint_every"),
])
def test_sweeps_refuse_bad_input_before_training_anything(store, call, message):
    with pytest.raises(ValueError) as err:
        call(store)
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert not store.root.exists()


def test_lists_given_as_text_on_a_command_line_are_read_as_lists():
    # papermill -p seeds "[0, 1, 2]" passes the text; every sweep reads it as the list.
    assert as_kind("seeds", "[0, 1, 2]", list) == [0, 1, 2]
    assert as_kind("task_params", "{'p': 5}", dict) == {"p": 5}
    assert as_kind("sparsities", (0.1, 0.2), list) == [0.1, 0.2]
    with pytest.raises(ValueError, match=r"seeds must be a list, got '\[0, 1'"):
        as_kind("seeds", "[0, 1", list)
    with pytest.raises(ValueError, match="pruners must be a list, got 'snip'"):
        controls(pruners="snip", progress=False)
