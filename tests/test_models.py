import pytest
import torch

from gtlib.models import MLPConfig, make_model
from gtlib.tasks import ModularArithmetic


@pytest.fixture(scope="module")
def data():
    return ModularArithmetic().build(0)


def test_paper_mlp_has_115000_weights_in_the_authors_shapes(data):
    model = MLPConfig().build(data)
    shapes = {n: tuple(getattr(model, n).shape[1:]) for n in model.weight_names}
    assert shapes == {"W_E": (500, 67), "W_in": (48, 500), "W_out": (500, 48), "W_U": (500, 67)}
    assert sum(p.numel() for p in model.parameters()) == 115_000


def test_init_std_is_kappa_over_sqrt_fan_in(data):
    model = make_model("mlp", init_scale=2.0).build(data)
    model.init_weights([0])
    for name, fan_in in {"W_E": 67, "W_in": 500, "W_out": 48, "W_U": 500}.items():
        std = getattr(model, name).std().item()
        assert std == pytest.approx(2.0 / fan_in ** 0.5, rel=0.05), name


def test_init_is_seeded_and_batched_runs_match_single_runs(data):
    batched = MLPConfig(d_emb=32, d_hidden=8).build(data, n_runs=2)
    batched.init_weights([3, 4])
    for r, seed in enumerate([3, 4]):
        single = MLPConfig(d_emb=32, d_hidden=8).build(data)
        single.init_weights([seed])
        for n in single.weight_names:
            assert torch.equal(getattr(single, n)[0], getattr(batched, n)[r])
    assert not torch.equal(batched.W_E[0], batched.W_E[1])


def test_forward_is_equation_1_with_per_token_projection(data):
    """The authors apply W_in to each token and sum; we sum the embeddings first. Same function."""
    model = MLPConfig(d_emb=32, d_hidden=8).build(data)
    model.init_weights([0])
    x = data.x_train[:50]
    a, b = x[:, 0].argmax(-1), x[:, 1].argmax(-1)
    W_E, W_in, W_out, W_U = (getattr(model, n)[0].detach() for n in model.weight_names)
    per_token = W_E[:, a].T @ W_in.T + W_E[:, b].T @ W_in.T
    expected = torch.relu(per_token) @ W_out.T @ W_U
    assert torch.allclose(model(x[None])[0], expected, atol=1e-5)


@pytest.mark.parametrize("params, message", [
    ({"d_hidden": 0}, "d_hidden must be a positive integer"),
    ({"init_scale": -1.0}, "init_scale must be positive"),
    ({"width": 3}, "valid: d_emb, d_hidden, init_scale"),
])
def test_bad_model_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        make_model("mlp", **params)


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown model 'cnn'; valid: deep_mlp, mlp, transformer"):
        make_model("cnn")


def _reference_transformer(model, x):
    """Nanda-style one-layer Transformer over both positions with a causal mask, written out."""
    W = {n: getattr(model, n)[0].detach() for n in model.param_names}
    resid = x @ W["W_E"].T                                            # [N, 2, d]
    if "W_pos" in W:
        resid = resid + W["W_pos"]
    q = torch.einsum("hed,ntd->nhte", W["W_Q"], resid)
    k = torch.einsum("hed,ntd->nhte", W["W_K"], resid)
    v = torch.einsum("hed,ntd->nhte", W["W_V"], resid)
    scores = torch.einsum("nhte,nhse->nhts", q, k) / W["W_Q"].shape[1] ** 0.5
    scores = scores.masked_fill(torch.triu(torch.ones(2, 2, dtype=torch.bool), 1), float("-inf"))
    z = torch.einsum("nhts,nhse->nthe", torch.softmax(scores, -1), v).flatten(2)
    resid = resid + z @ W["W_O"].T
    pre = resid @ W["W_in"].T + W.get("b_in", 0)
    resid = resid + torch.relu(pre) @ W["W_out"].T + W.get("b_out", 0)
    return (resid @ W["W_U"])[:, -1]


@pytest.mark.parametrize("params", [{}, {"positional": True, "mlp_bias": True, "n_heads": 4}])
def test_transformer_matches_a_written_out_causal_transformer(data, params):
    model = make_model("transformer", d_model=32, d_mlp=16, **params).build(data)
    model.init_weights([0])
    with torch.no_grad():
        for n in ("b_in", "b_out"):  # biases start at zero; make them matter here
            if hasattr(model, n):
                getattr(model, n).normal_()
    x = data.x_train[:40]
    assert torch.allclose(model(x[None])[0], _reference_transformer(model, x), atol=1e-5)
    # Inputs that are not one-hot (SynFlow's all-ones input) take the product path, not the lookup.
    for other in (torch.ones_like(x), torch.rand_like(x)):
        assert torch.allclose(model(other[None])[0], _reference_transformer(model, other), atol=1e-4)


def test_transformer_as_the_authors_ran_it(data):
    model = make_model("transformer").build(data)
    assert sum(p.numel() for p in model.parameters()) == 115_456
    assert model.weight_names == ["W_E", "W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U"]
    wide = make_model("transformer", d_model=500, positional=True, mlp_bias=True).build(data)
    assert {"W_pos", "b_in", "b_out"} <= set(wide.param_names) - set(wide.weight_names)


def test_deep_mlp_parameter_counts_of_the_paper():
    mnist = make_model("deep_mlp", hidden=(200, 200), init_scale=8.0)
    poly = make_model("deep_mlp", hidden=(40, 48, 500))
    from gtlib.tasks import make_task
    count = lambda cfg, task: sum(p.numel() for p in cfg.build(task).parameters())
    assert count(poly, make_task("polynomial").build(0)) == 28_020
    parity = make_task("sparse_parity", n_train=10, n_test=10).build(0)
    assert count(make_model("deep_mlp", hidden=(64,), bias=True), parity) == 30 * 64 + 64 + 64 * 2
    assert count(mnist, make_task("mnist").build(0)) == 198_800


def test_deep_mlp_refuses_token_inputs(data):
    with pytest.raises(ValueError, match="needs flat input vectors"):
        make_model("deep_mlp").build(data)
