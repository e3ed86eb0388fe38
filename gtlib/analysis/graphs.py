"""Graph metrics of a pruned layer (paper §5.2, App J, App K; Fig 9, Fig 20, Table 1).

The paper gives no construction and the authors' code has none (SPEC §1.12). We take, for a layer
with mask M (``[out, in]``) and weights W:

- the **bipartite graph** of the layer, adjacency [[0, M], [Mᵀ, 0]] on out + in nodes. Its
  eigenvalues are ± the singular values σ_1 ≥ σ_2 ≥ ... of M, so the largest is σ_1 and the largest
  non-trivial one (after ±σ_1) is σ_2.
  - **Ramanujan gap** Δ_r = √(2·d_avg − 1) − σ_2(M), with d_avg the average degree 2·nnz(M) /
    (out + in): the paper's form (App J, after Hoang et al.); the standard Ramanujan bound
    2√(d_avg − 1) is one parameter away (``bound="standard"``).
  - **weighted spectral gap** (σ_1 − σ_2) / σ_1 of |W ⊙ M|: normalised by σ_1, as the scale of
    Table 1 (0.36-0.81) suggests (SPEC §1.12's calibration);
- the **relational graph** (You et al. 2020): input unit i and output unit i are one node, and each
  kept weight M[j, i] is an undirected edge (j, i); on it, the **average shortest-path length** L
  (over the pairs of its largest connected component, `scipy.sparse.csgraph`) and the **average
  clustering coefficient** C (networkx's definition, counted with sparse products: a node's
  triangles are the diagonal of A³ / 2, twenty times faster than `networkx.average_clustering` on
  these graphs; the tests compare the two).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, shortest_path

BOUNDS = ("paper", "standard")


def singular_values(matrix: np.ndarray, k: int = 2) -> np.ndarray:
    """The ``k`` largest singular values of a dense matrix."""
    return np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)[:k]


def ramanujan_gap(mask: np.ndarray, bound: str = "paper") -> float:
    """√(2 d_avg − 1) − σ_2(M) (``"paper"``) or 2√(d_avg − 1) − σ_2(M) (``"standard"``)."""
    if bound not in BOUNDS:
        raise ValueError(f"unknown Ramanujan bound {bound!r}; valid: {', '.join(BOUNDS)}")
    mask = np.asarray(mask, dtype=np.float64)
    d_avg = 2 * mask.sum() / sum(mask.shape)
    edge = math.sqrt(max(2 * d_avg - 1, 0)) if bound == "paper" else 2 * math.sqrt(max(d_avg - 1, 0))
    return edge - float(singular_values(mask)[1])


def weighted_spectral_gap(weights: np.ndarray, mask: np.ndarray) -> float:
    """(σ_1 − σ_2) / σ_1 of |W ⊙ M| (0 for an empty layer)."""
    s1, s2 = singular_values(np.abs(np.asarray(weights) * np.asarray(mask)))
    return 0.0 if s1 == 0 else float((s1 - s2) / s1)


def relational_graph(mask: np.ndarray) -> sp.csr_matrix:
    """The undirected relational graph of a layer: nodes 0..max(out, in) − 1, an edge (j, i) for
    every kept weight M[j, i] (self-loops dropped)."""
    mask = np.asarray(mask) != 0
    n = max(mask.shape)
    rows, cols = np.nonzero(mask)
    keep = rows != cols
    a = sp.coo_matrix((np.ones(keep.sum()), (rows[keep], cols[keep])), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).astype(np.float64)
    return a


def path_length_and_clustering(mask: np.ndarray) -> tuple[float, float]:
    """Average shortest-path length L over the pairs of the largest connected component, and the
    average clustering coefficient C, of the layer's relational graph."""
    graph = relational_graph(mask)
    _, labels = connected_components(graph, directed=False)
    largest = np.flatnonzero(labels == np.bincount(labels).argmax())
    sub = graph[largest][:, largest]
    n = sub.shape[0]
    if n < 2:
        return 0.0, 0.0
    dist = shortest_path(sub, method="D", directed=False, unweighted=True)
    length = float(dist[np.isfinite(dist)].sum() / (n * (n - 1)))
    return length, average_clustering(graph)


def average_clustering(graph: sp.csr_matrix) -> float:
    """The mean over all nodes of C_i = 2 T_i / (k_i (k_i − 1)), T_i the triangles through node i and
    k_i its degree (0 where k_i < 2), for a symmetric 0/1 adjacency without self-loops."""
    triangles = np.asarray((graph @ graph).multiply(graph).sum(axis=1)).ravel() / 2
    degree = np.asarray(graph.sum(axis=1)).ravel()
    pairs = degree * (degree - 1)
    local = np.divide(2 * triangles, pairs, out=np.zeros_like(triangles), where=pairs > 0)
    return float(local.mean()) if len(local) else 0.0


METRICS = ("weighted spectral gap", "Ramanujan gap", "average path length", "clustering coefficient")


def layer_metrics(weights: np.ndarray, mask: np.ndarray, bound: str = "paper") -> dict[str, float]:
    """Every metric of one layer (`METRICS`)."""
    length, clustering = path_length_and_clustering(mask)
    return {"weighted spectral gap": weighted_spectral_gap(weights, mask),
            "Ramanujan gap": ramanujan_gap(mask, bound),
            "average path length": length, "clustering coefficient": clustering}
