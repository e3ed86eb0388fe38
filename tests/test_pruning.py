import pytest
import torch

from gtlib.models import MLPConfig
from gtlib.pruning import PRUNERS, density, masks_from_scores, prune
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
    with pytest.raises(ValueError, match="unknown pruner 'snap'; valid: grasp, magnitude, random, snip, synflow, synflow_tokens"):
        prune(model, None, "snap", 0.5)


# --- pruning at initialisation: oracles -------------------------------------------------------

def _single(hidden=(6, 5), bias=False, seed=0):
    """A tiny deep MLP on a tiny regression problem, one run."""
    from gtlib.models import make_model
    from gtlib.tasks import make_task

    data = make_task("sparse_parity", n_bits=4, k=2, n_train=12, n_test=4).build(seed)
    model = make_model("deep_mlp", hidden=hidden, bias=bias).build(data)
    model.init_weights([seed])
    data.x_train, data.y_train = data.x_train[None], data.y_train[None]  # the run axis
    return model, data


def _plain_loss(model, data):
    """The training loss written out with torch.nn.functional, from the raw weights."""
    x = data.x_train[0]
    for i, n in enumerate(model.weight_names):
        x = x @ getattr(model, n)[0].T
        if i < len(model.weight_names) - 1:
            x = torch.relu(x)
    return torch.nn.functional.cross_entropy(x.double(), data.y_train[0])


def test_snip_is_weight_times_gradient_from_plain_autograd():
    from gtlib.pruning import snip_scores

    model, data = _single()
    scores = snip_scores(model, data)
    _plain_loss(model, data).backward()
    for n in model.weight_names:
        expected = (getattr(model, n).grad * getattr(model, n)).abs().detach()
        assert torch.allclose(scores[n], expected, atol=1e-7), n


def test_grasp_is_weight_times_hessian_gradient_product():
    from gtlib.pruning import GRASP_TEMPERATURE, grasp_scores

    model, data = _single(hidden=(3,))
    names = model.weight_names
    shapes = [getattr(model, n).shape for n in names]
    flat0 = torch.cat([getattr(model, n).detach().flatten() for n in names])

    def loss_of(flat):
        x, start = data.x_train[0], 0
        for i, shape in enumerate(shapes):
            size = shape.numel()
            w = flat[start:start + size].view(shape)[0]
            start += size
            x = x @ w.T
            if i < len(shapes) - 1:
                x = torch.relu(x)
        return torch.nn.functional.cross_entropy(x.double() / GRASP_TEMPERATURE, data.y_train[0])

    flat = flat0.clone().requires_grad_()
    g = torch.autograd.grad(loss_of(flat), flat)[0]
    H = torch.autograd.functional.hessian(loss_of, flat0)
    expected = (flat0 * (H @ g.to(H.dtype)).float())
    scores = grasp_scores(model, data)
    got = torch.cat([scores[n].flatten() for n in names])
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-10)
    assert (got < 0).any() and (got > 0).any()  # signed: the sign matters for which weights stay


def test_synflow_conserves_synaptic_flow_layer_by_layer():
    """In a bias-free ReLU net with |θ| and positive inputs, every layer's scores sum to R."""
    from gtlib.pruning import synflow_scores

    model, data = _single(hidden=(6, 5, 4))
    scores = synflow_scores(model, data)
    x = torch.ones(1, 4, dtype=torch.float64)
    for n in model.weight_names:
        x = x @ getattr(model, n)[0].detach().abs().double().T
    R = x.sum().item()
    for n in model.weight_names:
        assert scores[n].sum().item() == pytest.approx(R, rel=1e-5), n


def test_iterative_synflow_reaches_the_exact_sparsity_and_differs_from_one_round():
    model, data = _single(hidden=(30, 30))
    masks = prune(model, data, "synflow", 0.9)
    assert density(masks) == pytest.approx(0.1, abs=2e-3)
    assert not model.masked  # the model's own masks are restored after scoring
    one_round = masks_from_scores(PRUNERS.get("synflow").score(model, data, 0), 0.9)
    assert any(not torch.equal(masks[n], one_round[n]) for n in masks)


def test_random_pruning_is_seeded():
    model, data = _single(hidden=(30,))
    a, b, c = (prune(model, data, "random", 0.6, seed=s) for s in (0, 0, 1))
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)
    assert density(a) == pytest.approx(0.4, abs=1e-2)
