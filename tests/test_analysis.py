"""Analyses with known answers: mask distances, Fourier entropy, periodicity of masks."""
import math

import pytest
import torch

from gtlib.analysis.fourier import (fourier_entropy, max_entropy, neuron_inputs, random_concentration,
                                    spectral_concentration)
from gtlib.analysis.masks import (distances_over_training, jaccard_distance, magnitude_masks,
                                  unrelated_distance)

P = 67
RESIDUES = torch.arange(P, dtype=torch.float64)


def test_jaccard_distance_of_a_mask_with_itself_is_0_and_with_its_complement_1():
    mask = (torch.rand(20, 30, generator=torch.Generator().manual_seed(0)) < 0.4).float()
    assert jaccard_distance(mask, mask) == 0.0
    assert jaccard_distance(mask, 1 - mask) == 1.0
    half = torch.tensor([1.0, 1, 0, 0])
    assert jaccard_distance(half, torch.tensor([1.0, 0, 1, 0])) == pytest.approx(1 - 1 / 3)


def test_unrelated_random_masks_sit_at_the_expected_distance():
    gen = torch.Generator().manual_seed(1)
    a, b = (torch.rand(200_000, generator=gen) < 0.4 for _ in range(2))
    assert jaccard_distance(a, b) == pytest.approx(unrelated_distance(0.4), abs=0.01)
    assert unrelated_distance(0.4) == pytest.approx(0.75)


def test_magnitude_masks_use_one_global_threshold_and_distances_follow_checkpoints():
    weights = {"A": torch.tensor([[4.0, -1.0], [0.5, 3.0]]), "B": torch.tensor([[-2.0, 0.1]])}
    masks = magnitude_masks(weights, sparsity=0.5)  # keep 3 of 6: 4, 3, -2
    assert masks["A"].tolist() == [[1, 0], [0, 1]] and masks["B"].tolist() == [[1, 0]]
    moved = {"A": torch.tensor([[4.0, -1.0], [0.5, 0.0]]), "B": torch.tensor([[-2.0, 3.5]])}
    jd = distances_over_training({0: weights, 10: weights, 20: moved}, 0.5, ["A", "B"])
    assert jd["A"] == [0.0, 0.5] and jd["B"] == [0.0, 1 - 1 / 2]


def test_fourier_entropy_of_one_frequency_is_0_and_of_white_noise_near_the_maximum():
    pure = torch.cos(2 * math.pi * 7 * RESIDUES / P)[None]
    noise = torch.randn(200, P, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert fourier_entropy(pure).item() == pytest.approx(0.0, abs=1e-6)
    # White noise: the normalised power of each frequency is about exponentially distributed, whose
    # entropy is log(33) − (1 − γ) ≈ 3.07, close to the flat spectrum's log(33) ≈ 3.50.
    euler_gamma = 0.5772156649
    assert fourier_entropy(noise).item() == pytest.approx(max_entropy(P) - (1 - euler_gamma), abs=0.05)
    assert fourier_entropy(torch.zeros(3, P)).item() == 0.0  # dead neurons are left out
    # The authors' variant stays just below log 32 for any input.
    assert 0 < fourier_entropy(noise, "authors").item() < math.log(32)
    with pytest.raises(ValueError, match="unknown Fourier entropy variant 'renyi'; valid: shannon, authors"):
        fourier_entropy(pure, "renyi")


def test_neuron_inputs_are_the_masked_product():
    gen = torch.Generator().manual_seed(3)
    w = {"W_in": torch.randn(4, 6, generator=gen), "W_E": torch.randn(6, P, generator=gen)}
    m = {"W_in": (torch.rand(4, 6, generator=gen) < 0.5).float(), "W_E": torch.ones(6, P)}
    assert torch.allclose(neuron_inputs(w, m), (w["W_in"] * m["W_in"]) @ w["W_E"])


def test_a_mask_from_a_cosine_is_periodic_and_a_random_mask_is_not():
    phases = torch.rand(300, 1, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 6.28
    periodic = (torch.cos(2 * math.pi * 3 * RESIDUES / P + phases) > 0.3).double()
    random = (torch.rand(300, P, generator=torch.Generator().manual_seed(5)) < 0.4).double()
    reference = random_concentration((300, P), 0.4)
    assert reference == pytest.approx(3 / 33, abs=0.02)
    assert spectral_concentration(periodic) > 5 * reference
    assert spectral_concentration(random) < 1.25 * reference


def test_the_fourier_entropy_probe_is_logged_during_training(store, tiny):
    import dataclasses

    from gtlib.runs import run

    probed = run(dataclasses.replace(tiny, probes=("fourier_entropy",)), store, progress=False)
    entropy = probed.history["fourier_entropy"]
    assert entropy.shape == probed.history["test_acc"].shape
    assert 0 <= entropy.min() and entropy.max() <= max_entropy(tiny.task.p) + 1e-6
    final = neuron_inputs(probed.weights(), probed.masks())
    assert entropy[-1] == pytest.approx(fourier_entropy(final).item(), rel=1e-5)


def test_the_fourier_entropy_probe_refuses_a_model_without_an_embedding(store, tiny):
    import dataclasses

    from gtlib.models import DeepMLPConfig
    from gtlib.tasks import SparseParity

    with pytest.raises(ValueError, match="probe 'fourier_entropy' applies to the model.s. mlp, not 'deep_mlp'"):
        dataclasses.replace(tiny, task=SparseParity(n_bits=6, k=2, n_train=40, n_test=40),
                            model=DeepMLPConfig(hidden=(8,)), probes=("fourier_entropy",))
    assert not store.root.exists()


def test_spectral_gaps_of_known_graphs():
    import numpy as np

    from gtlib.analysis.graphs import ramanujan_gap, weighted_spectral_gap

    # The complete bipartite graph K_{4,6}: M all ones has one singular value √24, the rest 0.
    full = np.ones((4, 6))
    assert weighted_spectral_gap(full, full) == pytest.approx(1.0)
    d_avg = 2 * 24 / 10
    assert ramanujan_gap(full) == pytest.approx(math.sqrt(2 * d_avg - 1))
    assert ramanujan_gap(full, "standard") == pytest.approx(2 * math.sqrt(d_avg - 1))
    # A 2-regular bipartite cycle C_8 (4 + 4 nodes): singular values 2, √2, √2, 0.
    cycle = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]], dtype=float)
    assert ramanujan_gap(cycle) == pytest.approx(math.sqrt(3) - math.sqrt(2))
    assert weighted_spectral_gap(cycle, cycle) == pytest.approx((2 - math.sqrt(2)) / 2)
    with pytest.raises(ValueError, match="unknown Ramanujan bound 'loose'; valid: paper, standard"):
        ramanujan_gap(cycle, "loose")


def test_path_length_and_clustering_of_known_relational_graphs():
    import numpy as np

    from gtlib.analysis.graphs import path_length_and_clustering

    # Every off-diagonal weight kept: the relational graph is complete, L = 1 and C = 1.
    complete = 1 - np.eye(5)
    assert path_length_and_clustering(complete) == pytest.approx((1.0, 1.0))
    # A path 0-1-2-3 (M[j, i] = 1 for i = j + 1): L = (1+2+3+1+2+1)·2 / 12 = 5/3, no triangles.
    path = np.eye(4, k=1)
    assert path_length_and_clustering(path) == pytest.approx((5 / 3, 0.0))


def test_the_clustering_coefficient_is_networkxs_on_random_masks():
    import networkx as nx
    import numpy as np

    from gtlib.analysis.graphs import average_clustering, relational_graph

    rng = np.random.default_rng(0)
    for shape, density in (((48, 67), 0.4), ((67, 48), 0.1), ((30, 30), 0.05)):
        graph = relational_graph(rng.random(shape) < density)
        assert average_clustering(graph) == pytest.approx(nx.average_clustering(nx.from_scipy_sparse_array(graph)),
                                                          abs=1e-12)
