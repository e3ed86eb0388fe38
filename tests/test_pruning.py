import pytest
import torch

from gtlib.models import MLPConfig
from gtlib.pruning import density, masks_from_scores, prune
from gtlib.tasks import ModularArithmetic


def test_one_global_threshold_over_all_matrices():
    scores = {"a": torch.tensor([[[1.0, 5.0], [3.0, 7.0]]]), "b": torch.tensor([[[2.0, 8.0]]])}
    masks = masks_from_scores(scores, sparsity=0.5)  # keep the top 3 of 6: 8, 7, 5
    assert masks["a"].tolist() == [[[0.0, 1.0], [0.0, 1.0]]]
    assert masks["b"].tolist() == [[[0.0, 1.0]]]


def test_sparsity_is_the_fraction_removed_and_exact_even_with_ties():
    scores = {"w": torch.ones(1, 10, 10)}  # every score ties
    for sparsity in (0.0, 0.3, 0.6, 0.95):
        masks = masks_from_scores(scores, sparsity)
        assert masks["w"].sum().item() == round((1 - sparsity) * 100)
        assert density(masks) == pytest.approx(1 - sparsity)


def test_each_run_is_thresholded_on_its_own():
    scores = {"w": torch.tensor([[1.0, 2.0, 3.0, 4.0], [40.0, 30.0, 20.0, 10.0]])}
    masks = masks_from_scores(scores, 0.5)
    assert masks["w"].tolist() == [[0, 0, 1, 1], [1, 1, 0, 0]]


def test_bad_sparsity_is_refused():
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\)"):
        masks_from_scores({"w": torch.ones(1, 4)}, 1.0)


@pytest.fixture
def pruned():
    data = ModularArithmetic(p=11, train_fraction=0.5).build(0)
    model = MLPConfig(d_emb=16, d_hidden=8).build(data)
    model.init_weights([0])
    masks = prune(model, data, "magnitude", 0.6)
    model.set_masks(masks)
    return model, masks, data.x_train[None]


def test_magnitude_keeps_the_largest_weights(pruned):
    model, masks, _ = pruned
    kept = torch.cat([getattr(model, n)[masks[n] == 1].abs() for n in model.weight_names])
    removed = torch.cat([getattr(model, n)[masks[n] == 0].abs() for n in model.weight_names])
    assert kept.min() >= removed.max()
    assert density(masks) == pytest.approx(0.4, abs=1e-3)


def test_pruned_weights_never_influence_the_output_nor_get_gradient(pruned):
    model, masks, x = pruned
    before = model(x).detach()
    with torch.no_grad():
        for n in model.weight_names:
            getattr(model, n).add_(torch.randn_like(getattr(model, n)) * (1 - masks[n]) * 10)
    assert torch.equal(model(x), before)
    model(x).sum().backward()
    for n in model.weight_names:
        assert torch.all(getattr(model, n).grad[masks[n] == 0] == 0)


def test_magnitude_scores_the_effective_weights(pruned):
    """Scoring a masked network ranks its pruned weights last, whatever their stored values."""
    model, masks, _ = pruned
    with torch.no_grad():
        for n in model.weight_names:
            getattr(model, n).add_((1 - masks[n]) * 100.0)  # pruned entries now the largest
    again = prune(model, None, "magnitude", 0.6)
    for n in model.weight_names:
        assert torch.equal(again[n], masks[n])


def test_unknown_pruner_names_the_valid_ones(pruned):
    model, _, _ = pruned
    with pytest.raises(ValueError, match="unknown pruner 'snap'; valid: magnitude"):
        prune(model, None, "snap", 0.5)
