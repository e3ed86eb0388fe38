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
    with pytest.raises(ValueError, match="unknown model 'cnn'; valid: mlp"):
        make_model("cnn")
