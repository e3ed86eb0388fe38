import dataclasses

import pytest

from gtlib.config import MaskSpec, OptimConfig, RunConfig, derive, from_json, to_json
from gtlib.edge_popup import EdgePopupConfig
from gtlib.presets import dense_config
from gtlib.tasks import ModularArithmetic


def test_identity_is_the_non_default_fields():
    assert to_json(RunConfig()) == {}  # the paper's defaults
    assert to_json(RunConfig(seed=3, optim=OptimConfig(lr=1e-2))) == {"seed": 3, "optim": {"lr": 0.01}}
    assert to_json(RunConfig(task=ModularArithmetic(op="multiply"))) == {
        "task": {"name": "modular", "op": "multiply"}}


def test_keys_are_stable_and_change_with_any_setting():
    # Pinned: the committed paper-scale results are stored under this key. If it changes, a
    # default changed silently (bump config.SCHEMA on purpose instead).
    assert dense_config(scale="paper").key == "fddd1b526ba32e10"
    assert RunConfig().key == RunConfig().key
    variants = [RunConfig(seed=1), RunConfig(steps=100), RunConfig(optim=OptimConfig(weight_decay=0.0)),
                RunConfig(task=ModularArithmetic(pairs="a<b")), derive(RunConfig()),
                RunConfig(checkpoint_every=2000), RunConfig(checkpoint_every=0),
                RunConfig(probes=("fourier_entropy",))]
    assert len({v.key for v in variants} | {RunConfig().key}) == len(variants) + 1


def test_json_round_trip_including_derived_runs():
    ticket = derive(RunConfig(steps=500, checkpoint_every=100), sparsity=0.7, step=200, steps=300)
    assert from_json(to_json(ticket)) == ticket
    assert from_json(to_json(ticket)).key == ticket.key
    popup = derive(RunConfig(), sparsity=0.0, step=0, use="continue", edge_popup=EdgePopupConfig(score_seed=2))
    assert from_json(to_json(popup)) == popup  # as `python -m gtlib list` reads a stored config.json


def test_checkpoint_steps():
    assert RunConfig(steps=10).checkpoint_steps == [0, 10]
    assert RunConfig(steps=10, checkpoint_every=4).checkpoint_steps == [0, 4, 8, 10]


@pytest.mark.parametrize("make, message", [
    (lambda: RunConfig(steps=0), "steps must be a positive integer, got 0"),
    (lambda: RunConfig(steps=-5), "steps must be a positive integer"),
    (lambda: RunConfig(eval_every=0), "eval_every must be a positive integer"),
    (lambda: OptimConfig(lr=0), "lr must be positive"),
    (lambda: derive(RunConfig(), sparsity=1.0), r"sparsity \(fraction removed\) must lie in \[0, 1\), got 1.0"),
    (lambda: derive(RunConfig(), sparsity=-0.1), r"must lie in \[0, 1\)"),
    (lambda: derive(RunConfig(), pruner="snipp"), "unknown pruner 'snipp'; valid: grasp, magnitude, random, snip, synflow, synflow_tokens"),
    (lambda: derive(RunConfig(steps=100, checkpoint_every=50), step=70),
     "parent run has no checkpoint at step 70; its checkpoints: 0, 50, 100"),
    (lambda: RunConfig(task="modular"), "unknown task 'modular'; valid: mnist, modular, polynomial, sparse_parity"),
])
def test_invalid_settings_fail_with_one_line(make, message):
    with pytest.raises(ValueError, match=message) as err:
        make()
    assert "\n" not in str(err.value)


def test_derived_run_must_keep_parent_seed_and_task():
    parent = RunConfig()
    with pytest.raises(ValueError, match="must keep its parent's seed"):
        dataclasses.replace(parent, seed=1, mask=MaskSpec(parent))


def test_what_a_run_keeps_is_part_of_its_identity_but_not_of_its_training():
    kept, bare = RunConfig(checkpoint_every=2000), RunConfig()
    assert kept.key != bare.key and kept != bare
    assert kept.training_key == bare.training_key == RunConfig(probes=("fourier_entropy",)).training_key
    assert RunConfig(steps=100).training_key != bare.training_key
    assert RunConfig(probes=("per_matrix_norms", "fourier_entropy")) == RunConfig(
        probes=("fourier_entropy", "per_matrix_norms"))  # probes in canonical order


def test_a_mask_is_canonical_so_one_training_has_one_key():
    dense = RunConfig(checkpoint_every=2000)
    last = derive(dense, sparsity=0.6)
    assert last == derive(dense, step=30_000)
    assert last.mask == derive(RunConfig(), step=None).mask
    assert last.mask == derive(RunConfig(probes=("fourier_entropy",))).mask  # probes never matter
    assert last.mask.step == 30_000 and last.mask.parent == RunConfig()  # θ0 and the last step
    assert derive(dense, step=0).mask.parent == RunConfig()
    middle = derive(dense, step=4000)  # an intermediate mask names the parent keeping that step
    assert middle.mask.parent == dense and to_json(middle)["mask"]["step"] == 4000
    cont = derive(dense, step=4000, use="continue", sparsity=0.0, pruner="random")
    assert cont == derive(dense, step=4000, use="continue")  # no mask: no pruner or sparsity
    assert set(to_json(cont)["mask"]) == {"parent", "step", "use"}
    assert derive(dense, norm_ratio="per_matrix") == derive(dense)  # only norm controls have one
    assert derive(dense, use="l2_norm", norm_ratio="per_matrix") != derive(dense, use="l2_norm")


def test_labels_tell_runs_apart():
    cfgs = [RunConfig(), RunConfig(optim=OptimConfig(weight_decay=0.0)), RunConfig(steps=1500),
            RunConfig(checkpoint_every=2000), RunConfig(task=ModularArithmetic(train_fraction=0.5)),
            derive(RunConfig(), sparsity=0.3), derive(RunConfig(optim=OptimConfig(weight_decay=0.0)), sparsity=0.3),
            derive(RunConfig(optim=OptimConfig(weight_decay=0.0)), sparsity=0.3, optim=OptimConfig()),
            derive(RunConfig(), sparsity=0.3, checkpoint_every=0), derive(RunConfig(), use="l2_norm")]
    labels = [c.label for c in cfgs]
    assert len(set(labels)) == len(labels), labels
    assert labels[0] == "modular/mlp seed 0"
    assert labels[1] == "modular/mlp seed 0 weight_decay=0.0"
    assert labels[5] == "modular/mlp seed 0 magnitude 0.3@30000"
    assert labels[7] == "modular/mlp seed 0 magnitude 0.3@30000 of parent weight_decay=0.0"


def test_equal_configurations_have_one_key():
    assert RunConfig(optim=OptimConfig(weight_decay=0)).key == RunConfig(optim=OptimConfig(weight_decay=0.0)).key
    assert derive(RunConfig(), sparsity=0).key == derive(RunConfig(), sparsity=0.0).key
    assert RunConfig(steps=100, checkpoint_every=100) == RunConfig(steps=100)  # θ0 and the last step
    bare = RunConfig(steps=100, checkpoint_every=0)  # keeps no weights; its canonical parent does
    assert derive(bare, step=100) == derive(bare) and derive(bare, step=0) == derive(bare, step=0)
    deep = [derive(derive(RunConfig(), sparsity=s), sparsity=0.3) for s in (0.5, 0.6)]
    assert deep[0].key != deep[1].key and deep[0].label != deep[1].label
