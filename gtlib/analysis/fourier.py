"""Periodicity of the network's input weights (paper §5.2, App E, Fig 8; App I, Fig 18, 19).

For the paper's MLP the input weights of the hidden neurons are the rows of W_in · W_E (``[H, p]``,
48 × 67: one row per neuron, one column per residue); for a ticket, the masked product
(W_in ⊙ m_in)(W_E ⊙ m_E). A network that has learned modular addition uses a few frequencies
k of cos(2πk a / p): each neuron's row is then nearly a single sinusoid.

For one neuron with row w over the p residues, with DFT ŵ_k, the normalised power spectrum over the
non-constant frequencies k = 1, ..., ⌊p/2⌋ is P_k = |ŵ_k|² / Σ_j |ŵ_j|². Its **Fourier entropy** is
the Shannon entropy FE = −Σ_k P_k log P_k: 0 for a pure sinusoid, log ⌊p/2⌋ for white noise. The
paper writes FE over "n = number of neurons" (ambiguous); we plot the per-neuron entropy averaged
over the neurons that are not all zero. The authors' code computes another number (SPEC §1.11):
amplitudes |ŵ_k| / (p/2) over k = 1..32, normalised to sum 1, then the cross-entropy
−Σ_k P_k log softmax(P)_k averaged over neurons; it stays just below log 32 and is one parameter away
(``variant="authors"``).

The **periodicity of a mask** (or of weights) over the residues is its *spectral concentration*:
the share of the rows' average power spectrum held by its three strongest non-constant frequencies.
Magnitude masks of periodic weights keep the residues where |Σ_i a_i cos(2πk_i a / p + φ_i)| is
large, so their rows share a few frequencies (the k_i and their sums and differences); a random mask
spreads its power evenly, about 3/33 = 0.09 for p = 67 (`random_concentration`).
"""
from __future__ import annotations

import math

import torch

VARIANTS = ("shannon", "authors")


def neuron_inputs(weights: dict[str, torch.Tensor], masks: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """W_in · W_E of the paper's MLP (``[..., H, p]``), masked if ``masks`` are given."""
    w_in, w_e = weights["W_in"], weights["W_E"]
    if masks is not None:
        w_in, w_e = w_in * masks["W_in"], w_e * masks["W_E"]
    return w_in @ w_e


def power_spectrum(rows: torch.Tensor) -> torch.Tensor:
    """|DFT|² of each row over its last axis, frequencies 1..⌊p/2⌋ (the constant term dropped)."""
    p = rows.shape[-1]
    return torch.fft.rfft(rows.double(), dim=-1).abs().pow(2)[..., 1:p // 2 + 1]


def fourier_entropy(rows: torch.Tensor, variant: str = "shannon") -> torch.Tensor:
    """The Fourier entropy of neuron rows ``[..., H, p]`` averaged over the neurons with any weight:
    the per-neuron Shannon entropy of the normalised power spectrum (``"shannon"``), or the authors'
    cross-entropy of normalised amplitudes (``"authors"``). Returns ``[...]``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown Fourier entropy variant {variant!r}; valid: {', '.join(VARIANTS)}")
    p = rows.shape[-1]
    if variant == "shannon":
        spec = power_spectrum(rows)
    else:
        spec = torch.fft.fft(rows.double(), dim=-1).abs()[..., 1:33] / (p / 2)
    total = spec.sum(-1, keepdim=True)
    alive = total.squeeze(-1) > 0
    prob = spec / total.clamp_min(torch.finfo(spec.dtype).tiny)
    if variant == "shannon":
        per_neuron = -(prob * torch.log(prob.clamp_min(1e-300))).sum(-1)
    else:
        per_neuron = -(prob * torch.log_softmax(prob, dim=-1)).sum(-1)
    per_neuron = torch.where(alive, per_neuron, torch.zeros_like(per_neuron))
    return (per_neuron.sum(-1) / alive.sum(-1).clamp_min(1)).float()


def max_entropy(p: int) -> float:
    """The Shannon Fourier entropy of white noise's flat spectrum: log ⌊p/2⌋."""
    return math.log(p // 2)


def dominant_share(rows: torch.Tensor) -> torch.Tensor:
    """Per row, the largest share of its power at one non-constant frequency (NaN for a row with no
    power)."""
    spec = power_spectrum(rows)
    total = spec.sum(-1)
    return torch.where(total > 0, spec.max(-1).values / total.clamp_min(1e-300), torch.nan)


def spectral_concentration(matrix: torch.Tensor, top: int = 3) -> float:
    """How periodic a matrix (a mask, or weights) is over the residues, its last axis: the share of
    the power spectrum of its rows (each centred, then averaged over the rows) held by the ``top``
    strongest non-constant frequencies. A random 0/1 matrix spreads its power evenly: about
    ``top / ⌊p/2⌋`` (0.09 for p = 67); rows that share a few frequencies give more."""
    m = matrix.double()
    m = m - m.mean(-1, keepdim=True)  # the constant part says nothing about periodicity
    spec = power_spectrum(m).mean(0)
    total = float(spec.sum())
    return float("nan") if total == 0 else float(spec.topk(top).values.sum()) / total


def random_concentration(shape: tuple[int, int], density: float, top: int = 3, draws: int = 8) -> float:
    """The spectral concentration of random 0/1 matrices of ``shape`` and ``density`` (mean of
    ``draws`` seeded draws): the reference a mask is compared with."""
    gen = torch.Generator().manual_seed(0)
    return sum(spectral_concentration((torch.rand(shape, generator=gen) < density).double(), top)
               for _ in range(draws)) / draws
