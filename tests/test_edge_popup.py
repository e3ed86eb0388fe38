"""Edge-popup: the straight-through gradient, frozen weights, and a fixed share of each layer."""
import dataclasses

import pytest
import torch

import gtlib.train
from conftest import tiny_config
from gtlib.config import OptimConfig, derive
from gtlib.edge_popup import EdgePopupConfig, Supermask, active_masks, attach, top_mask
from gtlib.runs import run
from gtlib.starting_points import build


def test_top_mask_keeps_the_largest_scores_of_each_layer():
    scores = torch.tensor([[[0.1, -0.9], [0.5, 0.2], [-0.3, 0.05]]])  # one run, 6 scores
    assert top_mask(scores, 0.5).tolist() == [[[0, 1], [1, 0], [1, 0]]]


def test_the_straight_through_gradient_of_a_score_is_the_weights_gradient_times_the_weight():
    # One layer y = (w ⊙ h(s)) · x with loss L = y: ∂L/∂(w h) = x, so ∂L/∂s = x · w for every weight,
    # kept or not (the paper's s_ij ← s_ij − α ∂L/∂I_j Z_i w_ij).
    class Layer(torch.nn.Module):
        weight_names = ["W"]

        def __init__(self):
            super().__init__()
            self.W = torch.nn.Parameter(torch.tensor([[[2.0, -3.0, 0.5, 4.0]]]))
            self.score_W = torch.nn.Parameter(torch.tensor([[[0.9, 0.1, 0.8, 0.2]]]))

    layer = Layer()
    x = torch.tensor([1.0, 2.0, 3.0, -1.0])
    effective = Supermask(0.5)(layer, "W", layer.W)
    assert effective.detach().tolist() == [[[2.0, 0.0, 0.5, 0.0]]]  # the two largest scores kept
    (effective[0, 0] @ x).backward()
    assert layer.score_W.grad.tolist() == [[[2.0, -6.0, 1.5, -4.0]]]
    assert layer.W.grad.tolist() == [[[1.0, 0.0, 3.0, -0.0]]]


def test_frozen_weights_do_not_change_and_each_layer_keeps_its_share_at_every_step(store, monkeypatch):
    parent = tiny_config()
    frozen = derive(parent, sparsity=0.0, step=20, use="continue", steps=30, checkpoint_every=10,
                    optim=OptimConfig(lr=1e-2, weight_decay=1.0),
                    edge_popup=EdgePopupConfig(density=0.4, train_weights=False, score_seed=3))
    shares = []
    real_train = gtlib.runs.train

    def watching(model, *args, **kwargs):
        def check(*_):
            if not model.score_names:  # the memorising parent trains first, without scores
                return
            for name, mask in active_masks(model).items():
                shares.append(mask.mean().item() * mask[0].numel() / round(0.4 * mask[0].numel()))
        model.register_forward_hook(check)
        return real_train(model, *args, **kwargs)

    monkeypatch.setattr(gtlib.runs, "train", watching)
    result = run(frozen, store, progress=False)
    theta_mem = store.load(parent).weights(20)
    for step in result.checkpoint_steps:
        weights = result.weights(step)
        for name in result.masks():
            assert torch.equal(weights[name], theta_mem[name]), (name, step)  # never updated
    assert shares and all(s == pytest.approx(1.0) for s in shares)
    # The scores did learn, and they are what the masks come from.
    assert not torch.equal(result.weights(0)["score_W_E"], result.weights()["score_W_E"])


def test_scores_are_drawn_from_their_own_seed_and_weights_can_train_too(store):
    data, model = build(tiny_config())
    attach(model, EdgePopupConfig(train_weights=True), score_seeds=[5])
    first = model.score_W_in.detach().clone()
    _, again = build(tiny_config())
    attach(again, EdgePopupConfig(train_weights=True), score_seeds=[5])
    assert torch.equal(first, again.score_W_in) and model.W_in.requires_grad
    bound = 1 / model.fan_in["W_in"] ** 0.5
    assert first.abs().max() <= bound
    with pytest.raises(ValueError, match="edge-popup density .fraction kept. must lie in .0, 1.. got 1.5"):
        EdgePopupConfig(density=1.5)
    assert dataclasses.replace(tiny_config(), edge_popup=EdgePopupConfig()).key != tiny_config().key
