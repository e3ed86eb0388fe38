"""Analyses of weights and masks: pure functions of tensors, no training and no disk.

- `masks`: magnitude masks of a checkpoint and the Jaccard distance between masks (Fig 7, 15);
- `fourier`: the neurons' input weights over the residues, their spectra, the Fourier entropy
  (Fig 8) and how periodic a mask is (Fig 18, 19).
"""
